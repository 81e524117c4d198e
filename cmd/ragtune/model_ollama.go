package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"ragtune/gguf"
	"ragtune/hub"
	"ragtune/internal/bytesize"
	"ragtune/internal/progress"
	"ragtune/quant"
	"ragtune/weights"
)

func init() {
	registerSub("model", "list", "list the models ragtune can find (model directories, GGUF files, Ollama's store)", runModelList)
}

// resolveOllamaModel lets --model name an Ollama model: "ollama:NAME"
// always, and "NAME:TAG" (deepseek-r1:1.5b) when no file of that name
// exists. The flag is rewritten to the model's GGUF blob in the Ollama
// store, which every command then loads like any GGUF file.
func resolveOllamaModel(fs *flag.FlagSet) error {
	f := fs.Lookup("model")
	if f == nil || f.Value.String() == "" {
		return nil
	}
	v := f.Value.String()
	explicit := strings.HasPrefix(v, "ollama:")
	if !explicit {
		if _, err := os.Stat(v); err == nil || !strings.Contains(v, ":") || strings.ContainsAny(v, `\`) || strings.HasPrefix(v, ".") || strings.HasPrefix(v, "/") {
			return nil
		}
	}
	name, err := hub.ParseOllamaName(v)
	if err != nil {
		if explicit {
			return usageErrorf("--model: %v", err)
		}
		return nil
	}
	m, err := hub.ResolveOllama("", name)
	if err != nil {
		return err
	}
	return fs.Set("model", m.GGUF)
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
		if d := ragtuneModelsDir(); d != "" {
			dirs = append(dirs, d)
		}
	}
	type row struct{ name, size, typ, arch, where string }
	var rows []row
	seen := map[string]bool{}
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return fmt.Errorf("model list: %w", err)
		}
		for _, e := range ents {
			p := filepath.Join(d, e.Name())
			abs, _ := filepath.Abs(p)
			if seen[abs] {
				continue
			}
			var info modelInfo
			switch {
			case e.IsDir():
				if _, err := os.Stat(filepath.Join(p, "config.json")); err != nil {
					continue
				}
				info = hfDirInfo(p)
			case strings.HasSuffix(strings.ToLower(e.Name()), ".gguf"):
				info = ggufInfo(p)
			default:
				continue
			}
			seen[abs] = true
			rows = append(rows, row{p, bytesize.Format(info.size), info.typ, info.arch, "local"})
		}
	}
	oms, err := hub.ListOllama(*ollamaDir)
	if err != nil {
		return err
	}
	for _, m := range oms {
		info := ggufInfo(m.GGUF)
		rows = append(rows, row{m.Name.String(), bytesize.Format(m.Size), info.typ, info.arch, "ollama"})
	}
	if len(rows) == 0 {
		fmt.Println("no models found; 'ragtune model pull REPO', 'ragtune model pull ollama:NAME' or 'ragtune model init' make one")
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tSIZE\tTYPE\tARCH\tSOURCE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.name, r.size, r.typ, r.arch, r.where)
	}
	return tw.Flush()
}

// ragtuneModelsDir is $RAGTUNE_HOME/models, else ~/.ragtune/models.
func ragtuneModelsDir() string {
	if h := os.Getenv("RAGTUNE_HOME"); h != "" {
		return filepath.Join(h, "models")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".ragtune", "models")
	}
	return ""
}

type modelInfo struct {
	size      int64
	typ, arch string
}

// ggufInfo reads a GGUF file's architecture and weight type: the file type
// it records (Q4_K_M), else its most common 2-D tensor type.
func ggufInfo(p string) modelInfo {
	info := modelInfo{typ: "?", arch: "?"}
	if st, err := os.Stat(p); err == nil {
		info.size = st.Size()
	}
	f, err := gguf.Open(p)
	if err != nil {
		info.typ = "unreadable"
		return info
	}
	defer f.Close()
	if a, ok := f.String("general.architecture"); ok {
		info.arch = a
	}
	if ft, ok := f.Uint("general.file_type"); ok {
		if s := fileTypeName(ft); s != "" {
			info.typ = s
			return info
		}
	}
	counts := map[weights.DType]uint64{}
	var best weights.DType
	for _, ti := range f.Tensors {
		if len(ti.Shape()) == 2 {
			counts[ti.Type]++
			if counts[ti.Type] > counts[best] {
				best = ti.Type
			}
		}
	}
	if len(counts) > 0 {
		info.typ = best.String()
	}
	return info
}

// fileTypeName names a general.file_type (llama_ftype) value.
func fileTypeName(ft uint64) string {
	switch ft {
	case 0:
		return "F32"
	case 1:
		return "F16"
	case 32:
		return "BF16"
	}
	if m := quant.Mix(ft); strings.HasPrefix(m.String(), "q") {
		return strings.ToUpper(m.String())
	}
	return ""
}

// hfDirInfo reads an HF model directory's config.json and sums its
// safetensors files.
func hfDirInfo(p string) modelInfo {
	info := modelInfo{typ: "?", arch: "?"}
	if raw, err := os.ReadFile(filepath.Join(p, "config.json")); err == nil {
		var c struct {
			ModelType  string `json:"model_type"`
			TorchDtype string `json:"torch_dtype"`
		}
		if json.Unmarshal(raw, &c) == nil {
			if c.ModelType != "" {
				info.arch = c.ModelType
			}
			if d, err := weights.FromTorchDtype(c.TorchDtype); err == nil {
				info.typ = d.String()
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(p, "*.safetensors"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			info.size += st.Size()
		}
	}
	return info
}
