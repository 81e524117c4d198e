package quant

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"sync"

	"ragtune/internal/atomicfile"
)

// An importance matrix says, for each weight matrix, how large its inputs
// are: per input column, the mean of the squared activation over a
// calibration text. Quantizing with it (WeightedEncoder) spends the error
// budget where activations are small, which is what llama.cpp's
// llama-imatrix collects and llama-quantize --imatrix uses.

// IMatrixEntry is one weight matrix's statistics as llama-imatrix stores
// them: Values[j] is the mean of x_j² times NCall (so files from several
// runs add up), NCall the number of matrix products it saw.
type IMatrixEntry struct {
	NCall  int32
	Values []float32
}

// IMatrix is an importance matrix in llama.cpp's legacy imatrix.dat form,
// keyed by GGUF tensor name ("blk.0.attn_q.weight").
type IMatrix struct {
	Entries map[string]*IMatrixEntry
	// Chunks is the number of context windows it was computed on (the
	// file's last_call), Dataset the calibration file it names.
	Chunks  int32
	Dataset string
}

// Weights returns the importance weights llama-quantize derives from the
// entry of a tensor with cols input columns (each value divided by NCall,
// in float32 as it does), nil when the matrix has no entry for it, or an
// error when the entry has another width.
func (m *IMatrix) Weights(name string, cols int) ([]float32, error) {
	if m == nil {
		return nil, nil
	}
	e, ok := m.Entries[name]
	if !ok {
		return nil, nil
	}
	if len(e.Values) != cols {
		return nil, fmt.Errorf("importance matrix entry %q has %d values, the tensor %d columns: the matrix was computed for another model", name, len(e.Values), cols)
	}
	w := make([]float32, cols)
	for i, v := range e.Values {
		if e.NCall > 0 {
			v /= float32(e.NCall)
		}
		w[i] = v
	}
	return w, nil
}

// Names lists the entries in name order.
func (m *IMatrix) Names() []string {
	names := make([]string, 0, len(m.Entries))
	for n := range m.Entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReadIMatrix parses an imatrix.dat file: int32 entry count; per entry an
// int32-length name, int32 ncall, int32 value count and that many
// float32; then (newer files) int32 last_call and an int32-length dataset
// name. All little-endian.
func ReadIMatrix(r io.Reader) (*IMatrix, error) {
	br := bufio.NewReader(r)
	var n int32
	if err := binary.Read(br, binary.LittleEndian, &n); err != nil {
		return nil, fmt.Errorf("imatrix: read entry count: %w", err)
	}
	if n < 1 {
		return nil, fmt.Errorf("imatrix: the file holds %d entries", n)
	}
	m := &IMatrix{Entries: make(map[string]*IMatrixEntry, n)}
	for i := int32(0); i < n; i++ {
		name, err := readIMatrixString(br)
		if err != nil {
			return nil, fmt.Errorf("imatrix: entry %d name: %w", i+1, err)
		}
		var hdr [2]int32
		if err := binary.Read(br, binary.LittleEndian, &hdr); err != nil {
			return nil, fmt.Errorf("imatrix: entry %q header: %w", name, err)
		}
		if hdr[1] < 1 || hdr[1] > 1<<28 {
			return nil, fmt.Errorf("imatrix: entry %q has %d values", name, hdr[1])
		}
		e := &IMatrixEntry{NCall: hdr[0], Values: make([]float32, hdr[1])}
		if err := binary.Read(br, binary.LittleEndian, e.Values); err != nil {
			return nil, fmt.Errorf("imatrix: entry %q values: %w", name, err)
		}
		for _, v := range e.Values {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("imatrix: entry %q holds a non-finite value", name)
			}
		}
		m.Entries[name] = e
	}
	// Older files end here; newer ones add the chunk count and dataset.
	if err := binary.Read(br, binary.LittleEndian, &m.Chunks); errors.Is(err, io.EOF) {
		return m, nil
	} else if err != nil {
		return nil, fmt.Errorf("imatrix: chunk count: %w", err)
	}
	ds, err := readIMatrixString(br)
	if err != nil {
		return nil, fmt.Errorf("imatrix: dataset name: %w", err)
	}
	m.Dataset = ds
	return m, nil
}

func readIMatrixString(r io.Reader) (string, error) {
	var n int32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return "", err
	}
	if n < 0 || n > 1<<20 {
		return "", fmt.Errorf("length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// LoadIMatrix reads an imatrix.dat file.
func LoadIMatrix(path string) (*IMatrix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load importance matrix: %w", err)
	}
	defer f.Close()
	m, err := ReadIMatrix(f)
	if err != nil {
		return nil, fmt.Errorf("load importance matrix %q: %w (is it llama-imatrix's .dat format?)", path, err)
	}
	return m, nil
}

// WriteTo writes the file llama-imatrix writes (entries in name order).
func (m *IMatrix) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	le := binary.LittleEndian
	put := func(v any) { binary.Write(&b, le, v) }
	putString := func(s string) {
		put(int32(len(s)))
		b.WriteString(s)
	}
	put(int32(len(m.Entries)))
	for _, name := range m.Names() {
		e := m.Entries[name]
		putString(name)
		put(e.NCall)
		put(int32(len(e.Values)))
		put(e.Values)
	}
	put(m.Chunks)
	putString(m.Dataset)
	return b.WriteTo(w)
}

// Save writes the matrix to path atomically.
func (m *IMatrix) Save(path string) error {
	var b bytes.Buffer
	m.WriteTo(&b)
	if err := atomicfile.WriteFile(path, b.Bytes()); err != nil {
		return fmt.Errorf("save importance matrix: %w", err)
	}
	return nil
}

// IMatrixCollector accumulates the squared inputs of matrix products into
// an importance matrix as llama-imatrix does: per weight, per input column,
// a float32 sum of x² over every token, the number of tokens, and the
// number of batches. Batches of fewer than MinBatchTokens tokens are not
// counted (llama-imatrix skips them). Safe for concurrent Observe calls.
type IMatrixCollector struct {
	mu      sync.Mutex
	stats   map[string]*imatrixStats
	active  bool
	batches int32 // largest ncall so far: llama-imatrix's last_call
}

type imatrixStats struct {
	sums   []float32
	counts []int32
	ncall  int32
	seen   bool // observed in the current batch
}

// MinBatchTokens is the smallest batch llama-imatrix collects from.
const MinBatchTokens = 16

// NewIMatrixCollector returns an empty collector.
func NewIMatrixCollector() *IMatrixCollector {
	return &IMatrixCollector{stats: map[string]*imatrixStats{}}
}

// BeginBatch starts a batch of n tokens (llama.cpp's ubatch): products
// until EndBatch count if n is at least MinBatchTokens.
func (c *IMatrixCollector) BeginBatch(n int) {
	c.mu.Lock()
	c.active = n >= MinBatchTokens
	c.mu.Unlock()
}

// EndBatch closes the batch: each weight it saw counts one more call.
func (c *IMatrixCollector) EndBatch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.stats {
		if s.seen {
			s.seen = false
			s.ncall++
			c.batches = max(c.batches, s.ncall)
		}
	}
	c.active = false
}

// Observe adds the input x (T rows of cols) of a product with weight name.
func (c *IMatrixCollector) Observe(name string, x []float32, T, cols int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active {
		return
	}
	s := c.stats[name]
	if s == nil {
		s = &imatrixStats{sums: make([]float32, cols), counts: make([]int32, cols)}
		c.stats[name] = s
	}
	if len(s.sums) != cols {
		return // cannot happen for a fixed model: one name, one width
	}
	s.seen = true
	for t := 0; t < T; t++ {
		row := x[t*cols : (t+1)*cols]
		for j, v := range row {
			s.sums[j] += float32(v * v)
		}
	}
	for j := range s.counts {
		s.counts[j] += int32(T)
	}
}

// IMatrix returns what was collected in the file form (values are
// sum/count·ncall, rounded as llama-imatrix rounds them); dataset names the
// calibration text. Entries with a column never seen are left out, as
// llama-imatrix leaves them out.
func (c *IMatrixCollector) IMatrix(dataset string) (*IMatrix, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := &IMatrix{Entries: map[string]*IMatrixEntry{}, Chunks: c.batches, Dataset: dataset}
outer:
	for name, s := range c.stats {
		e := &IMatrixEntry{NCall: s.ncall, Values: make([]float32, len(s.sums))}
		for j, sum := range s.sums {
			if s.counts[j] == 0 {
				continue outer
			}
			if math.IsInf(float64(sum), 0) || math.IsNaN(float64(sum)) {
				return nil, fmt.Errorf("importance matrix: non-finite sum of squares in %s (the model overflows on this text)", name)
			}
			e.Values[j] = float32(sum/float32(s.counts[j])) * float32(s.ncall)
		}
		m.Entries[name] = e
	}
	if len(m.Entries) == 0 {
		return nil, errors.New("importance matrix: no matrix products were observed (the text is too short for one batch of 16 tokens?)")
	}
	return m, nil
}
