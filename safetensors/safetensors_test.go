package safetensors

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// handMade builds a file byte by byte from a header string, independent of
// the writer, so the reader is not only tested against itself.
func handMade(header string, data []byte) []byte {
	out := make([]byte, 8)
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

func TestParseHandMade(t *testing.T) {
	data := []byte{0, 0, 128, 63, 0, 0, 0, 64, 0x80, 0x3f, 0x00, 0x40}
	file := handMade(`{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}`, data)
	f, err := Parse(file)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Metadata, map[string]string{"format": "pt"}; !reflect.DeepEqual(got, want) {
		t.Errorf("metadata = %v, want %v", got, want)
	}
	if got, want := f.Names(), []string{"a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	a, err := f.Tensor("a")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.Shape, []int{1, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("a.Shape = %v, want %v", got, want)
	}
	if got, want := a.Data, data[:8]; !bytes.Equal(got, want) {
		t.Errorf("a.Data = %v, want %v", got, want)
	}
	b, _ := f.Tensor("b")
	if got, want := b.DType, BF16; got != want {
		t.Errorf("b.DType = %v, want %v", got, want)
	}
	if _, err := f.Tensor("c"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing tensor: err = %v", err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	w := NewWriter(path)
	tensors := []struct {
		name  string
		dtype DType
		shape []int
		data  []byte
	}{
		{"w", F32, []int{2, 3}, seqBytes(24)},
		{"h", F16, []int{5}, seqBytes(10)},
		{"b", BF16, []int{3, 1}, seqBytes(6)},
		{"i", I64, []int{2}, seqBytes(16)},
		{"u", U8, []int{3}, seqBytes(3)},
		{"scalar", I32, []int{}, seqBytes(4)},
		{"empty", F32, []int{0, 4}, nil},
	}
	for _, tc := range tensors {
		if err := w.Add(tc.name, tc.dtype, tc.shape, tc.data); err != nil {
			t.Fatal(err)
		}
	}
	var calls int
	w.Progress = func(done, total int64) { calls++ }
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := calls, len(tensors); got != want {
		t.Errorf("progress calls = %d, want %d", got, want)
	}
	raw, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint64(raw); (8+n)%8 != 0 {
		t.Errorf("data section starts at %d, not 8-aligned", 8+n)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.Metadata["format"], "pt"; got != want {
		t.Errorf("format = %q, want %q", got, want)
	}
	for _, tc := range tensors {
		got, err := f.Tensor(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if got.DType != tc.dtype || !reflect.DeepEqual(got.Shape, tc.shape) || !bytes.Equal(got.Data, tc.data) {
			t.Errorf("%s: got %s %v %v, want %s %v %v", tc.name, got.DType, got.Shape, got.Data, tc.dtype, tc.shape, tc.data)
		}
	}
	// No temp files left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir has %d entries, want only the file", len(entries))
	}
}

func seqBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

func TestWriterRejects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	w := NewWriter(path)
	if err := w.Add("a", F32, []int{2}, make([]byte, 7)); err == nil {
		t.Error("wrong-size data accepted")
	}
	if err := w.Add("a", "Q4", []int{2}, make([]byte, 8)); err == nil {
		t.Error("unknown dtype accepted")
	}
	if err := w.Add("a", F32, []int{2}, make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	if err := w.Add("a", F32, []int{2}, make([]byte, 8)); err == nil {
		t.Error("duplicate name accepted")
	}
	short := func(out io.Writer) error { _, err := out.Write([]byte{1}); return err }
	if err := w.AddFunc("b", U8, []int{2}, short, -1); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "wrote 1 bytes, want 2") {
		t.Errorf("short fill: err = %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("failed write left %q behind (stat err %v)", path, err)
	}
}

func TestShardedDir(t *testing.T) {
	dir := t.TempDir()
	shards := map[string][]string{
		"model-00001-of-00002.safetensors": {"x", "y"},
		"model-00002-of-00002.safetensors": {"z"},
	}
	idx := &Index{Metadata: map[string]any{"total_size": 24}, WeightMap: map[string]string{}}
	for shard, names := range shards {
		w := NewWriter(filepath.Join(dir, shard))
		for i, n := range names {
			if err := w.Add(n, F32, []int{2}, []byte{byte(i), 0, 0, 0, 1, 2, 3, byte(len(n))}); err != nil {
				t.Fatal(err)
			}
			idx.WeightMap[n] = shard
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteIndex(dir, idx); err != nil {
		t.Fatal(err)
	}
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.Names(), []string{"x", "y", "z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	if got, want := len(s.Files), 2; got != want {
		t.Errorf("files = %d, want %d", got, want)
	}
	y, err := s.Tensor("y")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := y.Data, []byte{1, 0, 0, 0, 1, 2, 3, 1}; !bytes.Equal(got, want) {
		t.Errorf("y = %v, want %v", got, want)
	}

	// An index that names a tensor its shard lacks is an error.
	idx.WeightMap["ghost"] = "model-00002-of-00002.safetensors"
	if err := WriteIndex(dir, idx); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Errorf("ghost tensor: err = %v", err)
	}
	// A shard path escaping the directory is refused.
	delete(idx.WeightMap, "ghost")
	idx.WeightMap["x"] = "../model-00001-of-00002.safetensors"
	WriteIndex(dir, idx)
	if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "plain file name") {
		t.Errorf("escaping shard: err = %v", err)
	}
}

func TestOpenDirMissing(t *testing.T) {
	_, err := OpenDir(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "HF model directory") {
		t.Errorf("err = %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	ok := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	hugeLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeLen, 1<<62)
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "shorter than"},
		{"huge header length", hugeLen, "exceeds"},
		{"header past EOF", handMade(ok, nil)[:20], "past the end"},
		{"not json", handMade(`{"a":`, nil), "header JSON"},
		{"json array", handMade(`[1,2]`, nil), "not a JSON object"},
		{"unknown dtype", handMade(`{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, make([]byte, 1)), "unknown dtype"},
		{"truncated data", handMade(ok, make([]byte, 4)), "truncated"},
		{"shape mismatch", handMade(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "needs 12 bytes"},
		{"negative dim", handMade(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, make([]byte, 8)), "invalid"},
		{"overflowing shape", handMade(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, make([]byte, 8)), "too large"},
		{"reversed offsets", handMade(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}`, make([]byte, 8)), "bad data_offsets"},
		{"one offset", handMade(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0]}}`, nil), "2 numbers"},
		{"overlap", handMade(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "overlap"},
		{"extra field", handMade(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, make([]byte, 8)), "unknown field"},
		{"bad metadata", handMade(`{"__metadata__":{"n":1}}`, nil), "__metadata__"},
		{"float shape", handMade(`{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, make([]byte, 8)), "tensor \"a\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file)
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !ErrCorrupt(err) {
				t.Errorf("err = %v, want corrupt error containing %q", err, tc.want)
			}
		})
	}
}

func TestOpenTruncatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	w := NewWriter(path)
	w.Add("a", F32, []int{4}, make([]byte, 16))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, raw[:len(raw)-3], 0o644)
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want a truncation error naming the file", err)
	}
}

// FuzzParseHeader feeds arbitrary bytes to the header parser: it must
// return an error or a header whose every span lies inside the input,
// never panic.
func FuzzParseHeader(f *testing.F) {
	f.Add(handMade(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(handMade(`{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(handMade(`{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1]},"b":{"dtype":"I64","shape":[0],"data_offsets":[1,1]}}`, make([]byte, 1)))
	f.Add(handMade(`{}`, nil))
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for _, ti := range file.Tensors {
			tt, err := file.Tensor(ti.Name)
			if err != nil {
				t.Fatalf("listed tensor %q not found: %v", ti.Name, err)
			}
			if int64(len(tt.Data)) != ti.Size {
				t.Fatalf("tensor %q has %d bytes, header says %d", ti.Name, len(tt.Data), ti.Size)
			}
		}
	})
}
