package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"ragtune/gguf"
	"ragtune/quant"
	"ragtune/weights"
)

// imatrixGolden is testdata/quantize_llamacpp_imatrix.json, written by
// scripts/imatrix_llamacpp_golden.py: per generated model, its init flags,
// the imatrix.dat llama-imatrix made on testdata/imatrix_calibration.txt,
// the context it used, and per mix each tensor's type and hash after
// llama-quantize --imatrix.
func imatrixGolden(t *testing.T) map[string]map[string]json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile("testdata/quantize_llamacpp_imatrix.json")
	if os.IsNotExist(err) {
		t.Skip("testdata/quantize_llamacpp_imatrix.json is absent; scripts/imatrix_llamacpp_golden.py writes it")
	}
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func goldenString(t *testing.T, m map[string]json.RawMessage, key string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(m[key], &s); err != nil {
		t.Fatalf("golden %q: %v", key, err)
	}
	return s
}

func initGoldenModel(t *testing.T, dir, name string, m map[string]json.RawMessage) string {
	t.Helper()
	var init []string
	if err := json.Unmarshal(m["init"], &init); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, name)
	if err := runModelInit(append([]string{"--out", model}, init...)); err != nil {
		t.Fatal(err)
	}
	return model
}

// TestQuantizeIMatrixMatchesLlamaCpp: given llama-imatrix's own file,
// `ragtune quantize --imatrix` writes every tensor of every mix with the
// type and bytes llama-quantize --imatrix wrote: the weighted K-quant
// quantizers on the 256-wide model, the weighted Q4_0/Q5_0/Q5_1 fallbacks
// (and the unweighted Q8_0) on the tiny one.
func TestQuantizeIMatrixMatchesLlamaCpp(t *testing.T) {
	golden := imatrixGolden(t)
	dir := t.TempDir()
	for _, name := range sortedKeys(golden) {
		g := golden[name]
		if testing.Short() && name != "tiny" {
			continue
		}
		dat := filepath.Join("testdata", goldenString(t, g, "imatrix"))
		model := initGoldenModel(t, dir, name, g)
		for _, mix := range sortedKeys(g) {
			if mix == "init" || mix == "imatrix" || mix == "ctx" {
				continue
			}
			t.Run(name+"/"+mix, func(t *testing.T) {
				var want map[string][2]any
				if err := json.Unmarshal(g[mix], &want); err != nil {
					t.Fatal(err)
				}
				typ, pure := strings.CutSuffix(mix, "+pure")
				out := filepath.Join(dir, name+"-"+strings.ReplaceAll(mix, "+", "-")+".gguf")
				args := []string{"--model", model, "--type", typ, "--out", out, "--imatrix", dat}
				if pure {
					args = append(args, "--pure")
				}
				if err := runQuantize(args); err != nil {
					t.Fatal(err)
				}
				compareGGUFTensors(t, out, want)
				// The metadata llama-quantize adds (checked once against
				// its file: same keys, types and values).
				imx, err := quant.LoadIMatrix(dat)
				if err != nil {
					t.Fatal(err)
				}
				f, err := gguf.Open(out)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				for k, v := range map[string]any{
					"quantize.imatrix.file": dat, "quantize.imatrix.dataset": imx.Dataset,
					"quantize.imatrix.entries_count": int32(len(imx.Entries)), "quantize.imatrix.chunks_count": imx.Chunks,
				} {
					if got := f.Metadata[k]; got != v {
						t.Errorf("%s = %v (%T), want %v (%T)", k, got, got, v, v)
					}
				}
			})
		}
	}
}

func compareGGUFTensors(t *testing.T, path string, want map[string][2]any) {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := len(f.Tensors); got != len(want) {
		t.Errorf("%d tensors, llama.cpp wrote %d", got, len(want))
	}
	for _, ti := range f.Tensors {
		w, ok := want[ti.Name]
		if !ok {
			t.Errorf("tensor %q not in llama.cpp's file", ti.Name)
			continue
		}
		sum := sha256.Sum256(ti.Data)
		if got, wt := uint32(ti.Type), uint32(w[0].(float64)); got != wt {
			t.Errorf("%s: type %s, llama.cpp chose %s", ti.Name, ti.Type, weights.DType(wt))
		} else if got := hex.EncodeToString(sum[:8]); got != w[1].(string) {
			t.Errorf("%s (%s): bytes differ from llama.cpp's (sha256 %s…, want %s…)", ti.Name, ti.Type, got, w[1])
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// imatrixTolerance bounds the relative difference of each collected value
// from llama-imatrix's: the sums of squares are float32 over the same
// tokens, but the activations come from two engines (different matrix
// product summation orders; both with an F16 KV cache), so they differ
// by rounding, compounded over the layers (measured worst: 4.9e-4 on the
// 8-layer model, 9.5e-5 on the tiny one).
const imatrixTolerance = 1e-3

// TestIMatrixCollectMatchesLlamaCpp: `ragtune quantize --imatrix-data`
// on the calibration text collects the matrix llama-imatrix collected on
// it (same entries, call counts, chunk count and dataset name; values
// within imatrixTolerance), and the file it saves reads back equal.
func TestIMatrixCollectMatchesLlamaCpp(t *testing.T) {
	golden := imatrixGolden(t)
	dir := t.TempDir()
	for _, name := range sortedKeys(golden) {
		g := golden[name]
		if testing.Short() && name != "tiny" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			want, err := quant.LoadIMatrix(filepath.Join("testdata", goldenString(t, g, "imatrix")))
			if err != nil {
				t.Fatal(err)
			}
			var ctx int
			if err := json.Unmarshal(g["ctx"], &ctx); err != nil {
				t.Fatal(err)
			}
			model := initGoldenModel(t, dir, name, g)
			saved := filepath.Join(dir, name+".imatrix")
			out := filepath.Join(dir, name+"-collected.gguf")
			if err := runQuantize([]string{"--model", model, "--type", "q8_0", "--out", out,
				"--imatrix-data", "testdata/imatrix_calibration.txt", "--imatrix-ctx", strconv.Itoa(ctx), "--imatrix-out", saved}); err != nil {
				t.Fatal(err)
			}
			got, err := quant.LoadIMatrix(saved)
			if err != nil {
				t.Fatal(err)
			}
			if got.Chunks != want.Chunks || got.Dataset != want.Dataset {
				t.Errorf("chunks %d, dataset %q; llama-imatrix: %d, %q", got.Chunks, got.Dataset, want.Chunks, want.Dataset)
			}
			if g, w := got.Names(), want.Names(); strings.Join(g, ",") != strings.Join(w, ",") {
				t.Fatalf("entries %v\nllama-imatrix's %v", g, w)
			}
			worst, where := 0.0, ""
			for _, n := range want.Names() {
				ge, we := got.Entries[n], want.Entries[n]
				if ge.NCall != we.NCall || len(ge.Values) != len(we.Values) {
					t.Errorf("%s: %d calls, %d values; llama-imatrix %d, %d", n, ge.NCall, len(ge.Values), we.NCall, len(we.Values))
					continue
				}
				for j, w := range we.Values {
					if r := math.Abs(float64(ge.Values[j]-w)) / math.Abs(float64(w)); r > worst || math.IsNaN(r) {
						worst, where = r, n+"["+strconv.Itoa(j)+"]"
					}
				}
			}
			t.Logf("worst relative difference %.2g at %s", worst, where)
			if !(worst <= imatrixTolerance) {
				t.Errorf("collected values differ from llama-imatrix's by up to %.3g (at %s), more than %g", worst, where, imatrixTolerance)
			}
		})
	}
}

// TestQuantizeIMatrixReport: --imatrix-data on fine-tuning data (.jsonl
// conversations, rendered with the model's chat template) collects a
// matrix, and with --ppl-file the report gives the held-out perplexity
// with the matrix (the quantized file's) and without it (the same type
// quantized again without it), both plausible.
func TestQuantizeIMatrixReport(t *testing.T) {
	dir := genTestModel(t)
	tmp := t.TempDir()
	var rows strings.Builder
	for i := range 40 {
		rows.WriteString(`{"instruction": "What does an importance matrix record? (` + strconv.Itoa(i) + `)", "output": "The mean squared input of each column of every weight matrix, over calibration text."}` + "\n")
	}
	calib := filepath.Join(tmp, "calib.jsonl")
	held := filepath.Join(tmp, "held.txt")
	if err := os.WriteFile(calib, []byte(rows.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(held, []byte(strings.Repeat("Rounding error matters in proportion to the input it multiplies. ", 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "q.gguf")
	saved := filepath.Join(tmp, "calib.imatrix")
	code, stdout, stderr := runCaptured(t, "quantize", "--model", dir, "--type", "q4_k_m", "--out", out,
		"--imatrix-data", calib, "--imatrix-ctx", "64", "--imatrix-out", saved, "--ppl-file", held, "--ppl-window", "64")
	if code != 0 {
		t.Fatalf("quantize exit %d: %s", code, stderr)
	}
	m := regexp.MustCompile(`quantized ([\d.]+) .*\n.*with the importance matrix ([\d.]+) \(([-+][\d.]+)%\), without it ([\d.]+) \(([-+][\d.]+)%\)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no with/without report in %q", stdout)
	}
	quantized, _ := strconv.ParseFloat(m[1], 64)
	with, _ := strconv.ParseFloat(m[2], 64)
	without, _ := strconv.ParseFloat(m[4], 64)
	if with != quantized || with <= 1 || without <= 1 {
		t.Errorf("report: quantized %v, with %v, without %v", quantized, with, without)
	}
	imx, err := quant.LoadIMatrix(saved)
	if err != nil {
		t.Fatal(err)
	}
	if imx.Dataset != calib || len(imx.Entries) != 14 { // 2 layers × 7 projections
		t.Errorf("saved matrix: dataset %q, %d entries", imx.Dataset, len(imx.Entries))
	}
	if _, err := os.Stat(filepath.Join(tmp, "q.gguf")); err != nil {
		t.Error(err)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, ".ragtune-no-imatrix-*"))
	if len(left) != 0 {
		t.Errorf("the comparison file was left behind: %v", left)
	}
}

// Usage errors: the two matrix sources exclude each other, --imatrix-out
// needs --imatrix-data, and a text shorter than two windows says so.
func TestQuantizeIMatrixUsage(t *testing.T) {
	dir := genTestModel(t)
	tmp := t.TempDir()
	short := filepath.Join(tmp, "short.txt")
	os.WriteFile(short, []byte("too short"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--imatrix", "a.dat", "--imatrix-data", short}, "exclude each other"},
		{[]string{"--imatrix-out", "a.dat"}, "add --imatrix-data"},
		{[]string{"--imatrix-data", short}, "needs at least"},
		{[]string{"--imatrix-data", short, "--imatrix-ctx", "8"}, "--imatrix-ctx must be"},
	} {
		args := append([]string{"quantize", "--model", dir, "--type", "q4_k_m", "--out", filepath.Join(tmp, "x.gguf")}, c.args...)
		code, _, stderr := runCaptured(t, args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
