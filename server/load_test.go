package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadResult summarizes one load run.
type loadResult struct {
	clients, parallel, queue int
	ok, rejected, failed     int
	uploadsOK, uploadsListed int
	tokens                   int
	wall                     time.Duration
	lat                      []time.Duration // of successful chats
}

func (r loadResult) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (r loadResult) String() string {
	return fmt.Sprintf("clients=%d parallel=%d queue=%d: %d ok, %d 429, %d failed; %.1f req/s, %.0f tok/s; p50 %s p99 %s; uploads %d ok, %d listed",
		r.clients, r.parallel, r.queue, r.ok, r.rejected, r.failed,
		float64(r.ok)/r.wall.Seconds(), float64(r.tokens)/r.wall.Seconds(),
		r.pct(0.5).Round(time.Millisecond), r.pct(0.99).Round(time.Millisecond), r.uploadsOK, r.uploadsListed)
}

// runLoad sends chat requests from clients goroutines at the tiny model
// until total requests are done or the time limit passes, while one more
// client uploads documents; then it checks every accepted upload is listed.
func runLoad(t *testing.T, clients, parallel, queue, total int, limit time.Duration) loadResult {
	t.Helper()
	_, ts := testServer(t, Config{Parallel: parallel, MaxQueue: queue, NoGuard: true})
	if st, b := do(t, "POST", ts.URL+"/v1/kb", `{"name":"load"}`); st != 201 {
		t.Fatalf("create kb: %d %s", st, b)
	}
	res := loadResult{clients: clients, parallel: parallel, queue: queue}
	var mu sync.Mutex
	var sent atomic.Int64
	deadline := time.Now().Add(limit)
	start := time.Now()
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 60 * time.Second}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sent.Add(1) <= int64(total) && time.Now().Before(deadline) {
				body := fmt.Sprintf(`{"messages":[{"role":"user","content":"client %d says hello %d"}],"max_tokens":24,"temperature":0.7,"seed":%d}`, c, sent.Load(), c)
				t0 := time.Now()
				resp, err := client.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				var b []byte
				if err == nil {
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				d := time.Since(t0)
				mu.Lock()
				switch {
				case err != nil:
					res.failed++
					t.Logf("transport error: %v", err)
				case resp.StatusCode == 200:
					var out struct {
						Usage struct {
							CompletionTokens int `json:"completion_tokens"`
						} `json:"usage"`
					}
					json.Unmarshal(b, &out)
					res.ok++
					res.tokens += out.Usage.CompletionTokens
					res.lat = append(res.lat, d)
				case resp.StatusCode == 429:
					res.rejected++
				default:
					res.failed++
					t.Logf("status %d: %s", resp.StatusCode, b)
				}
				mu.Unlock()
				if err == nil && resp.StatusCode == 429 {
					time.Sleep(20 * time.Millisecond) // back off as clients do
				}
			}
		}()
	}
	// Uploads while the model is busy: none may be lost.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 8 && time.Now().Before(deadline); i++ {
			doc := fmt.Sprintf("# Note %d\n\nDocument number %d for the load test.\n", i, i)
			st, _ := upload(t, ts.URL+"/v1/kb/load/documents", "note-"+strconv.Itoa(i)+".md", []byte(doc))
			mu.Lock()
			if st == 201 {
				res.uploadsOK++
			}
			mu.Unlock()
		}
	}()
	wg.Wait()
	res.wall = time.Since(start)
	_, b := do(t, "GET", ts.URL+"/v1/kb/load/documents", "")
	var list struct {
		Data []json.RawMessage `json:"data"`
	}
	json.Unmarshal(b, &list)
	res.uploadsListed = len(list.Data)
	healthy(t, ts.URL)
	return res
}

// TestLoad runs concurrent clients against the tiny model on loopback,
// bounded in requests and time. Overload must produce 429s, never
// failures, and every accepted upload must be listed afterwards.
// RAGTUNE_LOAD_FULL=1 also compares engine slot counts (BENCHMARKS.md).
func TestLoad(t *testing.T) {
	configs := [][3]int{{8, 2, 2}}
	total := 48
	if os.Getenv("RAGTUNE_LOAD_FULL") != "" {
		configs = [][3]int{{8, 1, 16}, {8, 2, 16}, {8, 4, 16}, {16, 2, 4}}
		total = 240
	}
	for _, c := range configs {
		r := runLoad(t, c[0], c[1], c[2], total, 20*time.Second)
		t.Log(r)
		if r.failed > 0 {
			t.Errorf("%d requests failed (not 200 or 429)", r.failed)
		}
		if r.ok == 0 {
			t.Error("no request succeeded")
		}
		if r.uploadsListed != r.uploadsOK || r.uploadsOK == 0 {
			t.Errorf("uploads: %d accepted, %d listed", r.uploadsOK, r.uploadsListed)
		}
		if c[0] > c[1]+c[2] && r.rejected == 0 && r.ok+r.rejected >= total {
			t.Logf("note: %d clients over %d slots + %d queue saw no 429 (requests too short to overlap)", c[0], c[1], c[2])
		}
	}
}

// TestOverloadBurst fires a burst far larger than slots + queue at once:
// the excess must be refused with 429 and the rest served.
func TestOverloadBurst(t *testing.T) {
	eng := &scripted{answer: []string{"a", "b", "c"}, gate: make(chan struct{})}
	_, ts := testServer(t, Config{Engine: eng, Parallel: 2, MaxQueue: 3})
	const n = 20
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json",
				bytes.NewReader([]byte(`{"messages":[{"role":"user","content":"x"}]}`)))
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	// Let the burst land, then open the gate for the admitted ones.
	deadline := time.Now().Add(10 * time.Second)
	for len(codes) < n-5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(eng.gate)
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[200] != 5 || count[429] != n-5 {
		t.Errorf("burst of %d over 2 slots + 3 queue: %v, want 5×200 and %d×429", n, count, n-5)
	}
	healthy(t, ts.URL)
}
