//go:build amd64 && !purego

#include "textflag.h"

// Hand-written AVX2 exponentials for the softmax of tensor/attn.go. e^x for
// x ≤ 0: x clamped at -87 (below it the result is 0, through a compare
// mask, so masked -Inf scores give exactly 0), n = round(x·log2e),
// r = x - n·ln2 (ln2 in two parts, so r is exact), e^r by its degree-7
// Taylor polynomial (|r| ≤ ln2/2: error below 1e-8 relative), times 2^n
// built in the exponent bits. The constants are those of the SwiGLU kernel.

DATA attlo<>+0(SB)/8, $0xc2ae0000c2ae0000
DATA attlo<>+8(SB)/8, $0xc2ae0000c2ae0000
DATA attlo<>+16(SB)/8, $0xc2ae0000c2ae0000
DATA attlo<>+24(SB)/8, $0xc2ae0000c2ae0000
GLOBL attlo<>(SB), RODATA|NOPTR, $32
DATA attbias<>+0(SB)/8, $0x0000007f0000007f
DATA attbias<>+8(SB)/8, $0x0000007f0000007f
DATA attbias<>+16(SB)/8, $0x0000007f0000007f
DATA attbias<>+24(SB)/8, $0x0000007f0000007f
GLOBL attbias<>(SB), RODATA|NOPTR, $32

#define BCAST(c, y, x) MOVL c, AX; VMOVD AX, x; VPBROADCASTD x, y

#define EXPCONSTS \
	BCAST($0x3fb8aa3b, Y15, X15) \
	BCAST($0x3f317200, Y14, X14) \
	BCAST($0x35bfbe8e, Y13, X13) \
	BCAST($0x39500d01, Y12, X12) \
	BCAST($0x3ab60b61, Y11, X11) \
	BCAST($0x3c088889, Y10, X10) \
	BCAST($0x3d2aaaab, Y9, X9) \
	BCAST($0x3e2aaaab, Y8, X8) \
	BCAST($0x3f000000, Y7, X7) \
	BCAST($0x3f800000, Y6, X6)

// EXP sets Y3 = e^Y0 (Y0 ≤ 0), clobbering Y0-Y2.
#define EXP \
	VCMPPS $0x0D, attlo<>(SB), Y0, Y1 \
	VMAXPS attlo<>(SB), Y0, Y0 \
	VMULPS Y15, Y0, Y2 \
	VROUNDPS $0, Y2, Y2 \
	VFNMADD231PS Y14, Y2, Y0 \
	VFNMADD231PS Y13, Y2, Y0 \
	VMOVAPS Y12, Y3 \
	VFMADD213PS Y11, Y0, Y3 \
	VFMADD213PS Y10, Y0, Y3 \
	VFMADD213PS Y9, Y0, Y3 \
	VFMADD213PS Y8, Y0, Y3 \
	VFMADD213PS Y7, Y0, Y3 \
	VFMADD213PS Y6, Y0, Y3 \
	VFMADD213PS Y6, Y0, Y3 \
	VCVTPS2DQ Y2, Y2 \
	VPADDD attbias<>(SB), Y2, Y2 \
	VPSLLD $23, Y2, Y2 \
	VMULPS Y2, Y3, Y3 \
	VANDPS Y1, Y3, Y3

// func expDiffAccAVX2(s, m, l *float32, n int)
// s[i] = e^(s[i]-m[i]); l[i] += s[i]; n a positive multiple of 8.
TEXT ·expDiffAccAVX2(SB), NOSPLIT, $0-32
	MOVQ s+0(FP), DI
	MOVQ m+8(FP), SI
	MOVQ l+16(FP), DX
	MOVQ n+24(FP), CX
	EXPCONSTS
dloop:
	VMOVUPS (DI), Y0
	VSUBPS (SI), Y0, Y0
	EXP
	VMOVUPS Y3, (DI)
	VADDPS (DX), Y3, Y0
	VMOVUPS Y0, (DX)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	SUBQ $8, CX
	JNZ dloop
	VZEROUPPER
	RET

// func expSubSumAVX2(s *float32, m float32, n int) float32
// s[i] = e^(s[i]-m); returns Σ s[i]; n a positive multiple of 8.
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-28
	MOVQ s+0(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSS m+8(FP), Y4
	VXORPS Y5, Y5, Y5
	EXPCONSTS
sloop:
	VMOVUPS (DI), Y0
	VSUBPS Y4, Y0, Y0
	EXP
	VMOVUPS Y3, (DI)
	VADDPS Y3, Y5, Y5
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ sloop
	VEXTRACTF128 $1, Y5, X0
	VADDPS X0, X5, X5
	VHADDPS X5, X5, X5
	VHADDPS X5, X5, X5
	MOVSS X5, ret+24(FP)
	VZEROUPPER
	RET

// func f16ToF32F16C(dst *float32, src *uint16, n int)
// n a positive multiple of 8.
TEXT ·f16ToF32F16C(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
wloop:
	VCVTPH2PS (SI), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ wloop
	VZEROUPPER
	RET

// func f32ToF16F16C(dst *uint16, src *float32, n int)
// Rounds to nearest even; n a positive multiple of 8.
TEXT ·f32ToF16F16C(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
nloop:
	VMOVUPS (SI), Y0
	VCVTPS2PH $0, Y0, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	SUBQ $8, CX
	JNZ nloop
	VZEROUPPER
	RET

// func q8ToF32AVX2(dst *float32, q *int8, d *float32, n int)
// dst[i] = q[i]·d[i/32]; n a positive multiple of 32.
TEXT ·q8ToF32AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ q+8(FP), SI
	MOVQ d+16(FP), DX
	MOVQ n+24(FP), CX
qloop:
	VBROADCASTSS (DX), Y4
	VPMOVSXBD (SI), Y0
	VPMOVSXBD 8(SI), Y1
	VPMOVSXBD 16(SI), Y2
	VPMOVSXBD 24(SI), Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMULPS Y4, Y0, Y0
	VMULPS Y4, Y1, Y1
	VMULPS Y4, Y2, Y2
	VMULPS Y4, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $32, SI
	ADDQ $4, DX
	ADDQ $128, DI
	SUBQ $32, CX
	JNZ qloop
	VZEROUPPER
	RET

// func f16RowsToF32F16C(dst *float32, src *uint16, rows, hd, stride int)
// Widens rows of hd halves (a positive multiple of 8) at src, src+stride,
// … (stride in halves) into rows of hd floats at dst, dst+hd, …, touching
// the row 64 rows ahead first: the decode step reads each layer's
// cache once, from memory, and the rows of one KV head are strided.
TEXT ·f16RowsToF32F16C(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R8
	MOVQ hd+24(FP), R9
	MOVQ stride+32(FP), R10
	SHLQ $1, R10           // stride in bytes
	MOVQ R10, R11
	SHLQ $6, R11           // 64 rows ahead
rrow:
	LEAQ (SI)(R11*1), DX
	PREFETCHT0 (DX)
	PREFETCHT0 64(DX)
	PREFETCHT0 128(DX)
	PREFETCHT0 192(DX)
	MOVQ SI, AX
	MOVQ R9, CX
rcol:
	VCVTPH2PS (AX), Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, AX
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ rcol
	ADDQ R10, SI
	DECQ R8
	JNZ rrow
	VZEROUPPER
	RET
