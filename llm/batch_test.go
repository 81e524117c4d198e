package llm

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ragtune/model/qwen2"
	"ragtune/quant"
	"ragtune/tokenizer"
)

// loadTinyQ8 is the tiny model as a Q8_0 GGUF: the int8 tile kernels,
// whose per-token results do not depend on what shares a step, so batched
// and one-by-one generations must agree token for token.
func loadTinyQ8(t *testing.T, opts LocalOptions) *Local {
	t.Helper()
	if !quant.PackedAvailable() {
		restore, err := quant.UseKernels("go-tiles")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(restore)
	}
	dir := tinyModelDir(t)
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny-q8_0.gguf")
	err = qwen2.Quantize(dir, path, qwen2.QuantizeOptions{Mix: quant.MixQ8_0, Pure: true,
		Tokenizer: func() (map[string]any, error) { return tok.GGUFMetadata(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	l, err := LoadLocal(path, LoadOptions{LocalOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestBatchedGreedyMatchesSequential: eight requests decoding together,
// prompts of different lengths prefilling while others decode, give the
// tokens each gives alone.
func TestBatchedGreedyMatchesSequential(t *testing.T) {
	l := loadTinyQ8(t, LocalOptions{Parallel: 8, PrefillChunk: 8})
	prompts := []string{"alpha", "你好世界，今天天气很好", "gamma delta", "e", "the quick brown fox jumps over the lazy dog",
		"1 2 3 4 5 6", "zeta eta theta iota kappa", "λ"}
	req := func(i int) Request {
		return Request{Prompt: prompts[i], MaxTokens: 12 + 3*i, Sampling: &Sampling{}}
	}
	want := make([][]int, len(prompts))
	for i := range prompts {
		res, err := l.Generate(context.Background(), req(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = res.TokenIDs
	}
	before := l.Stats()
	got := make([][]int, len(prompts))
	// Every request waits at its first token until all have one (or a
	// moment has passed: a request whose first token is EOS never calls
	// back), so the decode steps after it hold them all whatever the
	// goroutines' timing.
	var wg, first sync.WaitGroup
	first.Add(len(prompts))
	all := make(chan struct{})
	go func() { first.Wait(); close(all) }()
	for i := range prompts {
		wg.Go(func() {
			var once sync.Once
			res, err := l.Generate(context.Background(), req(i), func(Token) error {
				once.Do(func() {
					first.Done()
					select {
					case <-all:
					case <-time.After(5 * time.Second):
					}
				})
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = res.TokenIDs
		})
	}
	wg.Wait()
	for i := range prompts {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("%q: batched %v, alone %v", prompts[i], got[i], want[i])
		}
	}
	st := l.Stats()
	if st.MaxSeqs < 2 || st.Steps == before.Steps {
		t.Errorf("stats %+v: no step held more than one sequence", st)
	}
}

// TestBatchedCancellation: a request cancelled mid-flight leaves at the
// next step with its partial output; the others finish as they would alone
// and the freed slot serves the next request.
func TestBatchedCancellation(t *testing.T) {
	l := loadTinyQ8(t, LocalOptions{Parallel: 3})
	req := func(p string) Request { return Request{Prompt: p, MaxTokens: 20, Sampling: &Sampling{}} }
	alone := map[string][]int{}
	for _, p := range []string{"one", "two"} {
		res, err := l.Generate(context.Background(), req(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		alone[p] = res.TokenIDs
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	results := map[string][]int{}
	var mu sync.Mutex
	for _, p := range []string{"one", "two"} {
		wg.Go(func() {
			res, err := l.Generate(context.Background(), req(p), nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			results[p] = res.TokenIDs
			mu.Unlock()
		})
	}
	n := 0
	res, err := l.Generate(ctx, Request{Prompt: "three", MaxTokens: 1000, Sampling: &Sampling{}}, func(Token) error {
		if n++; n == 3 {
			cancel()
		}
		return nil
	})
	wg.Wait()
	if !errors.Is(err, context.Canceled) || res.FinishReason != FinishCancelled || res.CompletionTokens > 4 {
		t.Errorf("cancelled request: %d tokens, finish %q, err %v; want at most 4, cancelled, context.Canceled", res.CompletionTokens, res.FinishReason, err)
	}
	for p, w := range alone {
		if !slices.Equal(results[p], w) {
			t.Errorf("%q next to a cancelled request: %v, alone %v", p, results[p], w)
		}
	}
	again, err := l.Generate(context.Background(), req("one"), nil)
	if err != nil || !slices.Equal(again.TokenIDs, alone["one"]) {
		t.Errorf("after the cancellation: %v, %v; want %v", again.TokenIDs, err, alone["one"])
	}
}

// TestPrefixSharedAcrossSlots: a request whose prompt starts with what a
// busy slot holds copies those KV rows into its own slot instead of
// recomputing them, and generates what it generates computing them.
func TestPrefixSharedAcrossSlots(t *testing.T) {
	system := strings.Repeat("You answer from the passages. ", 3)
	first := Request{Prompt: system + "Q: one?", MaxTokens: 40, Sampling: &Sampling{}}
	second := Request{Prompt: system + "Q: two?", MaxTokens: 10, Sampling: &Sampling{}}

	fresh := loadTinyQ8(t, LocalOptions{Parallel: 2})
	want, err := fresh.Generate(context.Background(), second, nil)
	if err != nil {
		t.Fatal(err)
	}

	l := loadTinyQ8(t, LocalOptions{Parallel: 2})
	prompt, err := l.Prompt(first)
	if err != nil {
		t.Fatal(err)
	}
	shared := commonPrefix(prompt, must(l.Prompt(second)))
	// The first request holds its slot (blocked in its callback) while
	// the second runs in the other one.
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	done := make(chan error)
	go func() {
		_, err := l.Generate(context.Background(), first, func(Token) error {
			once.Do(func() { close(started); <-release })
			return nil
		})
		done <- err
	}()
	<-started
	got, err := l.Generate(context.Background(), second, nil)
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got.CachedTokens != shared {
		t.Errorf("second request reused %d prompt tokens, want the %d it shares with the busy slot", got.CachedTokens, shared)
	}
	if !slices.Equal(got.TokenIDs, want.TokenIDs) {
		t.Errorf("with a copied prefix %v, computed %v", got.TokenIDs, want.TokenIDs)
	}

	off := loadTinyQ8(t, LocalOptions{Parallel: 2, NoPrefixReuse: true})
	res, err := off.Generate(context.Background(), first, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err = off.Generate(context.Background(), second, nil); err != nil || res.CachedTokens != 0 {
		t.Errorf("NoPrefixReuse: %d cached tokens, %v", res.CachedTokens, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint("must: ", err))
	}
	return v
}

// TestStepperRace runs many short generations on the fake model through
// few slots, with cancellations, for the race detector.
func TestStepperRace(t *testing.T) {
	m := &fakeModel{}
	l := newFakeEngine(t, m, LocalOptions{Parallel: 3, PrefillChunk: 3, Sampling: &Sampling{Temperature: 0.8, Seed: 3}})
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 0
			_, err := l.Generate(ctx, Request{Prompt: fmt.Sprintf("prompt number %d", i%4), MaxTokens: 5 + i%7}, func(Token) error {
				if n++; i%5 == 0 && n == 2 {
					cancel()
				}
				return nil
			})
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if st := l.Stats(); st.Steps == 0 || st.Sequences < st.Steps {
		t.Errorf("stats %+v", st)
	}
}

// TestPrefillInterleavesWithDecode: a long prompt prefills in chunks of
// PrefillChunk tokens, one chunk per step, while a sequence already
// decoding keeps getting its token in the steps between.
func TestPrefillInterleavesWithDecode(t *testing.T) {
	m := &fakeModel{replies: [][]int{tokens(strings.Repeat("x", 500))}}
	type call struct {
		st *fakeState
		n  int
	}
	var mu sync.Mutex
	var calls []call
	var aSt *fakeState // the decoding sequence: the first to run
	bStarted := make(chan struct{})
	var bOnce sync.Once
	m.forward = func(st *fakeState, toks []int) error {
		mu.Lock()
		calls = append(calls, call{st, len(toks)})
		if aSt == nil {
			aSt = st
		}
		isB := st != aSt
		mu.Unlock()
		if isB {
			bOnce.Do(func() { close(bStarted) })
		}
		return nil
	}
	l := newFakeEngine(t, m, LocalOptions{Parallel: 2, PrefillChunk: 4})
	decoding, prefilled := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := l.Generate(context.Background(), Request{Messages: user("q"), MaxTokens: 400}, func(Token) error {
			// At its first token the decoding sequence waits for the
			// long prompt's first chunk, so it is still decoding while
			// the rest of that prompt prefills, however the goroutines
			// are scheduled.
			once.Do(func() { close(decoding); <-bStarted })
			select {
			case <-prefilled:
				return ErrStop
			default:
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-decoding
	long := strings.Repeat("p", 60)
	if _, err := l.Generate(context.Background(), Request{Prompt: long, MaxTokens: 1}, nil); err != nil {
		t.Fatal(err)
	}
	close(prefilled)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	first, last, chunks, between := -1, -1, 0, 0
	for i, c := range calls {
		if c.st == aSt {
			continue
		}
		if c.n > 4 {
			t.Errorf("a prompt chunk of %d tokens, want at most 4", c.n)
		}
		if c.n > 1 {
			if first < 0 {
				first = i
			}
			last = i
			chunks++
		}
	}
	for _, c := range calls[first:last] {
		if c.st == aSt {
			between++
		}
	}
	// 61 prompt tokens (BOS included) in chunks of 4: 15 chunks, then the
	// last token alone.
	if chunks != 15 || between < 3 {
		t.Errorf("%d prompt chunks with %d decode tokens of the other sequence between them; want 15 chunks interleaved with decoding", chunks, between)
	}
}
