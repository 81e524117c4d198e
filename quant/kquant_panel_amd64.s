//go:build amd64 && !purego

#include "textflag.h"

// Eight-token Q6_K kernel for batched decode (see kquant_panel.go): one
// weight row against two four-token activation groups, so each block is
// loaded and unpacked once for eight tokens. Lanes are tokens; per token
// the arithmetic is dotQ6_K's: exact int32 sums of scale·q·y with q in
// 0..63, the −32 offset taken off as 32·Σ scale·Σy (Q8_K's per-16 sums),
// then sum += (f16(d)·yd)·isum in float32, block after block.

DATA p6nib<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA p6nib<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA p6nib<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA p6nib<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL p6nib<>(SB), RODATA|NOPTR, $32

DATA p6hi<>+0(SB)/8, $0x3030303030303030
DATA p6hi<>+8(SB)/8, $0x3030303030303030
DATA p6hi<>+16(SB)/8, $0x3030303030303030
DATA p6hi<>+24(SB)/8, $0x3030303030303030
GLOBL p6hi<>(SB), RODATA|NOPTR, $32

// P6_MUL multiplies the levels in Y11 (values 32k..32k+31 of a half: two
// 16-value sub-blocks, int16 scales at soff and soff+2 of the frame) with
// the eight tokens' activations at yoff, into Y0..Y7.
#define P6_MUL(yoff, soff) \
	VPBROADCASTW soff(SP), X13 \
	VPBROADCASTW soff+2(SP), X14 \
	VINSERTI128  $1, X14, Y13, Y13 \
	VPMADDUBSW   yoff(DI), Y11, Y14 \
	VPMADDWD     Y13, Y14, Y14 \
	VPADDD       Y14, Y0, Y0 \
	VPMADDUBSW   yoff(DI)(R8*1), Y11, Y14 \
	VPMADDWD     Y13, Y14, Y14 \
	VPADDD       Y14, Y1, Y1 \
	VPMADDUBSW   yoff(DI)(R8*2), Y11, Y14 \
	VPMADDWD     Y13, Y14, Y14 \
	VPADDD       Y14, Y2, Y2 \
	VPMADDUBSW   yoff(DI)(R9*1), Y11, Y14 \
	VPMADDWD     Y13, Y14, Y14 \
	VPADDD       Y14, Y3, Y3 \
	VPMADDUBSW   yoff(DX), Y11, Y14 \
	VPMADDWD     Y13, Y14, Y14 \
	VPADDD       Y14, Y4, Y4 \
	VPMADDUBSW   yoff(DX)(R8*1), Y11, Y14 \
	VPMADDWD     Y13, Y14, Y14 \
	VPADDD       Y14, Y5, Y5 \
	VPMADDUBSW   yoff(DX)(R8*2), Y11, Y14 \
	VPMADDWD     Y13, Y14, Y14 \
	VPADDD       Y14, Y6, Y6 \
	VPMADDUBSW   yoff(DX)(R9*1), Y11, Y14 \
	VPMADDWD     Y13, Y14, Y14 \
	VPADDD       Y14, Y7, Y7

// P6_HALF runs one half (128 values) of a block: ql bytes at qloff (64),
// qh at qhoff (32), activations from yoff, the half's scales from soff.
// Level of group k (values 32k..32k+31): the low (k = 0, 1) or high
// (k = 2, 3) nibble of ql[l] (k even) or ql[l+32] (k odd), and bits
// 2k, 2k+1 of qh[l] as bits 4, 5: (qh<<4), (qh<<2), qh, (qh>>2) masked
// with 0x30 (16-bit shifts; the mask drops what crosses a byte).
#define P6_HALF(qloff, qhoff, yoff, soff) \
	VMOVDQU qloff(SI), Y8 \
	VMOVDQU qloff+32(SI), Y9 \
	VMOVDQU qhoff(SI), Y10 \
	VPAND   p6nib<>(SB), Y8, Y11 \
	VPSLLW  $4, Y10, Y12 \
	VPAND   p6hi<>(SB), Y12, Y12 \
	VPOR    Y12, Y11, Y11 \
	P6_MUL(yoff, soff) \
	VPAND   p6nib<>(SB), Y9, Y11 \
	VPSLLW  $2, Y10, Y12 \
	VPAND   p6hi<>(SB), Y12, Y12 \
	VPOR    Y12, Y11, Y11 \
	P6_MUL(yoff+32, soff+4) \
	VPSRLW  $4, Y8, Y11 \
	VPAND   p6nib<>(SB), Y11, Y11 \
	VPAND   p6hi<>(SB), Y10, Y12 \
	VPOR    Y12, Y11, Y11 \
	P6_MUL(yoff+64, soff+8) \
	VPSRLW  $4, Y9, Y11 \
	VPAND   p6nib<>(SB), Y11, Y11 \
	VPSRLW  $2, Y10, Y12 \
	VPAND   p6hi<>(SB), Y12, Y12 \
	VPOR    Y12, Y11, Y11 \
	P6_MUL(yoff+96, soff+12)

// P6_REDUCE8 leaves in a the eight int32 lane sums of a..h, one per lane
// (a's in lane 0); b..h are clobbered.
#define P6_REDUCE8(a, b, c, d, e, f, g, h) \
	VPHADDD    b, a, a \
	VPHADDD    d, c, c \
	VPHADDD    f, e, e \
	VPHADDD    h, g, g \
	VPHADDD    c, a, a \
	VPHADDD    g, e, e \
	VPERM2I128 $0x20, e, a, b \
	VPERM2I128 $0x31, e, a, c \
	VPADDD     c, b, a

// P6_ARGS loads the eight-token kernels' arguments (row SI, step BX,
// tokens at DI and DX, ystride R8 and 3·ystride R9, yd R12/R13, bs
// R11/R10, blocks CX), clears the sums (Y15) and tests CX.
#define P6_ARGS \
	MOVQ   w+0(FP), SI \
	MOVQ   step+8(FP), BX \
	MOVQ   y0+16(FP), DI \
	MOVQ   y1+24(FP), DX \
	MOVQ   ystride+32(FP), R8 \
	MOVQ   yd0+40(FP), R12 \
	MOVQ   yd1+48(FP), R13 \
	MOVQ   bs0+56(FP), R11 \
	MOVQ   bs1+64(FP), R10 \
	MOVQ   nb+72(FP), CX \
	LEAQ   (R8)(R8*2), R9 \
	VXORPS Y15, Y15, Y15 \
	TESTQ  CX, CX

// P6_NEXT adds block b's (f16(d)·yd)·isum to the eight sums in Y15 (isum
// in Y0, int32), as dotQ6_K does, steps every pointer to block b+1 and
// counts CX down.
#define P6_NEXT \
	VCVTDQ2PS    Y0, Y0 \
	VPBROADCASTW 208(SI), X9 \
	VCVTPH2PS    X9, Y9 \
	VMOVUPS      (R12), X10 \
	VINSERTF128  $1, (R13), Y10, Y10 \
	VMULPS       Y10, Y9, Y9 \
	VMULPS       Y0, Y9, Y9 \
	VADDPS       Y9, Y15, Y15 \
	ADDQ         BX, SI \
	ADDQ         $256, DI \
	ADDQ         $256, DX \
	ADDQ         $16, R12 \
	ADDQ         $16, R13 \
	ADDQ         $128, R11 \
	ADDQ         $128, R10 \
	DECQ         CX

// func q6KDots8AVX2(w *byte, step int, y0, y1 *int8, ystride int, yd0, yd1 *float32, bs0, bs1 *int16, nb int, out *float32)
// The row's blocks at w + b·step; tokens 0..3 at y0 + t·ystride, 4..7 at
// y1 + t·ystride; yd0/yd1: 4 float32 per block; bs0/bs1: 4×16 int16
// per-16 sums per block; out: 8 float32.
TEXT ·q6KDots8AVX2(SB), NOSPLIT, $32-88
	P6_ARGS
	JEQ     p6done

p6loop:
	// Rows follow each other, block by block when interleaved by four,
	// so the stream continues past this row: fetch kPrefetch bytes on
	// (the rows of an interleaved group together cover every line).
	PREFETCHT0 4608(SI)
	PREFETCHT0 4672(SI)
	PREFETCHT0 4736(SI)
	PREFETCHT0 4800(SI)
	VPMOVSXBW 192(SI), Y13
	VMOVDQU   Y13, 0(SP)
	VPXOR     Y0, Y0, Y0
	VPXOR     Y1, Y1, Y1
	VPXOR     Y2, Y2, Y2
	VPXOR     Y3, Y3, Y3
	VPXOR     Y4, Y4, Y4
	VPXOR     Y5, Y5, Y5
	VPXOR     Y6, Y6, Y6
	VPXOR     Y7, Y7, Y7
	P6_HALF(0, 128, 0, 0)
	P6_HALF(64, 160, 128, 16)
	P6_REDUCE8(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	// o = 32·Σ scale_j · bs_j per token.
	VMOVDQU  0(SP), Y13
	VPMADDWD 0(R11), Y13, Y1
	VPMADDWD 32(R11), Y13, Y2
	VPMADDWD 64(R11), Y13, Y3
	VPMADDWD 96(R11), Y13, Y4
	VPMADDWD 0(R10), Y13, Y5
	VPMADDWD 32(R10), Y13, Y6
	VPMADDWD 64(R10), Y13, Y7
	VPMADDWD 96(R10), Y13, Y8
	P6_REDUCE8(Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8)
	VPSLLD    $5, Y1, Y1
	VPSUBD    Y1, Y0, Y0
	P6_NEXT
	JNZ   p6loop

p6done:
	MOVQ    out+80(FP), AX
	VMOVUPS Y15, (AX)
	VZEROUPPER
	RET

// AVX-512 (BW, VL, VNNI) form of the eight-token kernel: 64 levels per
// register, and the scale applied by VPDPWSSD on VPMADDUBSW's pair sums
// (one instruction where the AVX2 form takes VPMADDWD and VPADDD), the
// per-16 scale words spread by VPERMW. Same exact int32 sums per block,
// then the same float32 steps as dotQ6_K.

// Word shift counts for the qh bits of two 32-level groups at once:
// groups 0|1 of a half shift left by 4|2, groups 2|3 right by 0|2.
DATA p6zshl<>+0(SB)/8, $0x0004000400040004
DATA p6zshl<>+8(SB)/8, $0x0004000400040004
DATA p6zshl<>+16(SB)/8, $0x0004000400040004
DATA p6zshl<>+24(SB)/8, $0x0004000400040004
DATA p6zshl<>+32(SB)/8, $0x0002000200020002
DATA p6zshl<>+40(SB)/8, $0x0002000200020002
DATA p6zshl<>+48(SB)/8, $0x0002000200020002
DATA p6zshl<>+56(SB)/8, $0x0002000200020002
GLOBL p6zshl<>(SB), RODATA|NOPTR, $64

DATA p6zshr<>+0(SB)/8, $0
DATA p6zshr<>+8(SB)/8, $0
DATA p6zshr<>+16(SB)/8, $0
DATA p6zshr<>+24(SB)/8, $0
DATA p6zshr<>+32(SB)/8, $0x0002000200020002
DATA p6zshr<>+40(SB)/8, $0x0002000200020002
DATA p6zshr<>+48(SB)/8, $0x0002000200020002
DATA p6zshr<>+56(SB)/8, $0x0002000200020002
GLOBL p6zshr<>(SB), RODATA|NOPTR, $64

// VPERMW indices: register j spreads scales 4j..4j+3 over 8 words each
// (the 64 levels of groups 2j, 2j+1 are sub-blocks 4j..4j+3).
#define P6IDX(off, a, b) \
	DATA p6zidx<>+off(SB)/8, $a \
	DATA p6zidx<>+off+8(SB)/8, $a \
	DATA p6zidx<>+off+16(SB)/8, $b \
	DATA p6zidx<>+off+24(SB)/8, $b

P6IDX(0, 0x0000000000000000, 0x0001000100010001)
P6IDX(32, 0x0002000200020002, 0x0003000300030003)
P6IDX(64, 0x0004000400040004, 0x0005000500050005)
P6IDX(96, 0x0006000600060006, 0x0007000700070007)
P6IDX(128, 0x0008000800080008, 0x0009000900090009)
P6IDX(160, 0x000a000a000a000a, 0x000b000b000b000b)
P6IDX(192, 0x000c000c000c000c, 0x000d000d000d000d)
P6IDX(224, 0x000e000e000e000e, 0x000f000f000f000f)
GLOBL p6zidx<>(SB), RODATA|NOPTR, $256

// P6Z_MUL adds scale·(level·y pair sums) of the 64 levels in Z11 (scales
// spread in sreg) for the eight tokens' activations at yoff into Z0..Z7.
#define P6Z_MUL(yoff, sreg) \
	VPMADDUBSW yoff(DI), Z11, Z14 \
	VPDPWSSD   sreg, Z14, Z0 \
	VPMADDUBSW yoff(DI)(R8*1), Z11, Z26 \
	VPDPWSSD   sreg, Z26, Z1 \
	VPMADDUBSW yoff(DI)(R8*2), Z11, Z14 \
	VPDPWSSD   sreg, Z14, Z2 \
	VPMADDUBSW yoff(DI)(R9*1), Z11, Z26 \
	VPDPWSSD   sreg, Z26, Z3 \
	VPMADDUBSW yoff(DX), Z11, Z14 \
	VPDPWSSD   sreg, Z14, Z4 \
	VPMADDUBSW yoff(DX)(R8*1), Z11, Z26 \
	VPDPWSSD   sreg, Z26, Z5 \
	VPMADDUBSW yoff(DX)(R8*2), Z11, Z14 \
	VPDPWSSD   sreg, Z14, Z6 \
	VPMADDUBSW yoff(DX)(R9*1), Z11, Z26 \
	VPDPWSSD   sreg, Z26, Z7

// P6Z_HALF runs one half (128 levels) of a block: ql at qloff (64 bytes,
// low nibbles groups 0|1, high nibbles groups 2|3), qh at qhoff (32 bytes,
// read into both 256-bit halves), activations from yoff, scale indices
// ia, ib.
#define P6Z_HALF(qloff, qhoff, yoff, ia, ib) \
	VMOVDQU64       qloff(SI), Z8 \
	VBROADCASTI64X4 qhoff(SI), Z10 \
	VPERMW          Z13, ia, Z24 \
	VPERMW          Z13, ib, Z25 \
	VPANDQ          Z18, Z8, Z11 \
	VPSLLVW         Z16, Z10, Z12 \
	VPANDQ          Z19, Z12, Z12 \
	VPORQ           Z12, Z11, Z11 \
	P6Z_MUL(yoff, Z24) \
	VPSRLW          $4, Z8, Z11 \
	VPANDQ          Z18, Z11, Z11 \
	VPSRLVW         Z17, Z10, Z12 \
	VPANDQ          Z19, Z12, Z12 \
	VPORQ           Z12, Z11, Z11 \
	P6Z_MUL(yoff+64, Z25)

// func q6KDots8AVX512(w *byte, step int, y0, y1 *int8, ystride int, yd0, yd1 *float32, bs0, bs1 *int16, nb int, out *float32)
// Arguments as q6KDots8AVX2's.
TEXT ·q6KDots8AVX512(SB), NOSPLIT, $0-88
	P6_ARGS
	JEQ     p6zdone
	VMOVDQU64 p6zshl<>(SB), Z16
	VMOVDQU64 p6zshr<>(SB), Z17
	MOVL    $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z18
	MOVL    $0x30303030, AX
	VPBROADCASTD AX, Z19
	VMOVDQU64 p6zidx<>+0(SB), Z20
	VMOVDQU64 p6zidx<>+64(SB), Z21
	VMOVDQU64 p6zidx<>+128(SB), Z22
	VMOVDQU64 p6zidx<>+192(SB), Z23

p6zloop:
	PREFETCHT0 4608(SI)
	PREFETCHT0 4672(SI)
	PREFETCHT0 4736(SI)
	PREFETCHT0 4800(SI)
	VPMOVSXBW 192(SI), Y13
	VPXORQ    Z0, Z0, Z0
	VPXORQ    Z1, Z1, Z1
	VPXORQ    Z2, Z2, Z2
	VPXORQ    Z3, Z3, Z3
	VPXORQ    Z4, Z4, Z4
	VPXORQ    Z5, Z5, Z5
	VPXORQ    Z6, Z6, Z6
	VPXORQ    Z7, Z7, Z7
	P6Z_HALF(0, 128, 0, Z20, Z21)
	P6Z_HALF(64, 160, 128, Z22, Z23)
	// Fold each token's 16 lanes to 8, then take off 32·Σ scale_j·bs_j
	// (VPDPWSSD by −32·scale, 256-bit), then the eight lane sums.
	VEXTRACTI64X4 $1, Z0, Y26
	VPADDD        Y26, Y0, Y0
	VEXTRACTI64X4 $1, Z1, Y26
	VPADDD        Y26, Y1, Y1
	VEXTRACTI64X4 $1, Z2, Y26
	VPADDD        Y26, Y2, Y2
	VEXTRACTI64X4 $1, Z3, Y26
	VPADDD        Y26, Y3, Y3
	VEXTRACTI64X4 $1, Z4, Y26
	VPADDD        Y26, Y4, Y4
	VEXTRACTI64X4 $1, Z5, Y26
	VPADDD        Y26, Y5, Y5
	VEXTRACTI64X4 $1, Z6, Y26
	VPADDD        Y26, Y6, Y6
	VEXTRACTI64X4 $1, Z7, Y26
	VPADDD        Y26, Y7, Y7
	VPSLLW   $5, Y13, Y12
	VPXOR    Y14, Y14, Y14
	VPSUBW   Y12, Y14, Y12
	VPDPWSSD 0(R11), Y12, Y0
	VPDPWSSD 32(R11), Y12, Y1
	VPDPWSSD 64(R11), Y12, Y2
	VPDPWSSD 96(R11), Y12, Y3
	VPDPWSSD 0(R10), Y12, Y4
	VPDPWSSD 32(R10), Y12, Y5
	VPDPWSSD 64(R10), Y12, Y6
	VPDPWSSD 96(R10), Y12, Y7
	P6_REDUCE8(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	P6_NEXT
	JNZ   p6zloop

p6zdone:
	MOVQ    out+80(FP), AX
	VMOVUPS Y15, (AX)
	VZEROUPPER
	RET
