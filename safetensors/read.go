package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"ragtune/internal/mmap"
	"sort"
)

// ErrNotFound is returned (wrapped) when a file or set lacks a tensor.
var ErrNotFound = errors.New("tensor not found")

// Tensor is one tensor's description plus its bytes, a view into the
// mapped file: read-only, and invalid after Close.
type Tensor struct {
	TensorInfo
	Data []byte
}

// File is an open, memory-mapped safetensors file.
type File struct {
	Path string
	*Header
	data   []byte
	unmap  func() error
	byName map[string]int
}

// Open maps path and validates its header.
func Open(path string) (*File, error) {
	data, unmap, err := mmap.Map(path)
	if err != nil {
		return nil, fmt.Errorf("open safetensors %q: %w", path, err)
	}
	f, err := newFile(path, data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("open safetensors %q: %w", path, err)
	}
	f.unmap = unmap
	return f, nil
}

// Parse reads a safetensors image held in memory (tests, small files).
func Parse(data []byte) (*File, error) {
	f, err := newFile("", data)
	if err != nil {
		return nil, fmt.Errorf("parse safetensors: %w", err)
	}
	return f, nil
}

func newFile(path string, data []byte) (*File, error) {
	h, err := ParseHeader(data, int64(len(data)))
	if err != nil {
		return nil, err
	}
	f := &File{Path: path, Header: h, data: data, byName: make(map[string]int, len(h.Tensors))}
	for i, t := range h.Tensors {
		f.byName[t.Name] = i
	}
	return f, nil
}

// Tensor returns the named tensor or an error wrapping ErrNotFound.
func (f *File) Tensor(name string) (*Tensor, error) {
	i, ok := f.byName[name]
	if !ok {
		return nil, fmt.Errorf("safetensors %q: %w: %q", f.Path, ErrNotFound, name)
	}
	t := f.Tensors[i]
	start := f.DataStart + t.Offset
	return &Tensor{TensorInfo: t, Data: f.data[start : start+t.Size : start+t.Size]}, nil
}

// Names lists the tensor names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for _, t := range f.Tensors {
		names = append(names, t.Name)
	}
	sort.Strings(names)
	return names
}

// Close unmaps the file; tensors obtained from it must no longer be used.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	f.data = nil
	return err
}

// IndexFile is the name of the shard index in a sharded HF checkpoint.
const IndexFile = "model.safetensors.index.json"

// Index is model.safetensors.index.json: which shard holds each tensor.
type Index struct {
	Metadata  map[string]any    `json:"metadata,omitempty"`
	WeightMap map[string]string `json:"weight_map"`
}

// Set is the tensors of a model directory, from one file or several shards.
type Set struct {
	Files  []*File
	byName map[string]*File
}

// OpenDir opens the checkpoint in an HF model directory: the shards listed
// in model.safetensors.index.json when present, else model.safetensors.
func OpenDir(dir string) (*Set, error) {
	idxPath := filepath.Join(dir, IndexFile)
	b, err := os.ReadFile(idxPath)
	switch {
	case err == nil:
		return openSharded(dir, idxPath, b)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read %q: %w", idxPath, err)
	}
	single := filepath.Join(dir, "model.safetensors")
	f, err := Open(single)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%q holds neither model.safetensors nor %s: is it an HF model directory?", dir, IndexFile)
		}
		return nil, err
	}
	return NewSet(f), nil
}

func openSharded(dir, idxPath string, b []byte) (*Set, error) {
	var idx Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("parse %q: %w", idxPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%q has an empty weight_map", idxPath)
	}
	shards := map[string]*File{}
	var files []*File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	names := make([]string, 0, len(idx.WeightMap))
	for n := range idx.WeightMap {
		names = append(names, n)
	}
	sort.Strings(names)
	s := &Set{byName: make(map[string]*File, len(names))}
	for _, name := range names {
		shard := idx.WeightMap[name]
		if shard == "" || filepath.Base(shard) != shard {
			closeAll()
			return nil, fmt.Errorf("%q: tensor %q maps to shard %q, which is not a plain file name", idxPath, name, shard)
		}
		f, ok := shards[shard]
		if !ok {
			var err error
			f, err = Open(filepath.Join(dir, shard))
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("shard of %q: %w", dir, err)
			}
			shards[shard] = f
			files = append(files, f)
		}
		if _, ok := f.byName[name]; !ok {
			closeAll()
			return nil, fmt.Errorf("%q: tensor %q should be in %s but is not", idxPath, name, shard)
		}
		s.byName[name] = f
	}
	s.Files = files
	return s, nil
}

// NewSet groups already-open files into one set (later files win on
// duplicate names).
func NewSet(files ...*File) *Set {
	s := &Set{Files: files, byName: map[string]*File{}}
	for _, f := range files {
		for _, t := range f.Tensors {
			s.byName[t.Name] = f
		}
	}
	return s
}

// Tensor returns the named tensor from whichever shard holds it.
func (s *Set) Tensor(name string) (*Tensor, error) {
	f, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %w: %q", ErrNotFound, name)
	}
	return f.Tensor(name)
}

// Names lists every tensor name in the set, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close unmaps every shard.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.Files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// ReleasePages tells the kernel the process is done with data, a tensor's
// bytes from this file, for now: a streaming conversion then does not keep
// the whole checkpoint resident. The bytes stay readable (they fault back
// in from the file). Data not from this file's mapping is ignored.
func (f *File) ReleasePages(data []byte) { mmap.ReleasePages(f.data, data) }

// ReleasePages releases data from whichever shard it came from.
func (s *Set) ReleasePages(data []byte) {
	for _, f := range s.Files {
		f.ReleasePages(data)
	}
}
