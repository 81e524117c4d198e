package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path"
	"strings"
	"time"

	"ragtune/hub"
	"ragtune/internal/plural"
	"ragtune/internal/progress"
	"ragtune/model/qwen2"
)

func init() {
	registerSub("model", "pull", "download a model from Hugging Face or ModelScope (resumable, checksum-verified)", runModelPull)
}

const modelPullDescription = `
Downloads every file of a model repository (or those matching --include)
into an HF model directory that the other commands read. The hub's API
lists the files with their sizes and, for large (LFS) files on Hugging Face
and every file on ModelScope, their SHA-256; each download is checked
against them, and a file that does not match is deleted, never kept.

An interrupted download resumes where it stopped: run the same command
again (partial files are kept as PATH.part and continued with HTTP Range
requests). Files already present with the right size and digest are kept.
Failed requests are retried with backoff.

Hugging Face honours HF_ENDPOINT (a mirror, e.g. https://hf-mirror.com) and
HF_TOKEN (gated or private repositories); --endpoint and --token override
them. ModelScope (--source modelscope) serves the same DeepSeek models from
China, at revision "master" by default.

ollama:NAME (ollama:deepseek-r1:1.5b) pulls from an Ollama registry
(--endpoint, default https://registry.ollama.ai) into Ollama's store
($OLLAMA_MODELS or ~/.ollama/models, or --out): the manifest and its blobs,
each resumed after an interruption and checked against its sha256 digest.
Ollama sees the model too, and --model deepseek-r1:1.5b runs it.

Examples:
  ragtune model pull deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B
  HF_ENDPOINT=https://hf-mirror.com ragtune model pull deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --out r1-1.5b
  ragtune model pull deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --source modelscope --out r1-1.5b
  ragtune model pull deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --include '*.json' --include '*.safetensors'
  ragtune model pull FreedomIntelligence/medical-o1-reasoning-SFT --repo-type dataset --list
  ragtune model pull ollama:deepseek-r1:1.5b   (Ollama's registry, into Ollama's store)`

func runModelPull(args []string) error {
	fs := newFlagSet("model pull", "REPO [--revision R] [--source huggingface|modelscope] [--endpoint URL] [--out DIR] [--include GLOB] [--list]", modelPullDescription)
	revision := fs.String("revision", "", "`REV`: branch, tag or commit (default main; master on ModelScope)")
	source := fs.String("source", hub.HuggingFace, "`HUB`: huggingface or modelscope")
	endpoint := fs.String("endpoint", "", "hub base `URL` (default: $HF_ENDPOINT or https://huggingface.co; https://www.modelscope.cn)")
	out := fs.String("out", "", "output `DIR` (default: the repository's name)")
	token := fs.String("token", "", "access `TOKEN` (default: $HF_TOKEN for Hugging Face)")
	var include globList
	fs.Var(&include, "include", "only files matching this `GLOB`, by path or file name (repeatable)")
	retries := fs.Int("retries", 4, "retries per request after a network or server error")
	quiet := fs.Bool("quiet", false, "no progress bars")
	repoType := fs.String("repo-type", "model", "`KIND`: model, or dataset (Hugging Face) to fetch training data")
	listOnly := fs.Bool("list", false, "list the files (after --include) with their sizes and stop")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("model pull needs one REPO, e.g. deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")
	}
	repo := fs.Arg(0)
	if strings.HasPrefix(repo, "ollama:") {
		// An Ollama model into Ollama's store (model_ollama.go); --endpoint
		// is the registry, --out the store.
		return runOllamaPull(repo, *endpoint, *out, *retries, *quiet)
	}
	if !hub.ValidRepo(repo) {
		return usageErrorf("repository %q: want OWNER/NAME, e.g. deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", repo)
	}
	if *source != hub.HuggingFace && *source != hub.ModelScope {
		return usageErrorf("--source must be huggingface or modelscope, got %q", *source)
	}
	if *out == "" {
		*out = path.Base(repo)
	}
	o := hub.Options{Source: *source, Endpoint: *endpoint, Revision: *revision, Token: *token, Include: include,
		Retries: *retries, RepoType: *repoType}
	if *retries <= 0 {
		o.Retries = -1
	}
	if !*quiet {
		o.Progress = progress.ForStderr()
		defer progress.Flush(o.Progress)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *listOnly {
		files, err := hub.List(ctx, repo, o)
		if err != nil {
			return err
		}
		hub.WriteFileList(os.Stdout, files)
		return nil
	}
	start := time.Now()
	res, err := hub.Pull(ctx, repo, *out, o)
	if err != nil {
		if res != nil && res.Downloaded+res.Skipped > 0 {
			err = fmt.Errorf("%w\n%d of %s are in %s; run the same command again to continue", err, res.Downloaded+res.Skipped, plural.Count(len(res.Files), "file"), *out)
		}
		return err
	}
	res.WriteSummary(os.Stdout, repo, time.Since(start))
	if cfg, err := qwen2.LoadConfig(*out); err == nil {
		fmt.Printf("%s: %s, hidden %d, %d layers, vocab %d, %s\n", *out, strings.Join(cfg.Architectures, ","),
			cfg.HiddenSize, cfg.NumHiddenLayers, cfg.VocabSize, cfg.TorchDtype)
	}
	return nil
}
