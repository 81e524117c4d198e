//go:build unix

package rag

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const writerChildEnv = "RAGTUNE_TEST_WRITER_CHILD"

// TestWriterChild is the other process of TestSharedWhileAnotherProcessWrites:
// a 'ragtune ingest' stand-in that holds the writer lock and commits one
// document every few milliseconds until it is killed.
func TestWriterChild(t *testing.T) {
	kbDir := os.Getenv(writerChildEnv)
	if kbDir == "" {
		t.Skip("helper process for TestSharedWhileAnotherProcessWrites")
	}
	s, err := OpenStore(kbDir, nil, false)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	c := Chunker{Size: 100}
	for i := 0; ; i++ {
		if err := s.Put(testDoc(&c, fmt.Sprintf("/cli/%04d.txt", i), fmt.Sprintf("命令行文档 clidoc%d。", i))); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		if i%25 == 24 {
			s.Checkpoint()
		}
		fmt.Println("COMMITTED", i)
		time.Sleep(3 * time.Millisecond)
	}
}

// TestSharedWhileAnotherProcessWrites is the server's side of "reads fail
// while a CLI ingest holds the lock": a shared store answers queries and
// sees the other process's commits while writes get ErrLocked, and once
// that process dies (kill -9) the next write takes over with nothing it
// committed lost.
func TestSharedWhileAnotherProcessWrites(t *testing.T) {
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "cli", ChunkSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriterChild$", "-test.v")
	cmd.Env = append(os.Environ(), writerChildEnv+"="+kbDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	committed := -1
	waitFor := func(n int) {
		t.Helper()
		for committed < n && sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "ERROR") {
				t.Fatalf("writer process: %s", line)
			}
			fmt.Sscanf(line, "COMMITTED %d", &committed)
		}
		if committed < n {
			t.Fatalf("writer process stopped at %d", committed)
		}
	}
	waitFor(10)
	srv, err := OpenShared(kbDir, nil)
	if err != nil {
		t.Fatalf("shared open while another process writes: %v", err)
	}
	defer srv.Close()
	c := Chunker{Size: 100}
	if err := srv.Put(testDoc(&c, "/srv/x.txt", "服务器。")); !errors.Is(err, ErrLocked) {
		t.Fatalf("write while another process writes: %v, want ErrLocked", err)
	}
	for _, n := range []int{40, 80} { // past checkpoints of the other process
		waitFor(n)
		res, err := srv.Search(context.Background(), Query{Text: fmt.Sprintf("clidoc%d", n), K: 1})
		if err != nil || len(res) == 0 || res[0].Chunk.Source != fmt.Sprintf("/cli/%04d.txt", n) {
			t.Fatalf("query for the other process's document %d: %v, %v", n, res, err)
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if err := srv.Put(testDoc(&c, "/srv/x.txt", "服务器 serverdoc。")); err != nil {
		t.Fatalf("write after the other process died: %v", err)
	}
	// Everything acknowledged before the kill is there.
	if got := len(srv.Paths()); got < committed+2 {
		t.Errorf("%d documents after the takeover, want at least %d", got, committed+2)
	}
	t.Logf("followed %d commits of the other process, then took over", committed+1)
}

const checkpointChildEnv = "RAGTUNE_TEST_CHECKPOINT_CHILD"

// TestCheckpointChild is the other process of TestKill9DuringSnapshot: it
// commits and snapshots in a loop until it is killed.
func TestCheckpointChild(t *testing.T) {
	kbDir := os.Getenv(checkpointChildEnv)
	if kbDir == "" {
		t.Skip("helper process for TestKill9DuringSnapshot")
	}
	s, err := OpenStore(kbDir, nil, false)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	c := Chunker{Size: 100}
	for i := 0; ; i++ {
		if err := s.Put(testDoc(&c, fmt.Sprintf("/loop/%05d.txt", i), fmt.Sprintf("循环 %d。", i))); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Println("COMMITTED", i)
		if err := s.Checkpoint(); err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
	}
}

// TestKill9DuringSnapshot kills a writer while it writes a snapshot (its
// temporary file is on disk): the next writable open removes the
// temporary and loses no acknowledged commit.
func TestKill9DuringSnapshot(t *testing.T) {
	kbDir := filepath.Join(t.TempDir(), "kb")
	s, err := CreateStore(kbDir, StoreConfig{Name: "snap", ChunkSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	// Enough content that a snapshot takes a while to write.
	c := Chunker{Size: 200}
	st := newSynthText(3, 5000)
	var batch []*DocRecord
	for i := range 100 {
		batch = append(batch, testDoc(&c, fmt.Sprintf("/base/%03d.txt", i), st.chunk(2000)))
	}
	if err := s.PutBatch(batch); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for attempt := 1; ; attempt++ {
		temp, committed := killDuringSnapshot(t, kbDir)
		if temp == "" {
			if attempt == 5 {
				t.Skip("never caught the writer with a snapshot temporary on disk")
			}
			continue
		}
		r, err := OpenStore(kbDir, nil, false)
		if err != nil {
			t.Fatalf("open after kill -9 during a snapshot: %v", err)
		}
		if _, err := os.Stat(temp); err == nil {
			t.Errorf("%s survived the next writable open", filepath.Base(temp))
		}
		if got, want := len(r.Paths()), 100+committed+1; got < want {
			t.Errorf("%d documents after the kill, want at least %d", got, want)
		}
		r.Close()
		t.Logf("killed with %s on disk after %d commits (attempt %d)", filepath.Base(temp), committed+1, attempt)
		return
	}
}

// killDuringSnapshot runs TestCheckpointChild on kbDir and kills it once a
// snapshot temporary appears; it returns that file if it is still there
// after the kill, and the last commit the child acknowledged.
func killDuringSnapshot(t *testing.T, kbDir string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointChild$", "-test.v")
	cmd.Env = append(os.Environ(), checkpointChildEnv+"="+kbDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed := -1
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.Now().Add(20 * time.Second)
	var temp string
	for temp == "" && time.Now().Before(deadline) {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("checkpoint child exited")
			}
			if strings.HasPrefix(line, "ERROR") {
				t.Fatalf("checkpoint child: %s", line)
			}
			fmt.Sscanf(line, "COMMITTED %d", &committed)
		default:
			if m, _ := filepath.Glob(filepath.Join(kbDir, "."+snapshotFile+".tmp*")); len(m) > 0 && committed >= 0 {
				temp = m[0]
			} else {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	for line := range lines { // acknowledged just before the kill
		fmt.Sscanf(line, "COMMITTED %d", &committed)
	}
	cmd.Wait()
	if temp != "" {
		if _, err := os.Stat(temp); err != nil {
			temp = ""
		}
	}
	return temp, committed
}
