package quant

import (
	"fmt"
	"math"
	"sync"
	"unsafe"

	"ragtune/tensor"
	"ragtune/weights"
)

// Packed is a Q8_0 or Q4_0 weight matrix repacked at load for the int8 tile
// kernels (AVX512-VNNI, AVX-VNNI, AVX2): rows in tiles of 16, each tile's
// blocks stored so that one 64-byte load holds four columns of all 16 rows
// (see tileGemm in internal/asmgen for the byte layout; the 256-bit
// kernels read each 64 bytes as two halves of 8 rows). One VPDPBUSD then
// does 64 multiply-adds for a token,
// and a weight load serves up to 12 tokens, so the same kernel runs decode
// (one token, streaming the weights once) and prefill (an int8 GEMM, ~4×
// the multiply-adds per instruction of the float32 GEMM) without expanding
// weights to float32. Activations are quantized to Q8_0-style blocks on the
// fly, as llama.cpp does; the int32 block sums are exact and only their
// scaling is float32. The matrix holds the same bytes as the GGUF blocks
// (scales and quants regrouped), so memory use does not grow.
type Packed struct {
	data       []byte
	rows, cols int
	nb, tiles  int
	q4         bool
	tb         int // bytes per tile block: 16 scales + 16 rows of quants
	stride     int // bytes per tile: nb·tb
}

const (
	tileRowsN  = 16
	panelBlock = 40 // activation bytes per block and token in a panel
)

// PackedAvailable reports whether this CPU runs Packed matrices with
// assembly tile kernels (KernelName says which); elsewhere Packed works
// through a slow pure-Go kernel, and Loader keeps the GGUF layout instead.
func PackedAvailable() bool { return tiles != nil }

// NewPacked repacks rows×cols Q8_0 or Q4_0 blocks (GGUF layout, row after
// row) into a new Packed matrix; data is not retained.
func NewPacked(d weights.DType, data []byte, rows, cols int) (*Packed, error) {
	q, err := newQMatrix(d, data, rows, cols)
	if err != nil {
		return nil, err
	}
	nb := cols / BlockSize
	m := &Packed{rows: rows, cols: cols, nb: nb, tiles: (rows + tileRowsN - 1) / tileRowsN, q4: d == weights.Q4_0}
	bs := Q8_0BlockBytes
	m.tb = 32 + 16*32
	if m.q4 {
		bs, m.tb = Q4_0BlockBytes, 32+16*16
	}
	m.stride = nb * m.tb
	m.data = make([]byte, m.tiles*m.stride)
	tensor.ParallelFor(m.tiles, func(lo, hi int) {
		for tile := lo; tile < hi; tile++ {
			for r := 0; r < tileRowsN; r++ {
				row := tile*tileRowsN + r
				for b := 0; b < nb; b++ {
					dst := m.data[tile*m.stride+b*m.tb:]
					if row >= rows { // padding rows: scale 0
						if !m.q4 {
							for g := 0; g < 8; g++ {
								copy(dst[32+64*g+4*r:32+64*g+4*r+4], []byte{0x80, 0x80, 0x80, 0x80})
							}
						}
						continue
					}
					src := q.data[row*q.rowBytes+b*bs:]
					dst[2*r], dst[2*r+1] = src[0], src[1]
					if m.q4 {
						for c := 0; c < 4; c++ {
							copy(dst[32+64*c+4*r:32+64*c+4*r+4], src[2+4*c:2+4*c+4])
						}
						continue
					}
					for g := 0; g < 8; g++ {
						for j := 0; j < 4; j++ {
							dst[32+64*g+4*r+j] = src[2+4*g+j] ^ 0x80
						}
					}
				}
			}
		}
	})
	return m, nil
}

func (m *Packed) Rows() int { return m.rows }
func (m *Packed) Cols() int { return m.cols }

// DType is Q8_0 or Q4_0.
func (m *Packed) DType() weights.DType {
	if m.q4 {
		return weights.Q4_0
	}
	return weights.Q8_0
}

// Row expands row r into dst (Cols values), for embedding lookups.
func (m *Packed) Row(dst []float32, r int) {
	_ = dst[m.cols-1]
	tile, lane := r/tileRowsN, r%tileRowsN
	for b := 0; b < m.nb; b++ {
		blk := m.data[tile*m.stride+b*m.tb:]
		d := tensor.HalfToFloat(uint16(blk[2*lane]) | uint16(blk[2*lane+1])<<8)
		y := dst[b*BlockSize : b*BlockSize+BlockSize]
		if m.q4 {
			for c := 0; c < 4; c++ {
				for j := 0; j < 4; j++ {
					v := blk[32+64*c+4*lane+j]
					y[4*c+j] = float32(int(v&0x0f)-8) * d
					y[16+4*c+j] = float32(int(v>>4)-8) * d
				}
			}
			continue
		}
		for g := 0; g < 8; g++ {
			for j := 0; j < 4; j++ {
				y[4*g+j] = float32(int8(blk[32+64*g+4*lane+j]^0x80)) * d
			}
		}
	}
}

// tileKernel multiplies r consecutive tiles (wstride bytes apart) by an
// n-token activation panel over nb blocks, writing out[t*ldo+row].
type tileKernel func(w *byte, wstride int, a *byte, nb int, out *float32, ldo int)

// goTileKernels[n] stands for the kernel table where no tile set runs: nil
// entries, so runTile takes the Go reference, panelTiles(n) tiles a call.
var goTileKernels [2][tileTokens + 1][]tileKernel

func init() {
	for n := 1; n <= tileTokens; n++ {
		goTileKernels[0][n] = make([]tileKernel, panelTiles(n))
		goTileKernels[1][n] = goTileKernels[0][n]
	}
}

// goTiles runs Packed matrices through the Go reference: UseKernels
// ("go-tiles") selects it, so tests can compare whole models in the Packed
// layout against the assembly tile sets.
var goTiles = &tileSet{name: "go-tiles", kernels: &goTileKernels}

func tileKernelsFor(q4, n int) []tileKernel {
	if tiles == nil {
		return goTileKernels[q4][n]
	}
	return tiles.kernels[q4][n]
}

// MatMul sets out (T, Rows) = inp (T, Cols) @ W^T.
func (m *Packed) MatMul(out, inp []float32, T int) {
	if T <= 0 || m.rows == 0 {
		return
	}
	_ = out[T*m.rows-1]
	_ = inp[T*m.cols-1]
	op := packedPool.Get().(*packedOp)
	op.m, op.out, op.T = m, out, T
	nb := m.nb
	if need := T * nb * panelBlock; cap(op.acts) < need {
		op.acts = make([]byte, need)
	}
	op.acts = op.acts[:T*nb*panelBlock]
	off := int32(128)
	if m.q4 {
		off = 8
	}
	for t := 0; t < T; t++ {
		p, i := t/tileTokens, t%tileTokens
		n := min(tileTokens, T-p*tileTokens)
		base := p * tileTokens * nb * panelBlock
		quantizePanelRow(inp[t*m.cols:(t+1)*m.cols], op.acts[base:base+n*nb*panelBlock], n, i, off)
	}
	// A unit of tiles is swept for every panel before the next unit, so the
	// unit's weights stay in L2 while the panels stream past; one panel
	// (decode) needs no reuse and takes wider units.
	op.unit = 4
	if T <= tileTokens {
		op.unit = 12
	}
	nt := tensor.Threads()
	if cap(op.scratch) < nt*tileTokens*tileRowsN {
		op.scratch = make([]float32, nt*tileTokens*tileRowsN)
	}
	tensor.Parallel(nt, (m.tiles+op.unit-1)/op.unit, 1, op)
	op.m, op.out = nil, nil
	packedPool.Put(op)
}

type packedOp struct {
	m       *Packed
	out     []float32
	T, unit int
	acts    []byte
	scratch []float32 // per worker: a partial tile's outputs
}

var packedPool = sync.Pool{New: func() any { return new(packedOp) }}

func (o *packedOp) Run(w, lo, hi int) {
	m := o.m
	q4 := 0
	if m.q4 {
		q4 = 1
	}
	R, nb := m.rows, m.nb
	full := R / tileRowsN // tiles whose 16 rows all exist
	for u := lo; u < hi; u++ {
		t0, t1 := u*o.unit, min((u+1)*o.unit, m.tiles)
		for p := 0; p*tileTokens < o.T; p++ {
			n := min(tileTokens, o.T-p*tileTokens)
			a := &o.acts[p*tileTokens*nb*panelBlock]
			ks := tileKernelsFor(q4, n)
			out := o.out[p*tileTokens*R:]
			for tile := t0; tile < t1; {
				if tile >= full {
					s := o.scratch[w*tileTokens*tileRowsN : (w+1)*tileTokens*tileRowsN]
					runTile(ks[0], q4 == 1, n, 1, m.data[tile*m.stride:], m.stride, a, nb, s, tileRowsN)
					for t := 0; t < n; t++ {
						copy(out[t*R+tile*tileRowsN:t*R+R], s[t*tileRowsN:])
					}
					tile++
					continue
				}
				r := min(len(ks), min(t1, full)-tile)
				runTile(ks[r-1], q4 == 1, n, r, m.data[tile*m.stride:], m.stride, a, nb, out[tile*tileRowsN:], R)
				tile += r
			}
		}
	}
}

// quantizePanelRow quantizes one token's activations (len(x) = nb·32) into
// slot i of an n-token panel: its int8 groups, scale and bias -off·Σq.
func quantizePanelRow(x []float32, panel []byte, n, i int, off int32) {
	nb := len(x) / BlockSize
	if nb == 0 {
		return
	}
	_ = panel[nb*n*panelBlock-1]
	if tiles != nil && tiles.quantRow != nil {
		tiles.quantRow(&x[0], &panel[4*i], 4*n, (*float32)(unsafe.Pointer(&panel[32*n+4*i])),
			(*int32)(unsafe.Pointer(&panel[36*n+4*i])), n*panelBlock, off, nb)
		return
	}
	quantRowGo(x, panel, n, i, off)
}

func quantRowGo(x []float32, panel []byte, n, i int, off int32) {
	var q [BlockSize]int8
	var d [1]float32
	var b [8]int32
	rec := n * panelBlock
	for blk := 0; blk < len(x)/BlockSize; blk++ {
		quantizeActs(q[:], d[:], b[:], x[blk*BlockSize:(blk+1)*BlockSize])
		r := panel[blk*rec:]
		for g := 0; g < 8; g++ {
			for j := 0; j < 4; j++ {
				r[4*(g*n+i)+j] = byte(q[4*g+j])
			}
		}
		putU32(r[32*n+4*i:], math.Float32bits(d[0]))
		putU32(r[36*n+4*i:], uint32(b[0]/-8*-off))
	}
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func getU32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// runTile calls the assembly kernel k, or the Go reference when no tile set
// runs (k is nil then).
func runTile(k tileKernel, q4 bool, n, r int, w []byte, wstride int, a *byte, nb int, out []float32, ldo int) {
	if k != nil {
		k(&w[0], wstride, a, nb, &out[0], ldo)
		return
	}
	tileGemmGo(q4, n, r, w, wstride, unsafe.Slice(a, nb*n*panelBlock), nb, out, ldo)
}

// tileGemmGo is the kernels' arithmetic in Go: per block and token the
// exact int32 sum (bias + Σ u·x), converted and scaled by d_w·d_x into a
// float32 accumulator.
func tileGemmGo(q4 bool, n, r int, w []byte, wstride int, a []byte, nb int, out []float32, ldo int) {
	tb := 32 + 16*32
	if q4 {
		tb = 32 + 16*16
	}
	for i := 0; i < r; i++ {
		for lane := 0; lane < tileRowsN; lane++ {
			for t := 0; t < n; t++ {
				var acc float32
				for b := 0; b < nb; b++ {
					blk := w[i*wstride+b*tb:]
					rec := a[b*n*panelBlock:]
					s := int32(getU32(rec[36*n+4*t:]))
					for g := 0; g < 8; g++ {
						for j := 0; j < 4; j++ {
							var u int32
							if q4 {
								v := blk[32+64*(g%4)+4*lane+j]
								if g < 4 {
									u = int32(v & 0x0f)
								} else {
									u = int32(v >> 4)
								}
							} else {
								u = int32(blk[32+64*g+4*lane+j])
							}
							s += u * int32(int8(rec[4*(g*n+t)+j]))
						}
					}
					dw := tensor.HalfToFloat(uint16(blk[2*lane]) | uint16(blk[2*lane+1])<<8)
					dx := math.Float32frombits(getU32(rec[32*n+4*t:]))
					acc += float32(s) * (dw * dx)
				}
				out[t*ldo+i*tileRowsN+lane] = acc
			}
		}
	}
}

// String describes the matrix for error messages and logs.
func (m *Packed) String() string {
	return fmt.Sprintf("%s %d×%d (tiled)", m.DType(), m.rows, m.cols)
}

// StackRows returns one matrix holding m's rows followed by each of
// others' (all Packed, same format and columns), so projections that share
// an input (q/k/v, gate/up) run as one MatMul: the activations are
// quantized once and the workers split one larger op. Every matrix but the
// last must fill its tiles (rows a multiple of 16); ok is false otherwise.
func (m *Packed) StackRows(others ...tensor.Matrix) (stacked tensor.Matrix, ok bool) {
	parts := []*Packed{m}
	for _, o := range others {
		p, isPacked := o.(*Packed)
		if !isPacked || p.q4 != m.q4 || p.cols != m.cols {
			return nil, false
		}
		parts = append(parts, p)
	}
	s := &Packed{cols: m.cols, nb: m.nb, q4: m.q4, tb: m.tb, stride: m.stride}
	for i, p := range parts {
		if i < len(parts)-1 && p.rows%tileRowsN != 0 {
			return nil, false
		}
		s.rows += p.rows
		s.tiles += p.tiles
	}
	s.data = make([]byte, 0, s.tiles*s.stride)
	for _, p := range parts {
		s.data = append(s.data, p.data...)
	}
	return s, true
}
