//go:build ignore

package main

import (
	"fmt"
	"strings"
)

// arm64 tile kernels: the Packed layout read with NEON and SDOT (FEAT_DotProd,
// Apple M1 and later, Graviton2 and later), and a NEON-only variant for
// ARMv8.0 cores without it (Cortex-A72/A53: Raspberry Pi 4, Graviton1). A 16-byte vector holds one
// group (four columns) of four rows, so a 64-byte group of a tile block is
// four "quads" of rows; SDOT by element multiplies each row's four bytes by
// one token's four activation bytes (a lane of the activation vector), and
// a panel stores group g of consecutive tokens side by side, so one 16-byte
// load brings that group for four tokens.
//
// SDOT is signed × signed, so the stored unsigned weights are turned back
// into signed ones (Q8_0: XOR 0x80; Q4_0: nibble − 8) and Σ q·x comes out
// directly: the panel's bias is not read. Products of int8 pairs summed in
// int32 are exact.
//
// Go's arm64 assembler has no SDOT, SCVTF/FMUL/FCVTL on vectors or FMUL by
// element; those are written as WORD directives (encodings from the Arm
// ARM, A64 "Advanced SIMD" sections), each followed by the instruction in
// a comment.

// Vector registers: with 32 of them, a pass holds Q quads × T tokens of
// float32 accumulators and int32 block sums, Q scale vectors and eight work
// registers: 2·Q·T + Q + 8 ≤ 32 (NEON: two block sums and ten work
// registers, 3·Q·T + Q + 10 ≤ 32).

type armPass struct {
	quads  []int // tile·4 + quad
	t0, t1 int
}

// armTileRows: tiles per call for an n-token panel (SDOT decode: two
// tiles, eight quads in one pass).
func armTileRows(isa string, n int) int {
	if n == 1 && isa == "SDOT" {
		return 2
	}
	return 1
}

// armRegs is what a pass needs: vectors per quad and token (float32
// accumulator plus one int32 block sum, or two for the NEON variant) and
// the work registers.
func armRegs(isa string) (perQT, work int) {
	if isa == "SDOT" {
		return 2, 8
	}
	return 3, 10
}

func armPasses(isa string, n, r int) []armPass {
	var all []int
	for q := 0; q < 4*r; q++ {
		all = append(all, q)
	}
	perQT, work := armRegs(isa)
	if n <= 2 && perQT*len(all)*n+len(all)+work <= 32 {
		return []armPass{{all, 0, n}}
	}
	// SDOT: two quads × up to four tokens; NEON: one quad × four tokens.
	qg := 2
	if isa != "SDOT" {
		qg = 1
	}
	chunks := (n + 3) / 4
	var ps []armPass
	for q := 0; q < len(all); q += qg {
		for c := 0; c < chunks; c++ {
			ps = append(ps, armPass{all[q:min(q+qg, len(all))], c * n / chunks, (c + 1) * n / chunks})
		}
	}
	return ps
}

func word(enc uint32, asm string, args ...any) {
	p("\tWORD $0x%08x // %s", enc, fmt.Sprintf(asm, args...))
}

// byElem encodes the "by element" forms with a 32-bit element: index
// H:L, Rm in M:Rm.
func byElem(base uint32, d, n, m, idx int) uint32 {
	return base | uint32(idx&1)<<21 | uint32(m>>4&1)<<20 | uint32(m&15)<<16 | uint32(idx>>1)<<11 | uint32(n)<<5 | uint32(d)
}

func sdot(d, n, m, idx int) {
	word(byElem(0x4f80e000, d, n, m, idx), "SDOT V%d.4S, V%d.16B, V%d.4B[%d]", d, n, m, idx)
}

func fmulElem(d, n, m, idx int) {
	word(byElem(0x4f809000, d, n, m, idx), "FMUL V%d.4S, V%d.4S, V%d.S[%d]", d, n, m, idx)
}

func scvtf(d, n int) {
	word(0x4e21d800|uint32(n)<<5|uint32(d), "SCVTF V%d.4S, V%d.4S", d, n)
}

func fcvtl(d, n int) {
	word(0x0e217800|uint32(n)<<5|uint32(d), "FCVTL V%d.4S, V%d.4H", d, n)
}

func dupElem(d, n, idx int) {
	word(0x4e040400|uint32(idx<<3|4)<<16|uint32(n)<<5|uint32(d), "DUP V%d.4S, V%d.S[%d]", d, n, idx)
}

func smull(d, n, m int, upper bool) {
	if upper {
		word(0x4e20c000|uint32(m)<<16|uint32(n)<<5|uint32(d), "SMULL2 V%d.8H, V%d.16B, V%d.16B", d, n, m)
		return
	}
	word(0x0e20c000|uint32(m)<<16|uint32(n)<<5|uint32(d), "SMULL V%d.8H, V%d.8B, V%d.8B", d, n, m)
}

func sadalp(d, n int) {
	word(0x4e606800|uint32(n)<<5|uint32(d), "SADALP V%d.4S, V%d.8H", d, n)
}

func addp4s(d, n, m int) {
	word(0x4ea0bc00|uint32(m)<<16|uint32(n)<<5|uint32(d), "ADDP V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

func movi16b(d int, imm byte) {
	word(0x4f00e400|uint32(imm>>5)<<16|uint32(imm&31)<<5|uint32(d), "MOVI V%d.16B, #0x%02x", d, imm)
}

// armTileGemm emits gemm{Q8,Q4}N{n}R{r}{isa}, the contract of tileGemm,
// for isa "SDOT" or "NEON" (ARMv8.0 without the dot product: SMULL/SMULL2
// widen a quad's 16 products to int16, which an int8 pair cannot overflow,
// and SADALP adds neighbouring pairs into two int32 sums per row, one
// vector for rows 0–1 and one for rows 2–3, folded by ADDP per block).
func armTileGemm(isa string, q4 bool, n, r int) {
	name, tb := "Q8", 32+512
	if q4 {
		name, tb = "Q4", 32+256
	}
	fn := fmt.Sprintf("gemm%sN%dR%d%s", name, n, r, isa)
	p("")
	p("// func %s(w *byte, wstride int, a *byte, nb int, out *float32, ldo int)", fn)
	p("TEXT ·%s(SB), NOSPLIT, $0-48", fn)
	p("\tMOVD wstride+8(FP), R1")
	p("\tMOVD out+32(FP), R4")
	p("\tMOVD ldo+40(FP), R5")
	p("\tLSL $2, R5, R5")
	neon := isa != "SDOT"
	perQT, work := armRegs(isa)
	for pi, ps := range armPasses(isa, n, r) {
		Q, T := len(ps.quads), ps.t1-ps.t0
		fAcc := func(q, t int) int { return q*T + t }
		iAcc := func(q, t int) int { return Q*T + q*T + t }
		iAcc2 := func(q, t int) int { return 2*Q*T + q*T + t } // NEON: rows 2–3
		scale := func(q int) int { return perQT*Q*T + q }
		base := perQT*Q*T + Q
		W, W2, A, A2, D, X, C1, C2 := base, base+1, base+2, base+3, base+4, base+5, base+6, base+7
		P, P2 := base+8, base+9
		if base+work-1 > 31 {
			panic(fn + ": out of vector registers")
		}
		tileReg := func(q int) string { return []string{"R0", "R8"}[ps.quads[q]/4] }
		quad := func(q int) int { return ps.quads[q] % 4 }
		p("\tMOVD w+0(FP), R0")
		p("\tADD R1, R0, R8")
		p("\tMOVD a+16(FP), R2")
		p("\tMOVD nb+24(FP), R3")
		for q := 0; q < Q; q++ {
			for t := 0; t < T; t++ {
				p("\tVEOR V%d.B16, V%d.B16, V%d.B16", fAcc(q, t), fAcc(q, t), fAcc(q, t))
			}
		}
		if q4 {
			movi16b(C1, 0x0f)
			movi16b(C2, 0x08)
		} else {
			movi16b(C1, 0x80)
		}
		p("\tCBZ R3, store%d", pi)
		p("loop%d:", pi)
		for q := 0; q < Q; q++ {
			p("\tFMOVD %d(%s), F%d", 8*quad(q), tileReg(q), scale(q))
			fcvtl(scale(q), scale(q))
		}
		if n <= 2 && Q == 4*r {
			// Decode streams the weights once: prefetch each tile ~4.5 KB
			// ahead, as the amd64 decode kernels do.
			dist := 8 * tb
			if q4 {
				dist = 16 * tb
			}
			for i := 0; i < r; i++ {
				for l := 0; l < (tb+63)/64; l++ {
					p("\tPRFM %d(%s), PLDL1KEEP", dist+64*l, []string{"R0", "R8"}[i])
				}
			}
		}
		// actLoad brings four tokens' values of one panel field; with one
		// token only its own four bytes, since the 16-byte load would run
		// past the end of the panel's last block (for two or more tokens
		// the later fields of the block follow).
		actLoad := func(off, reg int) {
			if T == 1 && n == 1 {
				p("\tFMOVS %d(R2), F%d", off, reg)
				return
			}
			p("\tFMOVQ %d(R2), F%d", off, reg)
		}
		actLoad(32*n+4*ps.t0, D)
		for q := 0; q < Q; q++ {
			for t := 0; t < T; t++ {
				p("\tVEOR V%d.B16, V%d.B16, V%d.B16", iAcc(q, t), iAcc(q, t), iAcc(q, t))
				if neon {
					p("\tVEOR V%d.B16, V%d.B16, V%d.B16", iAcc2(q, t), iAcc2(q, t), iAcc2(q, t))
				}
			}
		}
		dots := func(w, a, q int) {
			for t := 0; t < T; t++ {
				if !neon {
					sdot(iAcc(q, t), w, a, t)
					continue
				}
				dupElem(X, a, t)
				smull(P, w, X, false)
				smull(P2, w, X, true)
				sadalp(iAcc(q, t), P)
				sadalp(iAcc2(q, t), P2)
			}
		}
		if q4 {
			for c := 0; c < 4; c++ {
				actLoad(4*(c*n+ps.t0), A)
				actLoad(4*((c+4)*n+ps.t0), A2)
				for q := 0; q < Q; q++ {
					p("\tFMOVQ %d(%s), F%d", 32+64*c+16*quad(q), tileReg(q), W)
					p("\tVUSHR $4, V%d.B16, V%d.B16", W, W2)
					p("\tVAND V%d.B16, V%d.B16, V%d.B16", C1, W, W)
					p("\tVSUB V%d.B16, V%d.B16, V%d.B16", C2, W, W)
					p("\tVSUB V%d.B16, V%d.B16, V%d.B16", C2, W2, W2)
					dots(W, A, q)
					dots(W2, A2, q)
				}
			}
		} else {
			for g := 0; g < 8; g++ {
				actLoad(4*(g*n+ps.t0), A)
				for q := 0; q < Q; q++ {
					p("\tFMOVQ %d(%s), F%d", 32+64*g+16*quad(q), tileReg(q), W)
					p("\tVEOR V%d.B16, V%d.B16, V%d.B16", C1, W, W)
					dots(W, A, q)
				}
			}
		}
		for q := 0; q < Q; q++ {
			for t := 0; t < T; t++ {
				if neon {
					addp4s(iAcc(q, t), iAcc(q, t), iAcc2(q, t))
				}
				scvtf(iAcc(q, t), iAcc(q, t))
				fmulElem(X, scale(q), D, t)
				p("\tVFMLA V%d.S4, V%d.S4, V%d.S4", X, iAcc(q, t), fAcc(q, t))
			}
		}
		p("\tADD $%d, R0, R0", tb)
		p("\tADD $%d, R8, R8", tb)
		p("\tADD $%d, R2, R2", 40*n)
		p("\tSUBS $1, R3, R3")
		p("\tBNE loop%d", pi)
		p("store%d:", pi)
		// out + t·ldo + 16·tile + 4·quad floats
		p("\tMOVD $%d, R6", ps.t0)
		p("\tMUL R5, R6, R6")
		p("\tADD R4, R6, R6")
		for t := 0; t < T; t++ {
			for q := 0; q < Q; q++ {
				p("\tFMOVQ F%d, %d(R6)", fAcc(q, t), 16*ps.quads[q])
			}
			if t < T-1 {
				p("\tADD R5, R6, R6")
			}
		}
	}
	p("\tRET")
}

func assemblyARM64() {
	p("// Code generated by quant/internal/asmgen -arm64; DO NOT EDIT.")
	p("")
	p("//go:build arm64 && !purego")
	p("")
	p(`#include "textflag.h"`)
	for _, isa := range armISAs {
		for _, q4 := range []bool{true, false} {
			for n := 1; n <= TileTokens; n++ {
				for r := 1; r <= armTileRows(isa, n); r++ {
					armTileGemm(isa, q4, n, r)
				}
			}
		}
	}
	for _, q4 := range []bool{true, false} {
		for n := mmlaMinTokens; n <= TileTokens; n++ {
			mmlaTileGemm(q4, n)
		}
	}
	quantRowNEON()
}

// mmlaMinTokens is the narrowest panel the SMMLA kernels take: they work
// on token pairs, so decode (one or two tokens) keeps the SDOT kernels.
const mmlaMinTokens = 3

// armISAs are the arm64 tile kernel sets, by the suffix of their names.
var armISAs = []string{"SDOT", "NEON"}

func declsARM64() {
	p("// Code generated by quant/internal/asmgen -decls-arm64; DO NOT EDIT.")
	p("")
	p("//go:build arm64 && !purego")
	p("")
	p("package quant")
	for _, isa := range armISAs {
		p("")
		p("// tileKernels%s[q4][n][r-1] multiplies r 16-row tiles by an n-token panel (%s).", isa, isa)
		p("var tileKernels%s = [2][tileTokens + 1][]tileKernel{", isa)
		for _, name := range []string{"Q8", "Q4"} {
			p("\t{")
			p("\t\tnil,")
			for n := 1; n <= TileTokens; n++ {
				var fs []string
				for r := 1; r <= armTileRows(isa, n); r++ {
					fs = append(fs, fmt.Sprintf("gemm%sN%dR%d%s", name, n, r, isa))
				}
				p("\t\t{%s},", strings.Join(fs, ", "))
			}
			p("\t},")
		}
		p("}")
	}
	p("")
	p("// tileKernelsMMLA are the SDOT kernels for decode and the SMMLA (FEAT_I8MM) ones for prefill panels.")
	p("var tileKernelsMMLA = [2][tileTokens + 1][]tileKernel{")
	for _, name := range []string{"Q8", "Q4"} {
		p("\t{")
		p("\t\tnil,")
		for n := 1; n <= TileTokens; n++ {
			if n < mmlaMinTokens {
				var fs []string
				for r := 1; r <= armTileRows("SDOT", n); r++ {
					fs = append(fs, fmt.Sprintf("gemm%sN%dR%dSDOT", name, n, r))
				}
				p("\t\t{%s},", strings.Join(fs, ", "))
				continue
			}
			p("\t\t{gemm%sN%dR1MMLA},", name, n)
		}
		p("\t},")
	}
	p("}")
	sig := "(w *byte, wstride int, a *byte, nb int, out *float32, ldo int)"
	for _, isa := range armISAs {
		for _, name := range []string{"Q8", "Q4"} {
			for n := 1; n <= TileTokens; n++ {
				for r := 1; r <= armTileRows(isa, n); r++ {
					p("")
					p("//go:noescape")
					p("func gemm%sN%dR%d%s%s", name, n, r, isa, sig)
				}
			}
		}
	}
	for _, name := range []string{"Q8", "Q4"} {
		for n := mmlaMinTokens; n <= TileTokens; n++ {
			p("")
			p("//go:noescape")
			p("func gemm%sN%dR1MMLA%s", name, n, sig)
		}
	}
	p("")
	p("//go:noescape")
	p("func quantRowNEON(x *float32, q *byte, qstride int, d *float32, s *int32, rec int, off int32, nb int)")
}

// zip/uzp on 32- and 64-bit lanes (Vd, Vn, Vm).
func zipS(d, n, m int, second bool) {
	if second {
		word(0x4e807800|uint32(m)<<16|uint32(n)<<5|uint32(d), "ZIP2 V%d.4S, V%d.4S, V%d.4S", d, n, m)
		return
	}
	word(0x4e803800|uint32(m)<<16|uint32(n)<<5|uint32(d), "ZIP1 V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

func zipD(d, n, m int, second bool) {
	if second {
		word(0x4ec07800|uint32(m)<<16|uint32(n)<<5|uint32(d), "ZIP2 V%d.2D, V%d.2D, V%d.2D", d, n, m)
		return
	}
	word(0x4ec03800|uint32(m)<<16|uint32(n)<<5|uint32(d), "ZIP1 V%d.2D, V%d.2D, V%d.2D", d, n, m)
}

func uzpS(d, n, m int, second bool) {
	if second {
		word(0x4e805800|uint32(m)<<16|uint32(n)<<5|uint32(d), "UZP2 V%d.4S, V%d.4S, V%d.4S", d, n, m)
		return
	}
	word(0x4e801800|uint32(m)<<16|uint32(n)<<5|uint32(d), "UZP1 V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

func smmla(d, n, m int) {
	word(0x4e80a400|uint32(m)<<16|uint32(n)<<5|uint32(d), "SMMLA V%d.4S, V%d.16B, V%d.16B", d, n, m)
}

func fmulv(d, n, m int) {
	word(0x6e20dc00|uint32(m)<<16|uint32(n)<<5|uint32(d), "FMUL V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

// mmlaTileGemm emits gemm{Q8,Q4}N{n}R1MMLA for prefill panels (n ≥ 3) with
// SMMLA (FEAT_I8MM): one instruction multiplies a 2×8 block of weights (two
// rows, eight columns) by a 2×8 block of activations (two tokens), 32
// multiply-adds into a 2×2 tile of int32 sums, twice SDOT's 16. ZIP1/ZIP2
// on 32-bit lanes turn the groups g and g+1 of a quad (four rows × four
// columns each) into its two row pairs × eight columns, and the same on an
// activation vector pair (group g and g+1 of four tokens) into two token
// pairs. The float32 accumulators keep the 2×2 arrangement (row a·token a,
// a·b, b·a, b·b); the scales are arranged to match (ZIP of the quad's
// scales with themselves, ZIP on 64-bit lanes of the tokens'), and UZP1/2
// turn the tiles back into rows per token at the store. A pass is one quad
// × four tokens; the weights are signed as in the SDOT kernels.
func mmlaTileGemm(q4 bool, n int) {
	name, tb := "Q8", 32+512
	if q4 {
		name, tb = "Q4", 32+256
	}
	fn := fmt.Sprintf("gemm%sN%dR1MMLA", name, n)
	p("")
	p("// func %s(w *byte, wstride int, a *byte, nb int, out *float32, ldo int)", fn)
	p("TEXT ·%s(SB), NOSPLIT, $0-48", fn)
	p("\tMOVD out+32(FP), R4")
	p("\tMOVD ldo+40(FP), R5")
	p("\tLSL $2, R5, R5")
	chunks := (n + 3) / 4
	pi := 0
	for quad := 0; quad < 4; quad++ {
		for c := 0; c < chunks; c++ {
			t0, t1 := c*n/chunks, (c+1)*n/chunks
			TP := (t1 - t0 + 1) / 2
			// registers: iacc(rp, tp) 0..3, facc 4..7, row-pair scales 8..9,
			// token-pair scales 10..11, weights 12..15, activations 16..19,
			// constants 20..21, temporaries 22..23.
			iAcc := func(rp, tp int) int { return 2*rp + tp }
			fAcc := func(rp, tp int) int { return 4 + 2*rp + tp }
			const rs, ts, wa, za, aa, xa, c1, c2, tmp, sc = 8, 10, 12, 14, 16, 18, 20, 21, 22, 23
			p("\tMOVD w+0(FP), R0")
			p("\tMOVD a+16(FP), R2")
			p("\tMOVD nb+24(FP), R3")
			for i := 4; i < 8; i++ {
				p("\tVEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
			}
			if q4 {
				movi16b(c1, 0x0f)
				movi16b(c2, 0x08)
			} else {
				movi16b(c1, 0x80)
			}
			p("\tCBZ R3, store%d", pi)
			p("loop%d:", pi)
			p("\tFMOVD %d(R0), F%d", 8*quad, sc)
			fcvtl(sc, sc)
			zipS(rs, sc, sc, false)  // d0 d0 d1 d1
			zipS(rs+1, sc, sc, true) // d2 d2 d3 d3
			p("\tFMOVQ %d(R2), F%d", 32*n+4*t0, sc)
			zipD(ts, sc, sc, false)  // x0 x1 x0 x1
			zipD(ts+1, sc, sc, true) // x2 x3 x2 x3
			for i := 0; i < 4; i++ {
				p("\tVEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
			}
			// mma multiplies the quad's groups g, g+1 (in wa, wa+1, signed)
			// by the activations of groups g, g+1.
			mma := func(g int) {
				p("\tFMOVQ %d(R2), F%d", 4*(g*n+t0), aa)
				p("\tFMOVQ %d(R2), F%d", 4*((g+1)*n+t0), aa+1)
				zipS(xa, aa, aa+1, false)  // tokens 0, 1 × 8 columns
				zipS(xa+1, aa, aa+1, true) // tokens 2, 3
				zipS(za, wa, wa+1, false)  // rows 0, 1 × 8 columns
				zipS(za+1, wa, wa+1, true) // rows 2, 3
				for rp := 0; rp < 2; rp++ {
					for tp := 0; tp < TP; tp++ {
						smmla(iAcc(rp, tp), za+rp, xa+tp)
					}
				}
			}
			if q4 {
				for c := 0; c < 4; c += 2 {
					// chunks c and c+1: low nibbles are groups c, c+1, high
					// ones c+4, c+5
					p("\tFMOVQ %d(R0), F%d", 32+64*c+16*quad, wa)
					p("\tFMOVQ %d(R0), F%d", 32+64*(c+1)+16*quad, wa+1)
					p("\tVUSHR $4, V%d.B16, V%d.B16", wa, tmp)
					p("\tVUSHR $4, V%d.B16, V%d.B16", wa+1, sc)
					for _, v := range []int{wa, wa + 1} {
						p("\tVAND V%d.B16, V%d.B16, V%d.B16", c1, v, v)
						p("\tVSUB V%d.B16, V%d.B16, V%d.B16", c2, v, v)
					}
					mma(c)
					p("\tVSUB V%d.B16, V%d.B16, V%d.B16", c2, tmp, wa)
					p("\tVSUB V%d.B16, V%d.B16, V%d.B16", c2, sc, wa+1)
					mma(c + 4)
				}
			} else {
				for g := 0; g < 8; g += 2 {
					for k := 0; k < 2; k++ {
						p("\tFMOVQ %d(R0), F%d", 32+64*(g+k)+16*quad, wa+k)
						p("\tVEOR V%d.B16, V%d.B16, V%d.B16", c1, wa+k, wa+k)
					}
					mma(g)
				}
			}
			for rp := 0; rp < 2; rp++ {
				for tp := 0; tp < TP; tp++ {
					scvtf(iAcc(rp, tp), iAcc(rp, tp))
					fmulv(tmp, rs+rp, ts+tp)
					p("\tVFMLA V%d.S4, V%d.S4, V%d.S4", tmp, iAcc(rp, tp), fAcc(rp, tp))
				}
			}
			p("\tADD $%d, R0, R0", tb)
			p("\tADD $%d, R2, R2", 40*n)
			p("\tSUBS $1, R3, R3")
			p("\tBNE loop%d", pi)
			p("store%d:", pi)
			// out + t·ldo + 4·quad floats
			p("\tMOVD $%d, R6", t0)
			p("\tMUL R5, R6, R6")
			p("\tADD R4, R6, R6")
			for t := t0; t < t1; t++ {
				tp := (t - t0) / 2
				uzpS(tmp, fAcc(0, tp), fAcc(1, tp), (t-t0)%2 == 1)
				p("\tFMOVQ F%d, %d(R6)", tmp, 16*quad)
				if t < t1-1 {
					p("\tADD R5, R6, R6")
				}
			}
			pi++
		}
	}
	p("\tRET")
}

// quantRowNEON emits quantRowNEON, quantRowVNNI's twin on arm64 (same
// arguments and rounding, bit-identical output): eight vectors of four
// activations are the block's eight groups; XTN narrows them (all within
// ±127) to bytes and each group's word goes to its slot.
func quantRowNEON() {
	p("")
	p("// func quantRowNEON(x *float32, q *byte, qstride int, d *float32, s *int32, rec int, off int32, nb int)")
	p("TEXT ·quantRowNEON(SB), NOSPLIT, $0-64")
	p("\tMOVD x+0(FP), R0")
	p("\tMOVD q+8(FP), R1")
	p("\tMOVD qstride+16(FP), R10")
	p("\tMOVD d+24(FP), R8")
	p("\tMOVD s+32(FP), R9")
	p("\tMOVD rec+40(FP), R11")
	p("\tMOVW off+48(FP), R12")
	p("\tNEG R12, R12")
	p("\tMOVD nb+56(FP), R3")
	for _, c := range []struct {
		reg  int
		bits string
	}{{28, "0x80000000"}, {29, "0x3effffff"}, {30, "0x42fe0000"}, {31, "0x3f800000"}} {
		p("\tMOVW $%s, R4", c.bits)
		word(0x4e040c00|4<<5|uint32(c.reg), "DUP V%d.4S, W4", c.reg)
	}
	p("\tCBZ R3, done")
	p("loop:")
	p("\tVLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]")
	p("\tVLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]")
	for i := 0; i < 8; i++ {
		word(0x4ea0f800|uint32(i)<<5|uint32(16+i), "FABS V%d.4S, V%d.4S", 16+i, i)
	}
	for _, pr := range [][3]int{{16, 16, 17}, {18, 18, 19}, {20, 20, 21}, {22, 22, 23}, {16, 16, 18}, {20, 20, 22}, {16, 16, 20}} {
		word(0x4e20f400|uint32(pr[2])<<16|uint32(pr[1])<<5|uint32(pr[0]), "FMAX V%d.4S, V%d.4S, V%d.4S", pr[0], pr[1], pr[2])
	}
	word(0x6e30f800|16<<5|16, "FMAXV S%d, V%d.4S", 16, 16) // amax
	p("\tFDIVS F30, F16, F17")                             // d = amax/127
	p("\tFCVTSH F17, F18")
	p("\tFCVTHS F18, F18")
	p("\tFMOVS F18, (R8)") // the f16-rounded scale
	p("\tVEOR V19.B16, V19.B16, V19.B16")
	p("\tFCMPS $(0.0), F17")
	p("\tBEQ zero")
	p("\tFDIVS F17, F31, F19") // id = 1/d
	p("zero:")
	for i := 0; i < 8; i++ {
		word(byElem(0x4f809000, i, i, 19, 0), "FMUL V%d.4S, V%d.4S, V%d.S[%d]", i, i, 19, 0)
		p("\tVAND V28.B16, V%d.B16, V20.B16", i)
		p("\tVORR V29.B16, V20.B16, V20.B16")
		word(0x4e20d400|20<<16|uint32(i)<<5|uint32(i), "FADD V%d.4S, V%d.4S, V%d.4S", i, i, 20)
		word(0x4ea1b800|uint32(i)<<5|uint32(i), "FCVTZS V%d.4S, V%d.4S", i, i)
	}
	p("\tVADD V1.S4, V0.S4, V16.S4")
	p("\tVADD V3.S4, V2.S4, V17.S4")
	p("\tVADD V5.S4, V4.S4, V18.S4")
	p("\tVADD V7.S4, V6.S4, V19.S4")
	p("\tVADD V17.S4, V16.S4, V16.S4")
	p("\tVADD V19.S4, V18.S4, V18.S4")
	p("\tVADD V18.S4, V16.S4, V16.S4")
	word(0x4eb1b800|16<<5|16, "ADDV S%d, V%d.4S", 16, 16)
	word(0x0e043c00|16<<5|4, "UMOV W4, V%d.S[0]", 16)
	p("\tMULW R12, R4, R4")
	p("\tMOVW R4, (R9)")
	// groups 0–3 into V0's bytes, 4–7 into V4's
	for _, b := range []int{0, 4} {
		word(0x0e612800|uint32(b)<<5|uint32(b), "XTN V%d.4H, V%d.4S", b, b)
		word(0x4e612800|uint32(b+1)<<5|uint32(b), "XTN2 V%d.8H, V%d.4S", b, b+1)
		word(0x0e612800|uint32(b+2)<<5|uint32(b+2), "XTN V%d.4H, V%d.4S", b+2, b+2)
		word(0x4e612800|uint32(b+3)<<5|uint32(b+2), "XTN2 V%d.8H, V%d.4S", b+2, b+3)
		word(0x0e212800|uint32(b)<<5|uint32(b), "XTN V%d.8B, V%d.8H", b, b)
		word(0x4e212800|uint32(b+2)<<5|uint32(b), "XTN2 V%d.16B, V%d.8H", b, b+2)
	}
	p("\tMOVD R1, R14")
	for g := 0; g < 8; g++ {
		v, lane := 4*(g/4), g%4
		word(0x0e043c00|uint32(lane)<<19|uint32(v)<<5|4, "UMOV W4, V%d.S[%d]", v, lane)
		p("\tMOVW R4, (R14)")
		if g < 7 {
			p("\tADD R10, R14, R14")
		}
	}
	p("\tADD R11, R1, R1")
	p("\tADD R11, R8, R8")
	p("\tADD R11, R9, R9")
	p("\tSUBS $1, R3, R3")
	p("\tBNE loop")
	p("done:")
	p("\tRET")
}
