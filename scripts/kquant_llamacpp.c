// kquant_llamacpp writes llama.cpp's K-quant goldens for package quant.
//
// For each of Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, Q5_0, Q5_1 and Q4_1 it quantizes the same
// deterministic inputs with ggml's quantize_row_<type>_ref and expands the
// blocks again with dequantize_row_<type>, both from the libggml-base.so
// that node-llama-cpp ships (dlopen'ed, so no headers are needed). Writes
// quant/testdata/kquant_<type>.bin:
//
//     u32 n (floats, a multiple of 256), f32[n] input, blocks, f32[n] dequantized
//
// Build and run (once; the output is committed, CI never runs this):
//
//     gcc -O1 -o /tmp/kquant_llamacpp scripts/kquant_llamacpp.c -ldl -lm
//     /tmp/kquant_llamacpp $NODE_LLAMA_CPP_BINS quant/testdata
//
// It also writes kquant_q4_1_imatrix.bin (see weighted_q4_1).
//
// NODE_LLAMA_CPP_BINS is node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
// after `npm i --omit=optional node-llama-cpp@3.21.1 @node-llama-cpp/linux-x64@3.21.1`.
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QK 256
#define NBLOCKS 24

typedef void (*quant_fn)(const float *x, void *y, int64_t k);
typedef void (*dequant_fn)(const void *x, float *y, int64_t k);

static uint64_t rng = 20261203;

static double uniform(void) {
	// xorshift64*: deterministic on every platform, unlike rand().
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (double)((rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static float gauss(double sd) {
	double u = uniform(), v = uniform();
	if (u < 1e-300) u = 1e-300;
	return (float)(sd * sqrt(-2 * log(u)) * cos(2 * M_PI * v));
}

// fill writes NBLOCKS blocks that reach the quantizers' corner cases:
// ordinary Gaussian weights at several magnitudes, all-positive and
// all-negative blocks (the min of the affine types), sub-blocks of very
// different size under one super-block scale, zero blocks, a lone value,
// and outliers.
static void fill(float *x) {
	const double scales[] = {0.02, 1.0, 3e-5, 300.0};
	int b = 0;
	for (int s = 0; s < 4; s++)
		for (int k = 0; k < 3; k++, b++)
			for (int i = 0; i < QK; i++) x[b * QK + i] = gauss(scales[s]);
	for (int i = 0; i < QK; i++) x[b * QK + i] = fabsf(gauss(0.5)) + 0.1f;
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = -fabsf(gauss(0.5)) - 0.3f;
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = gauss(pow(10.0, (i / 16) % 4 - 2));
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = 0;
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = i == QK - 1 ? -2.5f : 0;
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = (float)(i % 64 - 32);
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = gauss(0.05) + (i % 37 == 0 ? 4.0f : 0);
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = (i / 16) % 2 ? 0 : gauss(1.0);
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = gauss(1.0) * (float)(i / 16 + 1);
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = 1e-20f * gauss(1.0);
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = (i / 16) % 3 == 0 ? 0 : 1.0f + 0.001f * i;
	b++;
	for (int i = 0; i < QK; i++) x[b * QK + i] = gauss(1.0) - 2.0f;
	b++;
	if (b != NBLOCKS) {
		fprintf(stderr, "fill wrote %d blocks, want %d\n", b, NBLOCKS);
		exit(1);
	}
}

typedef size_t (*quant_w_fn)(const float *src, void *dst, int64_t nrows, int64_t n_per_row, const float *imatrix);

// weighted_q4_1 writes kquant_q4_1_imatrix.bin: the same inputs as rows of
// ROW values quantized by quantize_q4_1 with an importance vector (what
// llama-quantize --imatrix runs, quantize_row_q4_1_impl per row):
//
//     u32 n, u32 row, f32[n] input, f32[row] importance, blocks
//
// The importance spans four decades, so the weighted fit differs from the
// reference one.
#define ROW 768
static int weighted_q4_1(void *lib, const float *x, const char *dir) {
	quant_w_fn q = (quant_w_fn)dlsym(lib, "quantize_q4_1");
	if (!q) {
		fprintf(stderr, "quantize_q4_1: %s\n", dlerror());
		return 1;
	}
	static float qw[ROW];
	for (int j = 0; j < ROW; j++) qw[j] = (float)pow(10.0, 4 * uniform() - 2);
	uint32_t n = NBLOCKS * QK, row = ROW;
	size_t nb = (size_t)n / 32 * 20;
	unsigned char *blocks = calloc(1, nb);
	q(x, blocks, n / ROW, ROW, qw);
	char path[4096];
	snprintf(path, sizeof path, "%s/kquant_q4_1_imatrix.bin", dir);
	FILE *f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return 1;
	}
	fwrite(&n, 4, 1, f);
	fwrite(&row, 4, 1, f);
	fwrite(x, 4, n, f);
	fwrite(qw, 4, ROW, f);
	fwrite(blocks, 1, nb, f);
	if (fclose(f) != 0) {
		perror(path);
		return 1;
	}
	free(blocks);
	printf("%s: %u values in rows of %u, %zu bytes of blocks\n", path, n, row, nb);
	return 0;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: kquant_llamacpp BINS_DIR OUT_DIR\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/libggml-base.so", argv[1]);
	void *lib = dlopen(path, RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	struct {
		const char *name;
		int block; // values per block
		int bytes; // bytes per block
	} types[] = {{"q2_K", 256, 84}, {"q3_K", 256, 110}, {"q4_K", 256, 144},
	             {"q5_K", 256, 176}, {"q6_K", 256, 210}, {"q8_K", 256, 292},
	             // llama-quantize's fallbacks for rows that are not a
	             // multiple of 256 wide (Q4_K → Q5_0, Q5_K → Q5_1).
	             {"q5_0", 32, 22},  {"q5_1", 32, 24},
	             // What llama-quantize gives the first ffn_down layers of a
	             // q4_0 model quantized with an importance matrix.
	             {"q4_1", 32, 20}};
	static float x[NBLOCKS * QK], back[NBLOCKS * QK];
	fill(x);
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		char sym[64];
		snprintf(sym, sizeof sym, "quantize_row_%s_ref", types[t].name);
		quant_fn q = (quant_fn)dlsym(lib, sym);
		snprintf(sym, sizeof sym, "dequantize_row_%s", types[t].name);
		dequant_fn dq = (dequant_fn)dlsym(lib, sym);
		if (!q || !dq) {
			fprintf(stderr, "%s: %s\n", types[t].name, dlerror());
			return 1;
		}
		size_t nb = (size_t)NBLOCKS * QK / types[t].block * types[t].bytes;
		unsigned char *blocks = calloc(1, nb);
		q(x, blocks, NBLOCKS * QK);
		dq(blocks, back, NBLOCKS * QK);
		snprintf(path, sizeof path, "%s/kquant_%s.bin", argv[2], types[t].name);
		FILE *f = fopen(path, "wb");
		if (!f) {
			perror(path);
			return 1;
		}
		uint32_t n = NBLOCKS * QK;
		fwrite(&n, 4, 1, f);
		fwrite(x, 4, n, f);
		fwrite(blocks, 1, nb, f);
		fwrite(back, 4, n, f);
		if (fclose(f) != 0) {
			perror(path);
			return 1;
		}
		free(blocks);
		printf("%s: %u values, %zu bytes of blocks\n", path, n, nb);
	}
	return weighted_q4_1(lib, x, argv[2]);
}
