package server

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"ragtune/llm"
)

// metrics are kept in plain counters and written in the Prometheus text
// exposition format (version 0.0.4) by hand: a handful of series does not
// need a client library.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // route, status → count
	latency  map[string]*histogram
	ttft     *histogram // seconds to the first streamed token
	wait     *histogram // seconds waiting in the admission queue
	decode   *histogram // decode tokens per second per request

	promptTokens    atomic.Uint64
	generatedTokens atomic.Uint64
	rejected        atomic.Uint64 // 429 from the queue
	rateLimited     atomic.Uint64
	uploads         atomic.Uint64
	start           time.Time
}

var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
var speedBuckets = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, latency: map[string]*histogram{},
		ttft: newHistogram(latencyBuckets), wait: newHistogram(latencyBuckets), decode: newHistogram(speedBuckets), start: time.Now()}
}

func (m *metrics) observeRequest(route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{route, strconv.Itoa(status)}]++
	h := m.latency[route]
	if h == nil {
		h = newHistogram(latencyBuckets)
		m.latency[route] = h
	}
	h.observe(d.Seconds())
}

func (m *metrics) observeFirstToken(d time.Duration) {
	m.mu.Lock()
	m.ttft.observe(d.Seconds())
	m.mu.Unlock()
}

func (m *metrics) observeQueueWait(d time.Duration) {
	m.mu.Lock()
	m.wait.observe(d.Seconds())
	m.mu.Unlock()
}

// batchSizeBuckets bound the sequences one forward step held.
var batchSizeBuckets = []float64{1, 2, 4, 8, 16, 32, 64}

// batchStater is an engine that batches its forward steps (llm.Local).
type batchStater interface{ Stats() llm.BatchStats }

// writeBatch renders the engine's step statistics, when it has them.
func writeBatch(w io.Writer, eng any) {
	b, ok := eng.(batchStater)
	if !ok {
		return
	}
	st := b.Stats()
	h := newHistogram(batchSizeBuckets)
	for k, n := range st.BySize {
		if n == 0 {
			continue
		}
		h.counts[sort.SearchFloat64s(h.bounds, float64(k))] += n
		h.sum += float64(k) * float64(n)
		h.n += n
	}
	fmt.Fprintln(w, "# HELP ragtune_batch_sequences Sequences in each forward step of the engine (one pass for all of them).")
	fmt.Fprintln(w, "# TYPE ragtune_batch_sequences histogram")
	h.write(w, "ragtune_batch_sequences", "")
	fmt.Fprintf(w, "# HELP ragtune_batch_tokens_total Tokens run in forward steps, prompt chunks included.\n# TYPE ragtune_batch_tokens_total counter\nragtune_batch_tokens_total %d\n", st.Tokens)
}

func (m *metrics) observeSpeed(tokPerSec float64) {
	if tokPerSec <= 0 || math.IsInf(tokPerSec, 0) || math.IsNaN(tokPerSec) {
		return
	}
	m.mu.Lock()
	m.decode.observe(tokPerSec)
	m.mu.Unlock()
}

type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; last is +Inf
	sum    float64
	n      uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // first bound >= v: le semantics
	h.counts[i]++
	h.sum += v
	h.n++
}

func (h *histogram) write(w io.Writer, name, labels string) {
	var cum uint64
	sep := ""
	if labels != "" {
		sep = ","
	}
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{%s%sle=%q} %d\n", name, labels, sep, formatFloat(b), cum)
	}
	cum += h.counts[len(h.bounds)]
	fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, cum)
	if labels != "" {
		labels = "{" + labels + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", name, labels, formatFloat(h.sum), name, labels, h.n)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// labelValue escapes a label value as the exposition format requires.
func labelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// write renders every series; gauges come from the scheduler.
func (m *metrics) write(w io.Writer, q *scheduler, kbs int, engine any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP ragtune_http_requests_total HTTP requests by route and status code.")
	fmt.Fprintln(w, "# TYPE ragtune_http_requests_total counter")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		fmt.Fprintf(w, "ragtune_http_requests_total{route=\"%s\",code=\"%s\"} %d\n", labelValue(k[0]), k[1], m.requests[k])
	}
	fmt.Fprintln(w, "# HELP ragtune_http_request_duration_seconds Time from request to the last byte of the response.")
	fmt.Fprintln(w, "# TYPE ragtune_http_request_duration_seconds histogram")
	routes := make([]string, 0, len(m.latency))
	for r := range m.latency {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		m.latency[r].write(w, "ragtune_http_request_duration_seconds", fmt.Sprintf("route=\"%s\"", labelValue(r)))
	}
	fmt.Fprintln(w, "# HELP ragtune_time_to_first_token_seconds Time from admission to the first generated text.")
	fmt.Fprintln(w, "# TYPE ragtune_time_to_first_token_seconds histogram")
	m.ttft.write(w, "ragtune_time_to_first_token_seconds", "")
	fmt.Fprintln(w, "# HELP ragtune_queue_wait_seconds Time generations waited for admission (a free slot).")
	fmt.Fprintln(w, "# TYPE ragtune_queue_wait_seconds histogram")
	m.wait.write(w, "ragtune_queue_wait_seconds", "")
	writeBatch(w, engine)
	fmt.Fprintln(w, "# HELP ragtune_decode_tokens_per_second Decode speed of each finished generation.")
	fmt.Fprintln(w, "# TYPE ragtune_decode_tokens_per_second histogram")
	m.decode.write(w, "ragtune_decode_tokens_per_second", "")

	counter := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, formatFloat(v))
	}
	gen := m.generatedTokens.Load()
	counter("ragtune_prompt_tokens_total", "Prompt tokens processed.", m.promptTokens.Load())
	counter("ragtune_generated_tokens_total", "Tokens generated, reasoning included.", gen)
	counter("ragtune_queue_rejected_total", "Requests refused with 429 because the queue was full.", m.rejected.Load())
	counter("ragtune_rate_limited_total", "Requests refused with 429 by a per-key rate limit.", m.rateLimited.Load())
	counter("ragtune_uploads_total", "Documents uploaded into knowledge bases.", m.uploads.Load())
	up := time.Since(m.start).Seconds()
	gauge("ragtune_generated_tokens_per_second", "Generated tokens per second since start (rate() of the counter is the live figure).", float64(gen)/math.Max(up, 1e-9))
	running, waiting := q.depth()
	gauge("ragtune_generations_running", "Generations holding an engine slot.", float64(running))
	gauge("ragtune_queue_depth", "Generations waiting for an engine slot.", float64(waiting))
	gauge("ragtune_queue_capacity", "Most generations that may wait before 429.", float64(q.maxQueue))
	gauge("ragtune_knowledge_bases_open", "Knowledge bases open.", float64(kbs))
	gauge("ragtune_uptime_seconds", "Seconds since the server started.", up)
}
