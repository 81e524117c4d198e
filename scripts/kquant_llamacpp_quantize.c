// kquant_llamacpp_quantize runs llama.cpp's llama_model_quantize (what the
// llama-quantize tool does, without an importance matrix) on a GGUF file,
// so ragtune's K-quant mixes can be compared with llama.cpp's tensor for
// tensor. It dlopens the libllama that node-llama-cpp ships and builds
// against the headers of the same llama.cpp release (node-llama-cpp keeps
// its source as llama/gitRelease.bundle; `git clone` it).
//
//     gcc -O1 -I $LLAMA_SRC/include -I $LLAMA_SRC/ggml/include
//     (one line:) -o /tmp/kquant_llamacpp_quantize scripts/kquant_llamacpp_quantize.c -ldl
//     /tmp/kquant_llamacpp_quantize $NODE_LLAMA_CPP_BINS IN.gguf OUT.gguf q4_k_m [pure]
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "llama.h"

static const struct {
	const char *name;
	enum llama_ftype ftype;
} ftypes[] = {
    {"q2_k", LLAMA_FTYPE_MOSTLY_Q2_K},     {"q3_k_s", LLAMA_FTYPE_MOSTLY_Q3_K_S},
    {"q3_k_m", LLAMA_FTYPE_MOSTLY_Q3_K_M}, {"q3_k_l", LLAMA_FTYPE_MOSTLY_Q3_K_L},
    {"q4_k_s", LLAMA_FTYPE_MOSTLY_Q4_K_S}, {"q4_k_m", LLAMA_FTYPE_MOSTLY_Q4_K_M},
    {"q5_k_s", LLAMA_FTYPE_MOSTLY_Q5_K_S}, {"q5_k_m", LLAMA_FTYPE_MOSTLY_Q5_K_M},
    {"q6_k", LLAMA_FTYPE_MOSTLY_Q6_K},     {"q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},
    {"q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},
};

int main(int argc, char **argv) {
	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: kquant_llamacpp_quantize BINS_DIR IN.gguf OUT.gguf TYPE [pure]\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/libllama.v0.4.0.so", argv[1]);
	void *lib = dlopen(path, RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	void (*backend_init)(void) = (void (*)(void))dlsym(lib, "llama_backend_init");
	struct llama_model_quantize_params (*defaults)(void) =
	    (struct llama_model_quantize_params(*)(void))dlsym(lib, "llama_model_quantize_default_params");
	uint32_t (*quantize)(const char *, const char *, const struct llama_model_quantize_params *) =
	    (uint32_t(*)(const char *, const char *, const struct llama_model_quantize_params *))dlsym(lib, "llama_model_quantize");
	if (!backend_init || !defaults || !quantize) {
		fprintf(stderr, "libllama lacks a quantize symbol: %s\n", dlerror());
		return 1;
	}
	backend_init();
	struct llama_model_quantize_params p = defaults();
	p.nthread = 1;
	p.ftype = (enum llama_ftype) - 1;
	for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
		if (strcmp(argv[4], ftypes[i].name) == 0) p.ftype = ftypes[i].ftype;
	if ((int)p.ftype < 0) {
		fprintf(stderr, "unknown type %s\n", argv[4]);
		return 2;
	}
	p.pure = argc == 6 && strcmp(argv[5], "pure") == 0;
	if (quantize(argv[2], argv[3], &p) != 0) {
		fprintf(stderr, "llama_model_quantize failed\n");
		return 1;
	}
	return 0;
}
