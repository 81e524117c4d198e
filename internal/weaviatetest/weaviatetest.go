// Package weaviatetest starts real weaviate-server processes for tests:
// one node, or a cluster of several on loopback, each on its own free
// ports with its own data directory, killable and restartable. Tests that
// use it skip with an install hint where the binary is absent.
package weaviatetest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary finds weaviate-server: $RAGTUNE_WEAVIATE_BIN, then PATH,
// then the cache directory .ci/run installs it into.
func Binary() string {
	if p := os.Getenv("RAGTUNE_WEAVIATE_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("weaviate-server"); err == nil {
		return p
	}
	if dir, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(dir, "ragtune-bin", "weaviate-server")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Require returns the weaviate-server binary or skips the test.
func Require(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("weaviate-server not found (set RAGTUNE_WEAVIATE_BIN, put it on PATH, or install it with " +
			"GOBIN=$HOME/.cache/ragtune-bin go install github.com/weaviate/weaviate/cmd/weaviate-server@v1.35.2)")
	}
	return bin
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs a single-node weaviate-server on free loopback ports
// with a fresh data directory and returns its URL; it is stopped when the
// test ends.
func Start(t testing.TB) string {
	t.Helper()
	n := NewNode(t, "node1", t.TempDir(), nil)
	n.Start(t)
	return n.URL
}

// Node is one weaviate-server process that a test can kill and
// start again on the same ports and data directory.
type Node struct {
	bin, dir string
	URL      string // http://127.0.0.1:PORT
	env      []string
	cmd      *exec.Cmd
	done     chan struct{}
	logFile  *os.File
}

// NewNode prepares a node named name with its data in dir; extra
// environment variables (cluster settings) override the single-node
// defaults. It skips the test when the binary is absent.
func NewNode(t testing.TB, name, dir string, extra map[string]string) *Node {
	t.Helper()
	n := newNode(t, name, dir, extra)
	t.Cleanup(func() { n.Stop() })
	return n
}

// newNode is NewNode without stopping the node when the test ends.
func newNode(t testing.TB, name, dir string, extra map[string]string) *Node {
	t.Helper()
	bin := Require(t)
	port := FreePort(t)
	env := map[string]string{
		"PERSISTENCE_DATA_PATH":                   filepath.Join(dir, "data"),
		"AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
		"DEFAULT_VECTORIZER_MODULE":               "none",
		"ENABLE_TOKENIZER_GSE_CH":                 "true",
		"CLUSTER_HOSTNAME":                        name,
		"CLUSTER_ADVERTISE_ADDR":                  "127.0.0.1",
		"RAFT_BOOTSTRAP_EXPECT":                   "1",
		"DISABLE_TELEMETRY":                       "true",
		"LOG_LEVEL":                               "warning",
		// Every listener on its own free port, so parallel test runs
		// (and a developer's own Weaviate) do not collide.
		"GRPC_PORT":                  strconv.Itoa(FreePort(t)),
		"CLUSTER_GOSSIP_BIND_PORT":   strconv.Itoa(FreePort(t)),
		"CLUSTER_DATA_BIND_PORT":     strconv.Itoa(FreePort(t)),
		"RAFT_PORT":                  strconv.Itoa(FreePort(t)),
		"RAFT_INTERNAL_RPC_PORT":     strconv.Itoa(FreePort(t)),
		"PROMETHEUS_MONITORING_PORT": strconv.Itoa(FreePort(t)),
	}
	for k, v := range extra {
		env[k] = v
	}
	n := &Node{bin: bin, dir: dir, URL: fmt.Sprintf("http://127.0.0.1:%d", port), env: os.Environ()}
	for k, v := range env {
		n.env = append(n.env, k+"="+v)
	}
	return n
}

var shared struct {
	sync.Mutex
	node *Node
}

// Shared returns the URL of one node that every test of the process
// calling it shares, started by the first (saving each later test the
// server's start-up, mostly loading gse's dictionary). Tests sharing it
// must use collections of their own. StopShared, from TestMain, stops it;
// where the test binary dies first, the kernel kills it (Linux).
func Shared(t testing.TB) string {
	t.Helper()
	Require(t)
	shared.Lock()
	defer shared.Unlock()
	if shared.node != nil && shared.node.cmd != nil {
		return shared.node.URL
	}
	dir, err := os.MkdirTemp("", "weaviatetest-")
	if err != nil {
		t.Fatal(err)
	}
	// NewNode would stop it when this test ends: build it under a test
	// whose cleanups do not matter, then keep it.
	n := newNode(t, "node1", dir, nil)
	n.Start(t)
	shared.node = n
	return n.URL
}

// StopShared stops the node Shared started, if any, and removes its data.
func StopShared() {
	shared.Lock()
	defer shared.Unlock()
	if n := shared.node; n != nil {
		n.Stop()
		os.RemoveAll(n.dir)
		shared.node = nil
	}
}

// Launch starts the process without waiting for it to be ready.
func (n *Node) Launch(t testing.TB) {
	t.Helper()
	_, port, _ := strings.Cut(strings.TrimPrefix(n.URL, "http://"), ":")
	cmd := exec.Command(n.bin, "--host", "127.0.0.1", "--port", port, "--scheme", "http")
	cmd.Env = n.env
	cmd.SysProcAttr = dieWithParent()
	logFile, err := os.OpenFile(filepath.Join(n.dir, "weaviate.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", n.bin, err)
	}
	n.cmd, n.logFile, n.done = cmd, logFile, make(chan struct{})
	done := n.done
	go func() { cmd.Wait(); close(done) }()
}

// WaitReady waits until the node answers its readiness probe.
func (n *Node) WaitReady(t testing.TB, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(n.URL + "/v1/.well-known/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-n.done:
			log, _ := os.ReadFile(filepath.Join(n.dir, "weaviate.log"))
			t.Fatalf("weaviate-server exited before becoming ready:\n%s", tail(string(log), 3000))
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(n.dir, "weaviate.log"))
			t.Fatalf("weaviate-server %s not ready after %s:\n%s", n.URL, limit, tail(string(log), 3000))
		}
	}
}

// Start launches the node and waits until it is ready (90 s at most).
func (n *Node) Start(t testing.TB) {
	t.Helper()
	n.Launch(t)
	n.WaitReady(t, 90*time.Second)
}

// Kill ends the process at once (SIGKILL: no shutdown, as in a crash).
func (n *Node) Kill() {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Kill()
	<-n.done
	n.logFile.Close()
	n.cmd = nil
}

// Stop ends the process gracefully, killing it after 15 s.
func (n *Node) Stop() {
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
	n.logFile.Close()
	n.cmd = nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// freePortPair returns a port p with p+1 free too: in a loopback cluster
// Weaviate finds a node's internal RPC port at its RAFT port + 1.
func freePortPair(t testing.TB) int {
	t.Helper()
	for range 50 {
		p := FreePort(t)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no two adjacent free ports")
	return 0
}

// StartCluster starts n weaviate-server nodes on loopback that form one
// cluster: memberlist gossip joined through node 1, RAFT with every
// node's own port named in RAFT_JOIN (CLUSTER_IN_LOCALHOST makes Weaviate
// take the ports from there instead of assuming one port for all).
func StartCluster(t testing.TB, n int) []*Node {
	t.Helper()
	Require(t)
	names := make([]string, n)
	raft := make([]int, n)
	gossip := make([]int, n)
	var join []string
	for i := range n {
		names[i] = fmt.Sprintf("node%d", i+1)
		raft[i], gossip[i] = freePortPair(t), FreePort(t)
		join = append(join, fmt.Sprintf("%s:%d", names[i], raft[i]))
	}
	nodes := make([]*Node, n)
	for i := range n {
		env := map[string]string{
			"CLUSTER_IN_LOCALHOST":     "true",
			"CLUSTER_GOSSIP_BIND_PORT": strconv.Itoa(gossip[i]),
			"RAFT_PORT":                strconv.Itoa(raft[i]),
			"RAFT_INTERNAL_RPC_PORT":   strconv.Itoa(raft[i] + 1),
			"RAFT_JOIN":                strings.Join(join, ","),
			"RAFT_BOOTSTRAP_EXPECT":    strconv.Itoa(n),
			// Repair what a restarted replica missed within seconds, not
			// the default 30 s.
			"ASYNC_REPLICATION_FREQUENCY":                      "1s",
			"ASYNC_REPLICATION_ALIVE_NODES_CHECKING_FREQUENCY": "1s",
		}
		if i > 0 {
			env["CLUSTER_JOIN"] = fmt.Sprintf("127.0.0.1:%d", gossip[0])
		}
		dir := filepath.Join(t.TempDir(), names[i])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		nodes[i] = NewNode(t, names[i], dir, env)
	}
	// Nodes 2 and 3 exit when node 1's gossip port does not answer their
	// join, so they start once it listens; RAFT then needs all three up
	// to elect a leader before any is ready.
	nodes[0].Launch(t)
	for deadline := time.Now().Add(90 * time.Second); ; {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", gossip[0]))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node1's gossip port %d not open after 90 s", gossip[0])
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, nd := range nodes[1:] {
		nd.Launch(t)
	}
	for _, nd := range nodes {
		nd.WaitReady(t, 120*time.Second)
	}
	return nodes
}

// PID is the running process's ID (0 when it is not running).
func (n *Node) PID() int {
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// DataDir is the node's PERSISTENCE_DATA_PATH.
func (n *Node) DataDir() string { return filepath.Join(n.dir, "data") }
