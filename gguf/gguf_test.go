package gguf

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"ragtune/weights"
)

// builder hand-encodes GGUF bytes, independently of Writer, so corrupt
// files can be made field by field.
type builder struct{ b []byte }

func (b *builder) u32(v uint32) *builder  { b.b = binary.LittleEndian.AppendUint32(b.b, v); return b }
func (b *builder) u64(v uint64) *builder  { b.b = binary.LittleEndian.AppendUint64(b.b, v); return b }
func (b *builder) str(s string) *builder  { b.u64(uint64(len(s))); b.b = append(b.b, s...); return b }
func (b *builder) raw(p ...byte) *builder { b.b = append(b.b, p...); return b }
func (b *builder) pad(a int) *builder {
	for len(b.b)%a != 0 {
		b.b = append(b.b, 0)
	}
	return b
}

// minimal: one string key, one F32 tensor [2] at offset 0.
func minimal() []byte {
	b := &builder{}
	b.u32(Magic).u32(3).u64(1).u64(1)
	b.str("general.architecture").u32(uint32(TypeString)).str("qwen2")
	b.str("t").u32(1).u64(2).u32(uint32(weights.F32)).u64(0)
	b.pad(32)
	b.raw(0, 0, 128, 63, 0, 0, 0, 64) // 1.0, 2.0
	return b.b
}

func TestParseHandMade(t *testing.T) {
	f, err := Parse(minimal())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Keys, []string{"general.architecture"}; !reflect.DeepEqual(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if got, want := f.Metadata["general.architecture"], any("qwen2"); got != want {
		t.Errorf("architecture = %v, want %v", got, want)
	}
	ti, err := f.Tensor("t")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ti.Data, []byte{0, 0, 128, 63, 0, 0, 0, 64}; !bytes.Equal(got, want) {
		t.Errorf("data = %v, want %v", got, want)
	}
	if got, want := f.DataOffset%32, uint64(0); got != want {
		t.Errorf("data offset %d not aligned", f.DataOffset)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	w := NewWriter(path)
	meta := []struct {
		key  string
		in   any
		want any
	}{
		{"u8", uint8(7), uint8(7)},
		{"i8", int8(-7), int8(-7)},
		{"u16", uint16(600), uint16(600)},
		{"i16", int16(-600), int16(-600)},
		{"u32", uint32(1 << 30), uint32(1 << 30)},
		{"i32", int32(-5), int32(-5)},
		{"f32", float32(1e-6), float32(1e-6)},
		{"u64", uint64(1 << 40), uint64(1 << 40)},
		{"i64", int64(-1 << 40), int64(-1 << 40)},
		{"f64", 0.1, 0.1},
		{"bool", true, true},
		{"str", "你好", "你好"},
		{"int", 3, int32(3)},
		{"strs", []string{"a", "", "Ġb"}, []string{"a", "", "Ġb"}},
		{"i32s", []int32{1, -2}, []int32{1, -2}},
		{"ints", []int{1, 6}, []int32{1, 6}},
		{"u32s", []uint32{3}, []uint32{3}},
		{"f32s", []float32{0.5, -1}, []float32{0.5, -1}},
		{"u8s", []uint8{1, 2, 3}, []uint8{1, 2, 3}},
		{"i64s", []int64{-9}, []int64{-9}},
		{"bools", []bool{true, false}, []any{true, false}},
		{"nested", []any{[]string{"x"}, []string{"y", "z"}}, []any{[]string{"x"}, []string{"y", "z"}}},
		{"empty", []string{}, []string{}},
	}
	for _, m := range meta {
		if err := w.AddMetadata(m.key, m.in); err != nil {
			t.Fatalf("AddMetadata(%q): %v", m.key, err)
		}
	}
	q8 := make([]byte, 2*34) // two Q8_0 blocks: dims [64]
	for i := range q8 {
		q8[i] = byte(i)
	}
	tensors := []struct {
		name string
		typ  weights.DType
		dims []uint64
		data []byte
	}{
		{"a", weights.F32, []uint64{3, 2}, seq(24)},
		{"b", weights.F16, []uint64{5}, seq(10)},
		{"c", weights.BF16, []uint64{2, 1, 1}, seq(4)},
		{"q8", weights.Q8_0, []uint64{64}, q8},
		{"q4", weights.Q4_0, []uint64{32, 2}, seq(36)},
	}
	for _, tc := range tensors {
		if err := w.AddTensor(tc.name, tc.typ, tc.dims, tc.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.Version, uint32(3); got != want {
		t.Errorf("version = %d, want %d", got, want)
	}
	var wantKeys []string
	for _, m := range meta {
		wantKeys = append(wantKeys, m.key)
		if got := f.Metadata[m.key]; !reflect.DeepEqual(got, m.want) {
			t.Errorf("metadata %q = %#v, want %#v", m.key, got, m.want)
		}
	}
	if !reflect.DeepEqual(f.Keys, wantKeys) {
		t.Errorf("keys = %v, want %v", f.Keys, wantKeys)
	}
	for i, tc := range tensors {
		got := f.Tensors[i]
		if got.Name != tc.name || got.Type != tc.typ || !reflect.DeepEqual(got.Dims, tc.dims) || !bytes.Equal(got.Data, tc.data) {
			t.Errorf("tensor %d = %s %s %v %v, want %s %s %v %v", i, got.Name, got.Type, got.Dims, got.Data, tc.name, tc.typ, tc.dims, tc.data)
		}
		if got.Offset%DefaultAlignment != 0 {
			t.Errorf("tensor %s offset %d not aligned", tc.name, got.Offset)
		}
	}
	st, _ := os.Stat(path)
	if st.Size()%DefaultAlignment != 0 {
		t.Errorf("file size %d not a multiple of the alignment", st.Size())
	}
	if got, want := f.Tensors[0].Shape(), []int{2, 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("shape = %v, want %v", got, want)
	}
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(3*i + 1)
	}
	return b
}

func TestCustomAlignment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.gguf")
	w := NewWriter(path)
	if err := w.AddMetadata("general.alignment", uint32(64)); err != nil {
		t.Fatal(err)
	}
	w.AddTensor("x", weights.F32, []uint64{1}, seq(4))
	w.AddTensor("y", weights.F32, []uint64{1}, seq(4))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, want := f.Tensors[1].Offset, uint64(64); got != want {
		t.Errorf("second offset = %d, want %d", got, want)
	}
	if f.DataOffset%64 != 0 {
		t.Errorf("data offset %d not 64-aligned", f.DataOffset)
	}
}

func TestWriterRejects(t *testing.T) {
	w := NewWriter(filepath.Join(t.TempDir(), "x.gguf"))
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"unknown type", w.AddTensor("a", 15, []uint64{256}, make([]byte, 292)), "cannot write type Q8_K"},
		{"bad block", w.AddTensor("a", weights.Q8_0, []uint64{33}, make([]byte, 34)), "block size"},
		{"wrong size", w.AddTensor("a", weights.F32, []uint64{2}, make([]byte, 4)), "need 8 bytes"},
		{"too many dims", w.AddTensor("a", weights.F32, []uint64{1, 1, 1, 1, 1}, make([]byte, 4)), "at most 4"},
		{"bad alignment", w.AddMetadata("general.alignment", uint32(48)), "power-of-two"},
		{"bad value", w.AddMetadata("k", struct{}{}), "cannot encode"},
		{"mixed array", w.AddMetadata("k", []any{1, "a"}), "mixes"},
	}
	for _, tc := range tests {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	w.AddMetadata("k", 1)
	if err := w.AddMetadata("k", 2); err == nil {
		t.Error("duplicate key accepted")
	}
}

func TestCorrupt(t *testing.T) {
	ok := minimal()
	hdr := func() *builder { return (&builder{}).u32(Magic).u32(3) }
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), "not a GGUF"},
		{"big endian", (&builder{}).u32(Magic).u32(3 << 24).b, "byte-swapped"},
		{"version 9", (&builder{}).u32(Magic).u32(9).b, "unsupported GGUF version"},
		{"huge kv count", hdr().u64(0).u64(1 << 60).b, "metadata count"},
		{"huge tensor count", hdr().u64(1 << 60).u64(0).b, "tensor count"},
		{"key past EOF", hdr().u64(0).u64(1).u64(1000).raw(make([]byte, 20)...).b, "past the end"},
		{"string past EOF", hdr().u64(0).u64(1).str("k").u32(uint32(TypeString)).u64(1 << 40).b, "past the end"},
		{"huge array", hdr().u64(0).u64(1).str("k").u32(uint32(TypeArray)).u32(uint32(TypeUint32)).u64(1 << 50).b, "array of"},
		{"unknown value type", hdr().u64(0).u64(1).str("k").u32(99).u64(0).b, "unknown value type"},
		{"unknown array type", hdr().u64(0).u64(1).str("k").u32(uint32(TypeArray)).u32(77).u64(0).u64(0).b, "unknown array element type"},
		{"bad bool", hdr().u64(0).u64(1).str("k").u32(uint32(TypeBool)).raw(2).u64(0).b, "bool value"},
		{"duplicate key", hdr().u64(0).u64(2).str("k").u32(uint32(TypeUint8)).raw(1).str("k").u32(uint32(TypeUint8)).raw(1).b, "twice"},
		{"bad alignment", hdr().u64(0).u64(1).str("general.alignment").u32(uint32(TypeUint32)).u32(3).u64(0).u64(0).b, "power-of-two"},
		{"too many dims", hdr().u64(1).u64(0).str("t").u32(5).raw(make([]byte, 64)...).b, "at most 4"},
		{"unknown tensor type", hdr().u64(1).u64(0).str("t").u32(1).u64(4).u32(99).u64(0).pad(32).raw(make([]byte, 32)...).b, "unknown ggml tensor type"},
		{"misaligned offset", hdr().u64(1).u64(0).str("t").u32(1).u64(1).u32(0).u64(4).pad(32).raw(make([]byte, 32)...).b, "not a multiple of the alignment"},
		{"data past EOF", hdr().u64(1).u64(0).str("t").u32(1).u64(64).u32(0).u64(0).pad(32).raw(make([]byte, 32)...).b, "past the end"},
		{"truncated", ok[:len(ok)-1], "past the end"},
		{"overflowing dims", hdr().u64(1).u64(0).str("t").u32(2).u64(1 << 40).u64(1 << 40).u32(0).u64(0).pad(32).b, "overflow"},
		{"overlap", hdr().u64(2).u64(0).str("a").u32(1).u64(16).u32(0).u64(0).str("b").u32(1).u64(1).u32(0).u64(32).pad(32).raw(make([]byte, 64)...).b, "overlap"},
		{"duplicate tensor", hdr().u64(2).u64(0).str("a").u32(1).u64(1).u32(0).u64(0).str("a").u32(1).u64(1).u32(0).u64(32).pad(32).raw(make([]byte, 64)...).b, "twice"},
		{"q8 partial block", hdr().u64(1).u64(0).str("t").u32(1).u64(16).u32(8).u64(0).pad(32).raw(make([]byte, 34)...).b, "block size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file)
			if err == nil {
				t.Fatalf("no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestVersion2(t *testing.T) {
	b := minimal()
	binary.LittleEndian.PutUint32(b[4:], 2)
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Version, uint32(2); got != want {
		t.Errorf("version = %d, want %d", got, want)
	}
}

func TestVersion1Rejected(t *testing.T) {
	b := minimal()
	binary.LittleEndian.PutUint32(b[4:], 1)
	if _, err := Parse(b); err == nil || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("err = %v", err)
	}
}

func TestTypeSizes(t *testing.T) {
	tests := []struct {
		typ   weights.DType
		dims  []uint64
		bytes uint64
	}{
		{weights.F32, []uint64{3, 5}, 60},
		{weights.F16, []uint64{7}, 14},
		{weights.BF16, []uint64{2, 2}, 8},
		{weights.Q8_0, []uint64{64, 3}, 6 * 34},
		{weights.Q4_0, []uint64{32, 10}, 10 * 18},
		{12, []uint64{256}, 144},
	}
	for _, tc := range tests {
		got, err := TensorBytes(tc.typ, tc.dims)
		if err != nil || got != tc.bytes {
			t.Errorf("TensorBytes(%s, %v) = %d, %v; want %d", TypeName(tc.typ), tc.dims, got, err, tc.bytes)
		}
	}
	if _, err := TensorBytes(99, []uint64{1}); err == nil || !strings.Contains(err.Error(), "unknown ggml tensor type 99") {
		t.Errorf("unknown type: err = %v", err)
	}
}

// FuzzParseHeader feeds arbitrary bytes to the parser: an error is fine,
// a panic or a tensor whose data is not its computed size is not.
func FuzzParseHeader(f *testing.F) {
	f.Add(minimal())
	b := &builder{}
	b.u32(Magic).u32(3).u64(1).u64(3)
	b.str("general.alignment").u32(uint32(TypeUint32)).u32(64)
	b.str("toks").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(2).str("a").str("b")
	b.str("nest").u32(uint32(TypeArray)).u32(uint32(TypeArray)).u64(1).u32(uint32(TypeInt8)).u64(1).raw(5)
	b.str("q").u32(2).u64(32).u64(1).u32(uint32(weights.Q8_0)).u64(0).pad(64).raw(make([]byte, 34)...)
	f.Add(b.b)
	f.Add([]byte("GGUF\x02\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for _, ti := range file.Tensors {
			n, err := TensorBytes(ti.Type, ti.Dims)
			if err != nil || uint64(len(ti.Data)) != n {
				t.Fatalf("tensor %q: %d bytes, computed %d (%v)", ti.Name, len(ti.Data), n, err)
			}
		}
	})
}
