package main

import (
	"net"
	"strings"
	"testing"
)

// Row 12: a bad --addr is an invalid address, and a busy port fails
// before the model loads (no "model loaded" line).
func TestServeAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	model := genTestModel(t)
	checkExits(t, []exitCase{
		{"notanaddress", []string{"serve", "--model", model, "--addr", "notanaddress"}, 2, `ragtune: --addr "notanaddress" is an invalid address`},
		{"bad port", []string{"serve", "--model", model, "--addr", "127.0.0.1:http2"}, 2, `ragtune: --addr "127.0.0.1:http2" is an invalid address`},
		{"busy", []string{"serve", "--model", model, "--addr", ln.Addr().String()}, 1, "ragtune: listen on " + ln.Addr().String()},
	})
	if _, _, stderr := runCaptured(t, "serve", "--model", model, "--addr", ln.Addr().String()); strings.Contains(stderr, "model loaded") {
		t.Errorf("the model loaded before the port was tried:\n%s", stderr)
	}
}

// Row 1 for serve: a file that is not a model is named before the port or
// the keys are looked at.
func TestServeNotAModel(t *testing.T) {
	p := notModels(t)["notes.txt"]
	checkExits(t, []exitCase{{"notes.txt", []string{"serve", "--model", p, "--addr", "127.0.0.1:0"}, 1,
		"ragtune: model \"" + p + "\" is not a model: pass an HF model directory"}})
}

func TestServeNumericFlags(t *testing.T) {
	model := genTestModel(t)
	checkExits(t, []exitCase{
		{"rate NaN", []string{"serve", "--model", model, "--rate-limit", "NaN"}, 2, "ragtune: --rate-limit must be a finite number, not NaN"},
		{"rate -1", []string{"serve", "--model", model, "--rate-limit", "-1"}, 2, "ragtune: --rate-limit must be >= 0, not -1"},
		{"timeout 0", []string{"serve", "--model", model, "--timeout", "0s"}, 2, "ragtune: --timeout must be > 0"},
	})
}
