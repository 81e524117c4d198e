package hub

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"ragtune/gguf"
	"ragtune/internal/bytesize"
	"ragtune/quant"
	"ragtune/weights"
)

// ModelInfo is what 'ragtune model list' shows of a model without
// loading it: its size on disk, weight type and architecture ("?" when
// unknown).
type ModelInfo struct {
	Name      string // how --model names it: the path, or the Ollama name
	Source    string // "local" or "ollama"
	Size      int64
	Type      string // Q4_K_M, BF16, ...; "unreadable" for a broken GGUF
	Arch      string // general.architecture or config.json's model_type
	Path      string
	Directory bool // an HF model directory rather than a GGUF file
}

// ListModels is every model ragtune can find: ListLocal's in dirs, then
// every model in Ollama's store at ollamaStore ("": $OLLAMA_MODELS or
// ~/.ollama/models), named as Ollama names it.
func ListModels(dirs []string, ollamaStore string) ([]ModelInfo, error) {
	models, err := ListLocal(dirs)
	if err != nil {
		return nil, err
	}
	oms, err := ListOllama(ollamaStore)
	if err != nil {
		return nil, err
	}
	for _, m := range oms {
		info := GGUFInfo(m.GGUF)
		info.Name, info.Source, info.Size = m.Name.String(), "ollama", m.Size
		models = append(models, info)
	}
	return models, nil
}

// WriteModelTable writes models as the table 'ragtune model list' prints:
// name, size, weight type, architecture and source.
func WriteModelTable(w io.Writer, models []ModelInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tSIZE\tTYPE\tARCH\tSOURCE")
	for _, m := range models {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, bytesize.Format(m.Size), m.Type, m.Arch, m.Source)
	}
	return tw.Flush()
}

// ModelsDir is ragtune's own model folder: $RAGTUNE_HOME/models, else
// ~/.ragtune/models ("" when there is no home directory).
func ModelsDir() string {
	if h := os.Getenv("RAGTUNE_HOME"); h != "" {
		return filepath.Join(h, "models")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".ragtune", "models")
	}
	return ""
}

// ListLocal finds the models one level deep in dirs, in directory order:
// HF model directories (those holding config.json) and .gguf files,
// named by their path. A folder that does not exist is skipped; a path
// reached twice is listed once.
func ListLocal(dirs []string) ([]ModelInfo, error) {
	var out []ModelInfo
	seen := map[string]bool{}
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("model list: %w", err)
		}
		for _, e := range ents {
			p := filepath.Join(d, e.Name())
			abs, _ := filepath.Abs(p)
			if seen[abs] {
				continue
			}
			var info ModelInfo
			switch {
			case e.IsDir():
				if _, err := os.Stat(filepath.Join(p, "config.json")); err != nil {
					continue
				}
				info = HFDirInfo(p)
			case strings.HasSuffix(strings.ToLower(e.Name()), ".gguf"):
				info = GGUFInfo(p)
			default:
				continue
			}
			seen[abs] = true
			info.Name, info.Source = p, "local"
			out = append(out, info)
		}
	}
	return out, nil
}

// GGUFInfo reads a GGUF file's architecture and weight type: the file type
// it records (Q4_K_M), else its most common 2-D tensor type.
func GGUFInfo(p string) ModelInfo {
	info := ModelInfo{Type: "?", Arch: "?", Path: p}
	if st, err := os.Stat(p); err == nil {
		info.Size = st.Size()
	}
	f, err := gguf.Open(p)
	if err != nil {
		info.Type = "unreadable"
		return info
	}
	defer f.Close()
	if a, ok := f.String("general.architecture"); ok {
		info.Arch = a
	}
	if ft, ok := f.Uint("general.file_type"); ok {
		if s := FileTypeName(ft); s != "" {
			info.Type = s
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
		info.Type = best.String()
	}
	return info
}

// FileTypeName names a general.file_type (llama_ftype) value, "" for one
// ragtune does not know.
func FileTypeName(ft uint64) string {
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

// HFDirInfo reads an HF model directory's config.json (architecture and
// torch_dtype) and sums its safetensors files.
func HFDirInfo(p string) ModelInfo {
	info := ModelInfo{Type: "?", Arch: "?", Path: p, Directory: true}
	if raw, err := os.ReadFile(filepath.Join(p, "config.json")); err == nil {
		var c struct {
			ModelType  string `json:"model_type"`
			TorchDtype string `json:"torch_dtype"`
		}
		if json.Unmarshal(raw, &c) == nil {
			if c.ModelType != "" {
				info.Arch = c.ModelType
			}
			if d, err := weights.FromTorchDtype(c.TorchDtype); err == nil {
				info.Type = d.String()
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(p, "*.safetensors"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			info.Size += st.Size()
		}
	}
	return info
}
