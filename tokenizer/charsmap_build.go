package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// BuildCharsmap writes a precompiled_charsmap blob (the format
// ParseCharsmap reads: SentencePiece's darts-clone double-array trie plus
// NUL-terminated replacements) mapping each key to its replacement. The
// project generates Unigram tokenizers with it; real models ship their
// own maps. Keys must be non-empty and free of NUL bytes.
func BuildCharsmap(m map[string]string) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k == "" {
			return nil, errors.New("charsmap key is empty")
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Replacement strings, each NUL-terminated; a key's value is the
	// offset of its replacement.
	var blob []byte
	value := map[string]uint32{}
	for _, k := range keys {
		value[k] = uint32(len(blob))
		blob = append(append(blob, m[k]...), 0)
	}

	type node struct {
		children map[byte]*node
		leaf     bool
		value    uint32
	}
	root := &node{children: map[byte]*node{}}
	for _, k := range keys {
		n := root
		for i := 0; i < len(k); i++ {
			if k[i] == 0 {
				return nil, fmt.Errorf("charsmap key %q holds a NUL byte", k)
			}
			c := n.children[k[i]]
			if c == nil {
				c = &node{children: map[byte]*node{}}
				n.children[k[i]] = c
			}
			n = c
		}
		n.leaf, n.value = true, value[k]
	}

	var units []uint32
	used := map[uint32]bool{0: true} // the root sits at 0
	bases := map[uint32]bool{}
	set := func(pos, v uint32) {
		for uint32(len(units)) <= pos {
			units = append(units, 0)
		}
		units[pos] = v
	}
	set(0, 0)
	// Place nodes breadth first: a node at pos with children (and a
	// value under label 0 when it ends a key) gets a base no other node
	// uses, such that every base^label is free; its unit records
	// offset = pos^base, its label and whether it has a value.
	type item struct {
		n     *node
		pos   uint32
		label uint32
	}
	queue := []item{{root, 0, 0}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		labels := make([]uint32, 0, len(it.n.children)+1)
		if it.n.leaf {
			labels = append(labels, 0)
		}
		for c := range it.n.children {
			labels = append(labels, uint32(c))
		}
		sort.Slice(labels, func(i, j int) bool { return labels[i] < labels[j] })
		var base uint32
		if len(labels) > 0 {
		search:
			for base = 1; ; base++ {
				if bases[base] {
					continue
				}
				for _, l := range labels {
					if used[base^l] {
						continue search
					}
				}
				break
			}
		}
		offset := it.pos ^ base
		if offset >= 1<<21 {
			return nil, errors.New("charsmap trie too large for this builder")
		}
		unit := offset<<10 | it.label
		if it.n.leaf {
			unit |= 1 << 8
		}
		set(it.pos, unit)
		if len(labels) == 0 {
			continue
		}
		bases[base] = true
		for _, l := range labels {
			used[base^l] = true
			set(base^l, 0)
		}
		if it.n.leaf {
			set(base, it.n.value|1<<31)
		}
		for _, l := range labels {
			if l != 0 {
				queue = append(queue, item{it.n.children[byte(l)], base ^ l, l})
			}
		}
	}
	out := make([]byte, 4, 4+4*len(units)+len(blob))
	binary.LittleEndian.PutUint32(out, uint32(4*len(units)))
	for _, u := range units {
		out = binary.LittleEndian.AppendUint32(out, u)
	}
	return append(out, blob...), nil
}
