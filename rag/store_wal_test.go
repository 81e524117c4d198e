package rag

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func testDoc(c *Chunker, path, text string) *DocRecord {
	return &DocRecord{Path: path, Hash: contentHash([]byte(text)), Chunks: c.Split(path, "", text, false)}
}

// TestStoreLogTruncatedAtEveryOffset commits single documents, a batch and
// a delete, then reopens a copy of the knowledge base with the log cut at
// every byte offset: every commit whose record ends at or before the cut
// is there, nothing after it, a torn batch contributes none of its
// documents, and the reopened store takes new commits after the tear.
func TestStoreLogTruncatedAtEveryOffset(t *testing.T) {
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	c := Chunker{Size: 100}
	type commit struct {
		end  int64    // log size once acknowledged
		docs []string // documents present after it
	}
	var commits []commit
	present := map[string]bool{}
	record := func() {
		var docs []string
		for p := range present {
			docs = append(docs, p)
		}
		sort.Strings(docs)
		commits = append(commits, commit{s.Stats().WALBytes, docs})
	}
	record()
	for i := range 2 {
		p := fmt.Sprintf("/d/%d.txt", i)
		if err := s.Put(testDoc(&c, p, fmt.Sprintf("文档%d 关键词k%d。", i, i))); err != nil {
			t.Fatal(err)
		}
		present[p] = true
		record()
	}
	if err := s.PutBatch([]*DocRecord{testDoc(&c, "/d/b1.txt", "批量一。"), testDoc(&c, "/d/b2.txt", "批量二。")}); err != nil {
		t.Fatal(err)
	}
	present["/d/b1.txt"], present["/d/b2.txt"] = true, true
	record()
	if err := s.Delete("/d/0.txt"); err != nil {
		t.Fatal(err)
	}
	delete(present, "/d/0.txt")
	record()
	wal, err := os.ReadFile(filepath.Join(kbDir, walFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(kbDir, configFile))
	s.Close()
	if int64(len(wal)) != commits[len(commits)-1].end {
		t.Fatalf("log holds %d bytes, the last commit ended at %d", len(wal), commits[len(commits)-1].end)
	}
	t.Logf("%d commits in %d log bytes", len(commits)-1, len(wal))

	boundary := map[int64]bool{}
	for _, c := range commits {
		boundary[c.end-1], boundary[c.end], boundary[c.end+1] = true, true, true
	}
	root := t.TempDir()
	for cut := 0; cut <= len(wal); cut++ {
		want := commits[0].docs
		for _, c := range commits {
			if c.end <= int64(cut) {
				want = c.docs
			}
		}
		dir := filepath.Join(root, fmt.Sprint(cut))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, configFile), cfg, 0o644)
		os.WriteFile(filepath.Join(dir, walFile), wal[:cut], 0o644)
		for _, readOnly := range []bool{true, false} {
			r, err := OpenStore(dir, nil, readOnly)
			if err != nil {
				t.Fatalf("cut at %d, read-only %v: %v", cut, readOnly, err)
			}
			if got := r.Paths(); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("cut at %d, read-only %v: documents %v, want %v", cut, readOnly, got, want)
			}
			if !readOnly && (cut%7 == 0 || boundary[int64(cut)]) {
				// The torn tail is gone: a new commit replays after
				// reopening (checked at commit ends and every 7th byte to
				// keep the test quick).
				if err := r.Put(testDoc(&c, "/d/new.txt", "新文档。")); err != nil {
					t.Fatal(err)
				}
				r.Close()
				r2, err := OpenStore(dir, nil, true)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := r2.Doc("/d/new.txt"); !ok || len(r2.Paths()) != len(want)+1 {
					t.Fatalf("cut at %d: after a commit and reopening, %v", cut, r2.Paths())
				}
				r2.Close()
			}
			r.Close()
		}
		os.RemoveAll(dir)
	}
}

// TestStoreSmallCommitAppendsOnly checks that a small commit into a
// knowledge base with a large snapshot appends to the log and leaves the
// snapshot alone (the old Ingest rewrote the whole snapshot every time),
// and that the log is compacted once it outgrows its share.
func TestStoreSmallCommitAppendsOnly(t *testing.T) {
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	c := Chunker{Size: 200}
	st := newSynthText(5, 5000)
	var batch []*DocRecord
	for i := range 300 {
		batch = append(batch, testDoc(&c, fmt.Sprintf("/big/%03d.txt", i), st.chunk(2000)))
	}
	if err := s.PutBatch(batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	snapPath := filepath.Join(kbDir, snapshotFile)
	before, err := os.Stat(snapPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot %d KiB", before.Size()>>10)

	src := t.TempDir()
	writeFiles(t, src, map[string][]byte{"small.txt": []byte("一个很小的上传文件，关键词 tinyupload。")})
	rep, err := s.Ingest(context.Background(), []string{filepath.Join(src, "small.txt")}, IngestOptions{})
	if err != nil || rep.Added != 1 {
		t.Fatalf("ingest: %+v, %v", rep, err)
	}
	wal := s.Stats().WALBytes
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(snapPath)
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("a %d-byte commit rewrote the %d KiB snapshot", wal, before.Size()>>10)
	}
	if wal <= 0 || wal > 4<<10 {
		t.Errorf("the small upload's log record is %d bytes, want a few hundred", wal)
	}

	// Reopen: the snapshot plus the log hold everything.
	s, err = OpenStore(kbDir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := topSource(t, s, "tinyupload", ModeBM25); got != "small.txt" || len(s.Paths()) != 301 {
		t.Fatalf("after reopening: tinyupload → %q, %d documents", got, len(s.Paths()))
	}
	// Enough commits to pass the threshold compact the log into a new snapshot.
	threshold := s.compactThreshold()
	for i := 0; s.Stats().WALBytes > 0 || i == 0; i++ {
		var more []*DocRecord
		for j := range 10 {
			more = append(more, testDoc(&c, fmt.Sprintf("/more/%d-%d.txt", i, j), st.chunk(2000)))
		}
		if err := s.PutBatch(more); err != nil {
			t.Fatal(err)
		}
		if i > 200 {
			t.Fatalf("log never compacted (threshold %d, log %d)", threshold, s.Stats().WALBytes)
		}
	}
	compacted, _ := os.Stat(snapPath)
	if os.SameFile(before, compacted) {
		t.Errorf("snapshot not replaced by compaction")
	}
	s.Close()
}

func TestStoreRemovesStaleTemps(t *testing.T) {
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	stale := []string{snapshotFile + ".tmp123", "." + snapshotFile + ".tmp456"}
	keep := []string{"notes.tmp1", "snapshot.txt", configFile}
	for _, n := range append(stale, "notes.tmp1", "snapshot.txt") {
		os.WriteFile(filepath.Join(kbDir, n), []byte("x"), 0o644)
	}
	// A reader holds no lock and must not touch them (a writer may be
	// writing one right now).
	r, err := OpenStore(kbDir, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(kbDir, n)); err != nil {
			t.Errorf("read-only open removed %s", n)
		}
	}
	w, err := OpenStore(kbDir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(kbDir, n)); err == nil {
			t.Errorf("stale %s survived a writable open", n)
		}
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(kbDir, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
}

func TestStoreTypedErrors(t *testing.T) {
	root := t.TempDir()
	kbDir := filepath.Join(root, "kb")
	checkPublic := func(err error) {
		t.Helper()
		if msg := PublicMessage(err); strings.Contains(msg, root) || msg == "" {
			t.Errorf("public message %q is empty or holds the server path", msg)
		}
		if !strings.Contains(err.Error(), root) {
			t.Errorf("full message %q lost its detail", err)
		}
	}
	_, err := OpenStore(kbDir, nil, false)
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrNoKB) {
		t.Fatalf("opening a missing knowledge base: %v, want ErrNotFound and ErrNoKB", err)
	}
	checkPublic(err)

	s, err := CreateStore(kbDir, StoreConfig{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = CreateStore(kbDir, StoreConfig{Name: "t"})
	if !errors.Is(err, ErrExists) {
		t.Errorf("creating twice: %v, want ErrExists", err)
	}
	_, err = OpenStore(kbDir, nil, false)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: %v, want ErrLocked", err)
	}
	checkPublic(err)

	r, err := OpenStore(kbDir, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Put(&DocRecord{Path: "/x"})
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("put on a reader: %v, want ErrReadOnly", err)
	}
	checkPublic(err)
	r.Close()

	s.Close()
	err = s.Put(&DocRecord{Path: "/x"})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("put after close: %v, want ErrClosed", err)
	}
	checkPublic(err)
}

// TestOpenSharedFollowsWriter plays the server (OpenShared) against a CLI
// ingest holding the writer lock: reads work and see each commit, a
// compaction, and writes fail with ErrLocked until the writer is gone,
// then succeed with the shared store as the writer.
func TestOpenSharedFollowsWriter(t *testing.T) {
	kbDir := filepath.Join(t.TempDir(), "kb")
	w, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	c := Chunker{Size: 100}
	if err := w.Put(testDoc(&c, "/d/a.txt", "第一篇 alphaword。")); err != nil {
		t.Fatal(err)
	}
	srv, err := OpenShared(kbDir, nil)
	if err != nil {
		t.Fatalf("shared open while locked: %v", err)
	}
	defer srv.Close()
	if !srv.ReadOnly() {
		t.Fatal("the shared store took the lock another store holds")
	}
	if got := topSource(t, srv, "alphaword", ModeBM25); got != "a.txt" {
		t.Fatalf("shared store misses the committed document: %q", got)
	}
	if err := w.Put(testDoc(&c, "/d/b.txt", "第二篇 betaword。")); err != nil {
		t.Fatal(err)
	}
	if got := topSource(t, srv, "betaword", ModeBM25); got != "b.txt" {
		t.Fatalf("shared store did not follow a commit: %q", got)
	}
	if err := w.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(testDoc(&c, "/d/c.txt", "第三篇 gammaword。")); err != nil {
		t.Fatal(err)
	}
	if err := w.Delete("/d/a.txt"); err != nil {
		t.Fatal(err)
	}
	if got, want := srv.Paths(), []string{"/d/b.txt", "/d/c.txt"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after the writer compacted: %v, want %v", got, want)
	}
	err = srv.Put(testDoc(&c, "/d/s.txt", "服务器上传。"))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("write while another process writes: %v, want ErrLocked", err)
	}
	if err := w.Put(testDoc(&c, "/d/d.txt", "第四篇 deltaword。")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// The writer is gone: the next write takes over, after catching up.
	if err := srv.Put(testDoc(&c, "/d/s.txt", "服务器上传 serverword。")); err != nil {
		t.Fatalf("write after the other writer closed: %v", err)
	}
	if srv.ReadOnly() {
		t.Error("the shared store did not become the writer")
	}
	if _, err := OpenStore(kbDir, nil, false); !errors.Is(err, ErrLocked) {
		t.Errorf("the shared store does not hold the lock: %v", err)
	}
	srv.Close()
	r, err := OpenStore(kbDir, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, want := r.Paths(), []string{"/d/b.txt", "/d/c.txt", "/d/d.txt", "/d/s.txt"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("final documents %v, want %v", got, want)
	}
}

// TestIngestCompactsOnceAtEnd checks that a bulk ingest leaves the
// snapshot alone while it runs (compacting at every quarter of a growing
// snapshot would rewrite it many times) and compacts once at the end.
func TestIngestCompactsOnceAtEnd(t *testing.T) {
	src := t.TempDir()
	makeCorpus(t, src, 800)
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snapPath := filepath.Join(kbDir, snapshotFile)
	var maxLog int64
	rep, err := s.Ingest(context.Background(), []string{src}, IngestOptions{BatchDocs: 8, Progress: func(e IngestEvent) {
		if _, err := os.Stat(snapPath); err == nil {
			t.Errorf("snapshot written during the ingest, at file %d", e.Done)
		}
		maxLog = max(maxLog, s.Stats().WALBytes)
	}})
	if err != nil || rep.Added != 800 {
		t.Fatalf("ingest: %+v, %v", rep, err)
	}
	if maxLog <= compactMinLog {
		t.Fatalf("the log reached only %d bytes, the test needs more than %d", maxLog, compactMinLog)
	}
	if _, err := os.Stat(snapPath); err != nil || s.Stats().WALBytes != 0 {
		t.Errorf("no compaction at the end of a %d-byte log: %v, log %d", maxLog, err, s.Stats().WALBytes)
	}
}

// TestSharedReadsDuringWrites runs searches on a following store while
// another writer commits and compacts: every search answers, and what it
// sees never goes backwards.
func TestSharedReadsDuringWrites(t *testing.T) {
	kbDir := filepath.Join(t.TempDir(), "kb")
	w, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := Chunker{Size: 100}
	srv, err := OpenShared(kbDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	done := make(chan struct{})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			last := 0
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				res, err := srv.Search(context.Background(), Query{Text: "共同词", K: 1000})
				if err != nil {
					errs <- err
					return
				}
				if len(res) < last {
					errs <- fmt.Errorf("visible documents went from %d to %d", last, len(res))
					return
				}
				last = len(res)
			}
		}()
	}
	for i := range 120 {
		if err := w.Put(testDoc(&c, fmt.Sprintf("/d/%03d.txt", i), fmt.Sprintf("共同词 文档%d。", i))); err != nil {
			t.Fatal(err)
		}
		if i%40 == 39 {
			if err := w.Checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := len(srv.Paths()); got != 120 {
		t.Errorf("the shared store sees %d documents at the end, want 120", got)
	}
}

func TestStoreRefusesOversizeCommit(t *testing.T) {
	defer func(n int) { maxRecordBytes = n }(maxRecordBytes)
	maxRecordBytes = 4 << 10
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "t", ChunkSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := Chunker{Size: 100}
	err = s.Put(testDoc(&c, "/d/big.txt", strings.Repeat("很长的文档。", 2000)))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a commit over the record limit: %v, want ErrTooLarge", err)
	}
	if err := s.Put(testDoc(&c, "/d/small.txt", "小文档。")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	r, err := OpenStore(kbDir, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Paths(); len(got) != 1 || got[0] != "/d/small.txt" {
		t.Errorf("after a refused commit and a good one: %v", got)
	}
}
