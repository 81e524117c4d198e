package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"ragtune/hub"
	"ragtune/internal/bytesize"
	"ragtune/internal/progress"
)

func init() {
	registerSub("model", "list", "list the models ragtune can find (model directories, GGUF files, Ollama's store)", runModelList)
}

// resolveOllamaModel rewrites a --model that names an Ollama model
// ("ollama:NAME", or "NAME:TAG" when no such file exists) to the model's
// GGUF blob in the Ollama store (see hub.ResolveModelArg).
func resolveOllamaModel(fs *flag.FlagSet) error {
	f := fs.Lookup("model")
	if f == nil || f.Value.String() == "" {
		return nil
	}
	p, err := hub.ResolveModelArg(f.Value.String())
	if err != nil || p == f.Value.String() {
		return err
	}
	return fs.Set("model", p)
}

// runOllamaPull is 'model pull ollama:NAME'.
func runOllamaPull(ref, registry, store string, retries int, quiet bool) error {
	name, err := hub.ParseOllamaName(ref)
	if err != nil {
		return usageErrorf("%v", err)
	}
	o := hub.OllamaOptions{Registry: registry, Store: store, Retries: retries}
	if retries <= 0 {
		o.Retries = -1
	}
	if !quiet {
		o.Progress = progress.ForStderr()
		defer progress.Flush(o.Progress)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	m, res, err := hub.PullOllama(ctx, name, o)
	if err != nil {
		if res != nil && res.Downloaded+res.Skipped > 0 {
			err = fmt.Errorf("%w\n%d of %d blobs are in %s; run the same command again to continue", err, res.Downloaded+res.Skipped, len(res.Files), res.Dir)
		}
		return err
	}
	fmt.Printf("pulled %s (%s, %d blobs, %s transferred in %.1fs) into %s\nrun it with: ragtune run --model %s --prompt TEXT\n",
		name, bytesize.Format(m.Size), len(res.Files), bytesize.Format(res.Bytes), time.Since(start).Seconds(), res.Dir, name)
	return nil
}

const modelListDescription = `
Lists the models ragtune can load, with size, weight type and
architecture: Hugging Face model directories (config.json) and GGUF files
in the current directory and in $RAGTUNE_HOME/models (default
~/.ragtune/models), one level deep, and every model in Ollama's store
($OLLAMA_MODELS, default ~/.ollama/models). Ollama models load by name:
--model deepseek-r1:1.5b.

Examples:
  ragtune model list
  ragtune model list --dir ./models --ollama-models /data/ollama`

func runModelList(args []string) error {
	fs := newFlagSet("model list", "[--dir DIR] [--ollama-models DIR]", modelListDescription)
	var dirs globList
	fs.Var(&dirs, "dir", "look for model directories and GGUF files in `DIR` (repeatable; default . and $RAGTUNE_HOME/models)")
	ollamaDir := fs.String("ollama-models", "", "Ollama's store `DIR` (default $OLLAMA_MODELS or ~/.ollama/models)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageErrorf("model list takes no arguments (use --dir)")
	}
	if len(dirs) == 0 {
		dirs = globList{"."}
		if d := hub.ModelsDir(); d != "" {
			dirs = append(dirs, d)
		}
	}
	models, err := hub.ListModels(dirs, *ollamaDir)
	if err != nil {
		return err
	}
	if len(models) == 0 {
		fmt.Println("no models found; 'ragtune model pull REPO', 'ragtune model pull ollama:NAME' or 'ragtune model init' make one")
		return nil
	}
	return hub.WriteModelTable(os.Stdout, models)
}
