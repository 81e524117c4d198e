package rag

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ragtune/internal/weaviatetest"
)

// TestWeaviateClusterFailover ingests into a 3-node cluster with
// replication 3 and kills one node (SIGKILL) while queries run: every
// query keeps answering with the same top hits, documents written while
// the node is down are acknowledged and found, and after a restart the
// node itself answers with every acknowledged document.
func TestWeaviateClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Weaviate cluster (about a minute)")
	}
	t0 := time.Now()
	phase := func(what string) { t.Logf("%5.1fs %s", time.Since(t0).Seconds(), what) }
	nodes := weaviatetest.StartCluster(t, 3)
	phase("cluster ready")
	ctx := context.Background()
	urls := make([]string, len(nodes))
	for i, nd := range nodes {
		urls[i] = nd.URL
	}
	// The client knows every node, so a request the dead node cannot
	// answer moves on to the next.
	url := strings.Join(urls, ",")

	src := t.TempDir()
	writeCorpus(t, src, kbCorpus)
	root := t.TempDir()
	cfg := KBSettings{Name: "cluster", ChunkSize: 60, Overlap: 10, Store: &RemoteConfig{Kind: StoreWeaviate, URL: url, Replication: 3}}.Config()
	var s *Store
	var err error
	// The schema change needs every node to have joined RAFT; give the
	// freshly formed cluster a few seconds.
	for attempt := 0; ; attempt++ {
		s, err = CreateStore(filepath.Join(root, "kb"), cfg)
		if err == nil || attempt == 20 {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Ingest(ctx, []string{src}, IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	top := func(st *Store, q string) (string, error) {
		res, err := st.Search(ctx, Query{Text: q, K: 1})
		if err != nil {
			return "", err
		}
		if len(res) == 0 {
			return "", nil
		}
		return filepath.Base(res[0].Chunk.Source), nil
	}
	for q, want := range kbQueries {
		if got, err := top(s, q); err != nil || got != want {
			t.Fatalf("before the failure: %q → %q, %v; want %s", q, got, err, want)
		}
	}

	// Query load from 2 goroutines; node 3 is killed a moment in.
	var queries, failures atomic.Int64
	var mu sync.Mutex
	var wrong []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				q := kbQueryList[i%len(kbQueryList)]
				got, err := top(s, q)
				queries.Add(1)
				if err != nil || got != kbQueries[q] {
					failures.Add(1)
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("%q → %q (%v)", q, got, err))
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(time.Second)
	nodes[2].Kill()
	killedAt := queries.Load()
	phase("node3 killed")

	// Writes while the node is down: acknowledged at QUORUM by the two
	// that are left.
	extra := map[string]string{}
	for i := range 5 {
		extra[fmt.Sprintf("outage%d.txt", i)] = fmt.Sprintf("故障期间写入的第%d份文档：节点宕机时仍然确认写入 outagemarker%d。", i, i)
	}
	writeCorpus(t, src, extra)
	rep, err := s.Ingest(ctx, []string{src}, IngestOptions{})
	if err != nil || rep.Added != len(extra) {
		t.Fatalf("ingest with a node down: %+v, %v", rep, err)
	}
	phase("ingested with node3 down")
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	if n := queries.Load() - killedAt; n < 10 {
		t.Fatalf("only %d queries ran after the kill", n)
	}
	if f := failures.Load(); f > 0 {
		t.Fatalf("%d of %d queries failed or changed their top hit around the kill: %s", f, queries.Load(), strings.Join(wrong[:min(5, len(wrong))], "; "))
	}
	t.Logf("%d queries, %d after the kill, all with the expected top hit", queries.Load(), queries.Load()-killedAt)
	for name := range extra {
		marker := "outagemarker" + strings.TrimSuffix(strings.TrimPrefix(name, "outage"), ".txt")
		if got, err := top(s, marker); err != nil || got != name {
			t.Fatalf("written during the outage: %q → %q, %v; want %s", marker, got, err, name)
		}
	}

	// Restart node 3: it rejoins, and asked alone it answers every query,
	// including the documents written while it was down.
	nodes[2].Start(t)
	phase("node3 restarted")
	alone, err := OpenStore(filepath.Join(root, "kb"), nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	alone.remote, err = newWeaviate(WeaviateConfig{URL: nodes[2].URL, Class: cfg.Store.Class, Replication: 3})
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{}
	for q, want := range kbQueries {
		all[q] = want
	}
	for name := range extra {
		all["outagemarker"+strings.TrimSuffix(strings.TrimPrefix(name, "outage"), ".txt")] = name
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var missing []string
		for q, want := range all {
			if got, err := top(alone, q); err != nil || got != want {
				missing = append(missing, fmt.Sprintf("%q → %q (%v)", q, got, err))
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted node, 60 s later: %d of %d queries wrong: %s", len(missing), len(all), strings.Join(missing[:min(5, len(missing))], "; "))
		}
		time.Sleep(time.Second)
	}
	phase("node3 answers every query")
	n, err := alone.remote.Count(ctx)
	if err != nil || n != s.Stats().Chunks {
		t.Fatalf("restarted node counts %d objects (%v); %d chunks acknowledged", n, err, s.Stats().Chunks)
	}
}

// kbQueryList is kbQueries' keys in a fixed order.
var kbQueryList = slices.Sorted(maps.Keys(kbQueries))
