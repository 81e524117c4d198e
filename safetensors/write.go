package safetensors

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"ragtune/internal/atomicfile"
)

// Writer builds a safetensors file. Tensors are declared first (Add,
// AddFunc) and their bytes produced only in Close, after the header, one
// tensor at a time: a model larger than memory can be written as long as
// each AddFunc callback streams its bytes. The file appears at its path
// only when Close succeeds.
type Writer struct {
	path string
	// Metadata goes into __metadata__; it starts as {"format": "pt"}, which
	// transformers expects from PyTorch checkpoints.
	Metadata map[string]string
	// Progress, when set, is called after each tensor with bytes written
	// so far and the total.
	Progress func(done, total int64)

	tensors []TensorInfo
	fill    []func(io.Writer) error
	names   map[string]bool
	size    int64
	closed  bool
}

// NewWriter starts a file at path (written on Close).
func NewWriter(path string) *Writer {
	return &Writer{path: path, Metadata: map[string]string{"format": "pt"}, names: map[string]bool{}}
}

// Add declares a tensor whose bytes are already in memory (or mapped);
// data is retained until Close.
func (w *Writer) Add(name string, dtype DType, shape []int, data []byte) error {
	return w.AddFunc(name, dtype, shape, func(out io.Writer) error {
		_, err := out.Write(data)
		return err
	}, int64(len(data)))
}

// AddFunc declares a tensor whose bytes fill writes during Close. want is
// the byte count fill must write; pass -1 to take it from shape × dtype.
// Add passes len(data) so a wrong-sized buffer is caught here, not later.
func (w *Writer) AddFunc(name string, dtype DType, shape []int, fill func(io.Writer) error, want int64) error {
	if w.closed {
		return fmt.Errorf("safetensors writer %q: add %q after Close", w.path, name)
	}
	if name == "" || name == metaKey {
		return fmt.Errorf("safetensors writer: invalid tensor name %q", name)
	}
	if w.names[name] {
		return fmt.Errorf("safetensors writer: tensor %q added twice", name)
	}
	if dtype.Size() == 0 {
		return fmt.Errorf("safetensors writer: tensor %q has unknown dtype %q", name, dtype)
	}
	shape64 := make([]int64, len(shape))
	for i, s := range shape {
		shape64[i] = int64(s)
	}
	size, ok := spanBytes(shape64, dtype.Size())
	if !ok {
		return fmt.Errorf("safetensors writer: tensor %q has invalid shape %v", name, shape)
	}
	if want >= 0 && want != size {
		return fmt.Errorf("safetensors writer: tensor %q: shape %v of %s needs %d bytes, got %d", name, shape, dtype, size, want)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, TensorInfo{Name: name, DType: dtype, Shape: append([]int(nil), shape...), Offset: w.size, Size: size})
	w.fill = append(w.fill, fill)
	w.size += size
	return nil
}

// countingWriter checks that a fill callback writes exactly its size.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Close writes the header and every tensor to a temp file, syncs it and
// renames it to the target path.
func (w *Writer) Close() (err error) {
	if w.closed {
		return nil
	}
	w.closed = true
	header, err := encodeHeader(w.Metadata, w.tensors)
	if err != nil {
		return fmt.Errorf("write safetensors %q: header: %w", w.path, err)
	}
	f, err := atomicfile.Create(w.path)
	if err != nil {
		return fmt.Errorf("write safetensors %q: %w", w.path, err)
	}
	defer func() {
		if err != nil {
			atomicfile.Abort(f)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err := bw.Write(header); err != nil {
		return fmt.Errorf("write safetensors %q: %w", w.path, err)
	}
	var done int64
	for i, t := range w.tensors {
		cw := &countingWriter{w: bw}
		if err := w.fill[i](cw); err != nil {
			return fmt.Errorf("write safetensors %q: tensor %q: %w", w.path, t.Name, err)
		}
		if cw.n != t.Size {
			return fmt.Errorf("write safetensors %q: tensor %q: wrote %d bytes, want %d", w.path, t.Name, cw.n, t.Size)
		}
		w.fill[i] = nil // let retained data be collected
		done += t.Size
		if w.Progress != nil {
			w.Progress(done, w.size)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write safetensors %q: %w", w.path, err)
	}
	if err := atomicfile.Commit(f, w.path); err != nil {
		return fmt.Errorf("write safetensors %q: %w", w.path, err)
	}
	return nil
}

// Size returns the data bytes declared so far (excluding the header).
func (w *Writer) Size() int64 { return w.size }

// Abort drops the writer without creating the file.
func (w *Writer) Abort() {
	w.closed = true
	w.fill = nil
}

// WriteIndex writes dir/model.safetensors.index.json for shards written
// separately, atomically.
func WriteIndex(dir string, idx *Index) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", IndexFile, err)
	}
	path := filepath.Join(dir, IndexFile)
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}
