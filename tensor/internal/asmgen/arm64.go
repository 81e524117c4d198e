//go:build ignore

package main

import "fmt"

// arm64 NEON kernels (kernels_arm64.s): the float32 GEMM micro-kernels, dot,
// axpy, dot4, axpy4 and bf16 on 128-bit vectors (width 4). Every arm64 CPU
// has NEON (ASIMD), so no feature test is needed.
//
// Go's arm64 assembler knows VFMLA (vector), VLD1/VST1, VZIP1/2 and
// FMOVQ/FMOVS but not FMLA by element, FADD/FADDP on vectors: those are
// WORD directives (encodings from the Arm ARM), the instruction in a
// comment after each.

func armWord(enc uint32, asm string, args ...any) {
	p("\tWORD $0x%08x // %s", enc, fmt.Sprintf(asm, args...))
}

// fmlaElem: Vd.4S += Vn.4S · Vm.S[idx].
func fmlaElem(d, n, m, idx int) {
	enc := uint32(0x4f801000) | uint32(idx&1)<<21 | uint32(m>>4&1)<<20 | uint32(m&15)<<16 | uint32(idx>>1)<<11 | uint32(n)<<5 | uint32(d)
	armWord(enc, "FMLA V%d.4S, V%d.4S, V%d.S[%d]", d, n, m, idx)
}

// faddv: Vd.4S = Vn.4S + Vm.4S.
func faddv(d, n, m int) {
	armWord(0x4e20d400|uint32(m)<<16|uint32(n)<<5|uint32(d), "FADD V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

// faddp: pairwise add, Vd.4S = (n0+n1, n2+n3, m0+m1, m2+m3).
func faddp(d, n, m int) {
	armWord(0x6e20d400|uint32(m)<<16|uint32(n)<<5|uint32(d), "FADDP V%d.4S, V%d.4S, V%d.4S", d, n, m)
}

// hsumARM leaves the sum of Vv's lanes in lane 0 (Fv).
func hsumARM(v int) {
	faddp(v, v, v)
	faddp(v, v, v)
}

// gemmNEON emits sgemmNEON{R|P}: the contract of gemm in main.go with an
// 8×8 tile (mr 8, nr 8: 16 accumulators V0–V15). R reads A by rows, four k
// at a time: one 16-byte load per row gives A(i, k…k+3), used by lane. P
// reads A by columns: A(0…7, k) is two vectors.
func gemmNEON(panel bool) {
	name := "R"
	if panel {
		name = "P"
	}
	const mr = 8
	acc := func(i, v int) int { return 2*i + v }
	rows := []string{"R6", "R7", "R8", "R9", "R10", "R11", "R12", "R13"}
	p("")
	p("// func sgemmNEON%s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, accum int)", name)
	p("TEXT ·sgemmNEON%s(SB), NOSPLIT, $0-64", name)
	p("\tMOVD k+0(FP), R0")
	p("\tMOVD a+8(FP), R1")
	p("\tMOVD lda+16(FP), R2")
	p("\tMOVD b+24(FP), R3")
	p("\tMOVD ldb+32(FP), R4")
	for i := 0; i < 16; i++ {
		p("\tVEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
	}
	bstep := func(breg int) {
		p("\tFMOVQ (R3), F%d", breg)
		p("\tFMOVQ 16(R3), F%d", breg+1)
		p("\tADD R4, R3, R3")
	}
	if panel {
		// A(0..7, k) in V16, V17; B(k, 0..7) in V24, V25.
		p("\tCBZ R0, store")
		p("loop1:")
		p("\tFMOVQ (R1), F16")
		p("\tFMOVQ 16(R1), F17")
		p("\tADD R2, R1, R1")
		bstep(24)
		for i := 0; i < mr; i++ {
			for v := 0; v < 2; v++ {
				fmlaElem(acc(i, v), 24+v, 16+i/4, i%4)
			}
		}
		p("\tSUBS $1, R0, R0")
		p("\tBNE loop1")
	} else {
		p("\tMOVD R1, R6")
		for i := 1; i < mr; i++ {
			p("\tADD R2, %s, %s", rows[i-1], rows[i])
		}
		// A(i, k..k+3) in V16+i; B rows alternate between V24/25 and V26/27.
		p("loop4:")
		p("\tCMP $4, R0")
		p("\tBLT loop1")
		for i := 0; i < mr; i++ {
			p("\tFMOVQ (%s), F%d", rows[i], 16+i)
			p("\tADD $16, %s, %s", rows[i], rows[i])
		}
		for u := 0; u < 4; u++ {
			b := 24 + 2*(u%2)
			bstep(b)
			for i := 0; i < mr; i++ {
				for v := 0; v < 2; v++ {
					fmlaElem(acc(i, v), b+v, 16+i, u)
				}
			}
		}
		p("\tSUB $4, R0, R0")
		p("\tB loop4")
		p("loop1:")
		p("\tCBZ R0, store")
		for i := 0; i < mr; i++ {
			p("\tFMOVS (%s), F%d", rows[i], 16+i)
			p("\tADD $4, %s, %s", rows[i], rows[i])
		}
		bstep(24)
		for i := 0; i < mr; i++ {
			for v := 0; v < 2; v++ {
				fmlaElem(acc(i, v), 24+v, 16+i, 0)
			}
		}
		p("\tSUB $1, R0, R0")
		p("\tB loop1")
	}
	p("store:")
	p("\tMOVD c+40(FP), R5")
	p("\tMOVD ldc+48(FP), R14")
	p("\tMOVD accum+56(FP), R15")
	p("\tCBZ R15, overwrite")
	for i := 0; i < mr; i++ {
		p("\tFMOVQ (R5), F24")
		p("\tFMOVQ 16(R5), F25")
		faddv(acc(i, 0), acc(i, 0), 24)
		faddv(acc(i, 1), acc(i, 1), 25)
		p("\tFMOVQ F%d, (R5)", acc(i, 0))
		p("\tFMOVQ F%d, 16(R5)", acc(i, 1))
		if i < mr-1 {
			p("\tADD R14, R5, R5")
		}
	}
	p("\tRET")
	p("overwrite:")
	for i := 0; i < mr; i++ {
		p("\tFMOVQ F%d, (R5)", acc(i, 0))
		p("\tFMOVQ F%d, 16(R5)", acc(i, 1))
		if i < mr-1 {
			p("\tADD R14, R5, R5")
		}
	}
	p("\tRET")
}

// dotNEON: dotNEON(a, b *float32, n int) float32, n a multiple of 4.
func dotNEON() {
	p("")
	p("// func dotNEON(a, b *float32, n int) float32")
	p("TEXT ·dotNEON(SB), NOSPLIT, $0-28")
	p("\tMOVD a+0(FP), R0")
	p("\tMOVD b+8(FP), R1")
	p("\tMOVD n+16(FP), R2")
	for i := 0; i < 4; i++ {
		p("\tVEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
	}
	p("loop16:")
	p("\tCMP $16, R2")
	p("\tBLT loop4")
	p("\tVLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]")
	p("\tVLD1.P 64(R1), [V8.S4, V9.S4, V10.S4, V11.S4]")
	for i := 0; i < 4; i++ {
		p("\tVFMLA V%d.S4, V%d.S4, V%d.S4", 4+i, 8+i, i)
	}
	p("\tSUB $16, R2, R2")
	p("\tB loop16")
	p("loop4:")
	p("\tCBZ R2, done")
	p("\tVLD1.P 16(R0), [V4.S4]")
	p("\tVLD1.P 16(R1), [V8.S4]")
	p("\tVFMLA V4.S4, V8.S4, V0.S4")
	p("\tSUB $4, R2, R2")
	p("\tB loop4")
	p("done:")
	faddv(0, 0, 1)
	faddv(2, 2, 3)
	faddv(0, 0, 2)
	hsumARM(0)
	p("\tFMOVS F0, ret+24(FP)")
	p("\tRET")
}

// axpyNEON: y += alpha·x, n a multiple of 4.
func axpyNEON() {
	p("")
	p("// func axpyNEON(y, x *float32, alpha float32, n int)")
	p("TEXT ·axpyNEON(SB), NOSPLIT, $0-32")
	p("\tMOVD y+0(FP), R0")
	p("\tMOVD x+8(FP), R1")
	p("\tFMOVS alpha+16(FP), F31")
	p("\tMOVD n+24(FP), R2")
	p("\tMOVD R0, R3")
	p("loop16:")
	p("\tCMP $16, R2")
	p("\tBLT loop4")
	p("\tVLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]")
	p("\tVLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]")
	for i := 0; i < 4; i++ {
		fmlaElem(i, 4+i, 31, 0)
	}
	p("\tVST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R3)")
	p("\tSUB $16, R2, R2")
	p("\tB loop16")
	p("loop4:")
	p("\tCBZ R2, done")
	p("\tVLD1.P 16(R0), [V0.S4]")
	p("\tVLD1.P 16(R1), [V4.S4]")
	fmlaElem(0, 4, 31, 0)
	p("\tVST1.P [V0.S4], 16(R3)")
	p("\tSUB $4, R2, R2")
	p("\tB loop4")
	p("done:")
	p("\tRET")
}

// dot4NEON: four dot products of x with rows w + r·ldw bytes. One
// accumulator vector per row, reduced pairwise at the end: the lanes are
// dotRef's four running sums in the same order, so the results equal the
// Go kernel's (which the compiler also fuses into FMADD on arm64).
func dot4NEON() {
	p("")
	p("// func dot4NEON(x, w *float32, ldw, n int) (r0, r1, r2, r3 float32)")
	p("TEXT ·dot4NEON(SB), NOSPLIT, $0-48")
	p("\tMOVD x+0(FP), R0")
	p("\tMOVD w+8(FP), R1")
	p("\tMOVD ldw+16(FP), R2")
	p("\tMOVD n+24(FP), R3")
	p("\tADD R2, R1, R4")
	p("\tADD R2, R4, R5")
	p("\tADD R2, R5, R6")
	rows := []string{"R1", "R4", "R5", "R6"}
	for i := 0; i < 4; i++ {
		p("\tVEOR V%d.B16, V%d.B16, V%d.B16", i, i, i)
	}
	p("loop8:")
	p("\tCMP $8, R3")
	p("\tBLT loop4")
	p("\tVLD1.P 32(R0), [V16.S4, V17.S4]")
	for r, rr := range rows {
		p("\tVLD1.P 32(%s), [V%d.S4, V%d.S4]", rr, 18+2*r, 19+2*r)
	}
	for r := range rows {
		p("\tVFMLA V16.S4, V%d.S4, V%d.S4", 18+2*r, r)
	}
	for r := range rows {
		p("\tVFMLA V17.S4, V%d.S4, V%d.S4", 19+2*r, r)
	}
	p("\tSUB $8, R3, R3")
	p("\tB loop8")
	p("loop4:")
	p("\tCBZ R3, done")
	p("\tVLD1.P 16(R0), [V16.S4]")
	for r, rr := range rows {
		p("\tVLD1.P 16(%s), [V%d.S4]", rr, 18+r)
		p("\tVFMLA V16.S4, V%d.S4, V%d.S4", 18+r, r)
	}
	p("\tSUB $4, R3, R3")
	p("\tB loop4")
	p("done:")
	for r := 0; r < 4; r++ {
		hsumARM(r)
		p("\tFMOVS F%d, r%d+%d(FP)", r, r, 32+4*r)
	}
	p("\tRET")
}

// axpy4NEON: y += Σ_r a[r]·x_r for the four rows x_r = x + r·ldx bytes.
func axpy4NEON() {
	p("")
	p("// func axpy4NEON(y, x *float32, ldx int, a *float32, n int)")
	p("TEXT ·axpy4NEON(SB), NOSPLIT, $0-40")
	p("\tMOVD y+0(FP), R0")
	p("\tMOVD x+8(FP), R1")
	p("\tMOVD ldx+16(FP), R2")
	p("\tMOVD a+24(FP), R3")
	p("\tMOVD n+32(FP), R7")
	p("\tFMOVQ (R3), F31")
	p("\tADD R2, R1, R4")
	p("\tADD R2, R4, R5")
	p("\tADD R2, R5, R6")
	p("\tMOVD R0, R8")
	rows := []string{"R1", "R4", "R5", "R6"}
	p("loop8:")
	p("\tCMP $8, R7")
	p("\tBLT loop4")
	p("\tVLD1.P 32(R0), [V0.S4, V1.S4]")
	for r, rr := range rows {
		p("\tVLD1.P 32(%s), [V%d.S4, V%d.S4]", rr, 2+2*r, 3+2*r)
		fmlaElem(0, 2+2*r, 31, r)
		fmlaElem(1, 3+2*r, 31, r)
	}
	p("\tVST1.P [V0.S4, V1.S4], 32(R8)")
	p("\tSUB $8, R7, R7")
	p("\tB loop8")
	p("loop4:")
	p("\tCBZ R7, done")
	p("\tVLD1.P 16(R0), [V0.S4]")
	for r, rr := range rows {
		p("\tVLD1.P 16(%s), [V%d.S4]", rr, 2+r)
		fmlaElem(0, 2+r, 31, r)
	}
	p("\tVST1.P [V0.S4], 16(R8)")
	p("\tSUB $4, R7, R7")
	p("\tB loop4")
	p("done:")
	p("\tRET")
}

// bf16NEON widens bfloat16 to float32 (the bits shifted up 16) by
// interleaving zero halves below each value.
func bf16NEON() {
	p("")
	p("// func bf16ToF32NEON(dst *float32, src *uint16, n int)")
	p("TEXT ·bf16ToF32NEON(SB), NOSPLIT, $0-24")
	p("\tMOVD dst+0(FP), R0")
	p("\tMOVD src+8(FP), R1")
	p("\tMOVD n+16(FP), R2")
	p("\tVEOR V31.B16, V31.B16, V31.B16")
	p("loop8:")
	p("\tCMP $8, R2")
	p("\tBLT loop4")
	p("\tVLD1.P 16(R1), [V0.H8]")
	p("\tVZIP1 V0.H8, V31.H8, V1.H8")
	p("\tVZIP2 V0.H8, V31.H8, V2.H8")
	p("\tVST1.P [V1.S4, V2.S4], 32(R0)")
	p("\tSUB $8, R2, R2")
	p("\tB loop8")
	p("loop4:")
	p("\tCBZ R2, done")
	p("\tFMOVD (R1), F0")
	p("\tADD $8, R1, R1")
	p("\tVZIP1 V0.H8, V31.H8, V1.H8")
	p("\tVST1.P [V1.S4], 16(R0)")
	p("\tSUB $4, R2, R2")
	p("\tB loop4")
	p("done:")
	p("\tRET")
}

func assemblyARM64() {
	p("// Code generated by tensor/internal/asmgen -arm64; DO NOT EDIT.")
	p("")
	p("//go:build arm64 && !purego")
	p("")
	p(`#include "textflag.h"`)
	gemmNEON(false)
	gemmNEON(true)
	dotNEON()
	axpyNEON()
	dot4NEON()
	axpy4NEON()
	bf16NEON()
	swigluNEON()
}

func vec3(base uint32, asm string, d, n, m int) {
	armWord(base|uint32(m)<<16|uint32(n)<<5|uint32(d), asm, d, n, m)
}

func vec2(base uint32, asm string, d, n int) {
	armWord(base|uint32(n)<<5|uint32(d), asm, d, n)
}

// swigluNEON emits swigluNEON(out, gate, up *float32, n int) for n a
// multiple of 4: swiglu's arithmetic (main.go) on 128-bit vectors: the
// same clamp, reduction and degree-7 polynomial, FRINTN for the rounding,
// and 2^k built in the exponent field in two normal halves as swigluAVX2
// does. NaN gates give NaN through the final division.
func swigluNEON() {
	consts := []struct {
		reg  int
		bits string
	}{
		{30, "0x3fb8aa3b"}, // log2(e)
		{29, "0x3f317200"}, // ln2, high part
		{28, "0x35bfbe8e"}, // ln2, the rest
		{27, "0x39500d01"}, // 1/7!
		{26, "0x3ab60b61"}, // 1/6!
		{25, "0x3c088889"}, // 1/5!
		{24, "0x3d2aaaab"}, // 1/4!
		{23, "0x3e2aaaab"}, // 1/3!
		{22, "0x3f000000"}, // 1/2
		{21, "0x3f800000"}, // 1
		{20, "0xc2dc0000"}, // -110
		{19, "0x42c80000"}, // 100
		{18, "0x0000007f"}, // 127, the exponent bias
	}
	p("")
	p("// func swigluNEON(out, gate, up *float32, n int)")
	p("TEXT ·swigluNEON(SB), NOSPLIT, $0-32")
	p("\tMOVD out+0(FP), R0")
	p("\tMOVD gate+8(FP), R1")
	p("\tMOVD up+16(FP), R2")
	p("\tMOVD n+24(FP), R3")
	for _, c := range consts {
		p("\tMOVW $%s, R4", c.bits)
		armWord(0x4e040c00|4<<5|uint32(c.reg), "DUP V%d.4S, W4", c.reg)
	}
	p("loop:")
	p("\tCBZ R3, done")
	p("\tVLD1.P 16(R1), [V0.S4]")
	vec2(0x6ea0f800, "FNEG V%d.4S, V%d.4S", 1, 0)             // x = -g
	vec3(0x4e20f400, "FMAX V%d.4S, V%d.4S, V%d.4S", 1, 1, 20) // clamped as swiglu
	vec3(0x4ea0f400, "FMIN V%d.4S, V%d.4S, V%d.4S", 1, 1, 19)
	vec3(0x6e20dc00, "FMUL V%d.4S, V%d.4S, V%d.4S", 2, 1, 30) // x·log2(e)
	vec2(0x4e218800, "FRINTN V%d.4S, V%d.4S", 2, 2)           // k
	p("\tVORR V1.B16, V1.B16, V3.B16")
	p("\tVFMLS V29.S4, V2.S4, V3.S4") // r = x - k·ln2hi
	p("\tVFMLS V28.S4, V2.S4, V3.S4") //     - k·ln2lo
	// Horner from 1/7!: p = c + p·r, alternating V4 and V5.
	p("\tVORR V27.B16, V27.B16, V4.B16")
	cur := 4
	for _, c := range []int{26, 25, 24, 23, 22, 21, 21} {
		next := 9 - cur
		p("\tVORR V%d.B16, V%d.B16, V%d.B16", c, c, next)
		p("\tVFMLA V%d.S4, V3.S4, V%d.S4", cur, next)
		cur = next
	}
	vec2(0x4ea1b800, "FCVTZS V%d.4S, V%d.4S", 2, 2)             // k as int32 (exact)
	armWord(0x4f3f0400|2<<5|6, "SSHR V%d.4S, V%d.4S, #1", 6, 2) // k1 = ⌊k/2⌋
	p("\tVSUB V6.S4, V2.S4, V2.S4")                             // k2 = k - k1
	for _, k := range []int{6, 2} {
		p("\tVADD V18.S4, V%d.S4, V%d.S4", k, k)
		p("\tVSHL $23, V%d.S4, V%d.S4", k, k) // 2^k as float bits
		vec3(0x6e20dc00, "FMUL V%d.4S, V%d.4S, V%d.4S", cur, cur, k)
	}
	faddv(cur, cur, 21)                                        // 1 + e^-g
	vec3(0x6e20fc00, "FDIV V%d.4S, V%d.4S, V%d.4S", 7, 0, cur) // silu(g)
	p("\tVLD1.P 16(R2), [V8.S4]")
	vec3(0x6e20dc00, "FMUL V%d.4S, V%d.4S, V%d.4S", 7, 7, 8)
	p("\tVST1.P [V7.S4], 16(R0)")
	p("\tSUB $4, R3, R3")
	p("\tB loop")
	p("done:")
	p("\tRET")
}
