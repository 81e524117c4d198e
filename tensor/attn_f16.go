package tensor

// f16DecodeKernels are decode attention's inner loops over a half-precision
// cache (tensor/internal/asmgen: attnScoresF16, attnAccF16), indexed by the
// number of query heads they serve at once (1–6). They read each cached key
// and value once for all heads of a KV group and widen it in registers: the
// path that first widened a block of rows into float32 scratch and then
// multiplied it stalled on the cache's memory in one phase and ran the FMA
// units in another.
type f16DecodeKernels struct {
	// maxHeads and accHeads are the most query heads one scores or acc
	// call serves; a larger group is split into balanced chunks (6 heads:
	// 8 → 4+4, 7 → 4+3).
	maxHeads, accHeads int
	// scores[h] sets h rows of n scores (n a multiple of 4).
	scores [7]func(s *float32, sst int, q *float32, k *uint16, kst, n, hd int, scale float32)
	// acc[h] adds n weighted value rows to accCols columns of h output
	// rows; accWide[h], where set, to 2·accCols columns at once.
	acc, accWide [7]func(o *float32, ost int, p *float32, pst int, v *uint16, vst, n int)
	accCols      int
}

// attnF16Block is how many keys the f16 path handles per call when a group
// takes several chunks or column passes, so that later passes find the
// rows in L1 (64 rows of a 128-value head are 16 KiB).
const attnF16Block = 64

// f16DecodeOK reports whether the f16 kernels take a head size.
func f16DecodeOK(HD int) bool { return impl.f16 != nil && HD%impl.f16.accCols == 0 }

// unitF16Scores sets the n scores of every head of group g (rows of sc, n
// apart) for keys j0..j0+n-1 of an f16 cache.
func (a *decodeOp) unitF16Scores(w, g, j0, n int, sc []float32) {
	HD, G, kvd := a.HD, a.G, a.NKV*a.HD
	kf := impl.f16
	k16 := a.src.k16
	koff := g * HD
	nc := (G + kf.maxHeads - 1) / kf.maxHeads
	blk := n
	if nc > 1 {
		blk = attnF16Block
	}
	for b0 := 0; b0 < n; b0 += blk {
		b1 := min(b0+blk, n)
		m := (b1 - b0) &^ 3
		if m > 0 {
			o := (j0+b0)*kvd + koff
			_ = k16[o+(m-1)*kvd+HD-1]
			for c := 0; c < nc; c++ {
				h0, h1 := c*G/nc, (c+1)*G/nc
				_ = sc[(h1-1)*n+b0+m-1]
				kf.scores[h1-h0](&sc[h0*n+b0], 4*n, &a.q[(g*G+h0)*HD], &k16[o], 2*kvd, m, HD, a.scale)
			}
		}
		for j := b0 + m; j < b1; j++ { // the last few keys
			row := a.cb[w][:HD]
			o := (j0+j)*kvd + koff
			f16ToF32(row, k16[o:o+HD])
			for hh := 0; hh < G; hh++ {
				h := g*G + hh
				sc[hh*n+j] = Dot(a.q[h*HD:h*HD+HD], row) * a.scale
			}
		}
	}
}

// unitF16Values adds Σ_j p_j·v_j over keys j0..j0+n-1 of an f16 cache to the
// unit's output rows (a.po from row base), p the rows of sc.
func (a *decodeOp) unitF16Values(g, j0, n, base int, sc []float32) {
	HD, G, kvd := a.HD, a.G, a.NKV*a.HD
	kf := impl.f16
	v16 := a.src.v16
	koff := g * HD
	nc := (G + kf.accHeads - 1) / kf.accHeads
	for b0 := 0; b0 < n; b0 += attnF16Block {
		b1 := min(b0+attnF16Block, n)
		o := (j0+b0)*kvd + koff
		_ = v16[o+(b1-b0-1)*kvd+HD-1]
		for c := 0; c < nc; c++ {
			h0, h1 := c*G/nc, (c+1)*G/nc
			H := h1 - h0
			kern, cols := kf.acc[H], kf.accCols
			if kf.accWide[H] != nil && HD%(2*cols) == 0 {
				kern, cols = kf.accWide[H], 2*cols
			}
			_ = a.po[(base+h1)*HD-1]
			_ = sc[(h1-1)*n+b1-1]
			for col := 0; col < HD; col += cols {
				kern(&a.po[(base+h0)*HD+col], 4*HD, &sc[h0*n+b0], 4*n, &v16[o+col], 2*kvd, b1-b0)
			}
		}
	}
}
