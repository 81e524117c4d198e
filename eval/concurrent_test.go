package eval

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ragtune/guard"
	"ragtune/llm"
)

// concurrentEcho answers every prompt with a function of it, after a
// short wait, and records how many generations were in flight at once.
type concurrentEcho struct {
	inFlight, most atomic.Int32
	fail           string // a prompt that fails
}

func (e *concurrentEcho) Generate(ctx context.Context, req llm.Request, _ func(llm.Token) error) (*llm.Result, error) {
	n := e.inFlight.Add(1)
	defer e.inFlight.Add(-1)
	for {
		m := e.most.Load()
		if n <= m || e.most.CompareAndSwap(m, n) {
			break
		}
	}
	p := req.Prompt
	if k := len(req.Messages); k > 0 {
		p = req.Messages[k-1].Content
	}
	select {
	case <-time.After(2 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.fail != "" && p == e.fail {
		return nil, errors.New("engine failed")
	}
	words := strings.Fields(p)
	return &llm.Result{Text: strings.Join(words[:min(2, len(words))], " "), FinishReason: llm.FinishEOS}, nil
}

// TestSuitesSubmitConcurrently: with Model.Parallel the suites submit
// their generations together and score exactly what the one-by-one run
// scores; an engine error still ends the suite with that error.
func TestSuitesSubmitConcurrently(t *testing.T) {
	items := []Item{
		{ID: "a", Lang: "en", Question: "Capital of France is Paris?", Answers: []string{"Capital of"}},
		{ID: "b", Lang: "en", Question: "Days in a week?", Answers: []string{"seven"}},
		{ID: "c", Lang: "zh", Question: "水结冰叫什么？", Answers: []string{"冰"}},
		{ID: "d", Lang: "en", Question: "Days in a week?", Answers: []string{"Days in"}}, // a repeated prompt
	}
	probes := guard.DefaultProbes()
	run := func(parallel int) (*RobustnessResult, *SafetyResult, *ForgettingResult, int32) {
		e := &concurrentEcho{}
		m := &Model{Label: "m", Path: "m", Engine: e, Parallel: parallel}
		rob, err := RunRobustness(context.Background(), m, items, GenOptions{}, Thresholds{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		saf, err := RunSafety(context.Background(), m, probes, nil, GenOptions{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		fg, err := RunForgetting(context.Background(), m, m, items, GenOptions{}, Thresholds{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rob, saf, fg, e.most.Load()
	}
	r1, s1, f1, most1 := run(1)
	r4, s4, f4, most4 := run(4)
	if most1 != 1 || most4 < 2 || most4 > 4 {
		t.Errorf("generations in flight at once: %d with Parallel 1, %d with Parallel 4", most1, most4)
	}
	if !reflect.DeepEqual(r1, r4) || !reflect.DeepEqual(s1, s4) || !reflect.DeepEqual(f1, f4) {
		t.Errorf("concurrent results differ from one-by-one:\n%+v\n%+v", r1, r4)
	}

	e := &concurrentEcho{fail: "Days in a week?"}
	m := &Model{Label: "m", Path: "m", Engine: e, Parallel: 4}
	if _, err := RunRobustness(context.Background(), m, items, GenOptions{}, Thresholds{}, nil); err == nil || !strings.Contains(err.Error(), "engine failed") {
		t.Errorf("engine error: got %v", err)
	}
	// stop waited for the workers: nothing is left running.
	if n := e.inFlight.Load(); n != 0 {
		t.Errorf("%d generations still running after the suite returned", n)
	}
}
