package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"ragtune/gguf"
	"ragtune/internal/bytesize"
	"ragtune/internal/cli"
	"ragtune/model/qwen2"
)

func init() {
	registerSub("model", "inspect", "print a model's config and tensor table", runModelInspect)
}

func runModelInspect(args []string) error {
	fs := newFlagSet("model inspect", "DIR|FILE [--tensors=false] [--metadata=false]", `
Print the config, GGUF metadata (for .gguf files; long arrays summarized),
and a table of every tensor (name, dtype, shape, bytes) with the totals, of
an HF model directory, a .safetensors file or a GGUF file. Tensor names are
shown as Hugging Face names; a checkpoint that does not match its config is
still shown, with the mismatch reported at the end.

Examples:
  ragtune model inspect ./r1-1.5b
  ragtune model inspect r1-1.5b-q4_0.gguf --tensors=false`)
	showTensors := fs.Bool("tensors", true, "print the tensor table")
	showMeta := fs.Bool("metadata", true, "print GGUF metadata")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("model inspect needs one DIR or FILE (see 'ragtune model inspect --help')")
	}
	path := fs.Arg(0)
	if err := cli.ModelPath(path); err != nil {
		return err
	}
	src, cfg, err := qwen2.OpenUnchecked(path)
	if err != nil {
		// A GGUF of an architecture ragtune does not run (an embedding
		// model, say) still has metadata and tensors worth listing.
		if f, gerr := gguf.Open(path); gerr == nil {
			defer f.Close()
			fmt.Printf("note: %v\n", err)
			inspectRawGGUF(f, *showTensors, *showMeta)
			return nil
		}
		return err
	}
	defer src.Close()

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "model\t%s\n", path)
	b, _ := json.Marshal(cfg)
	var fields map[string]any
	json.Unmarshal(b, &fields)
	for _, k := range []string{"architectures", "model_type", "torch_dtype", "hidden_size", "intermediate_size",
		"num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
		"max_position_embeddings", "rms_norm_eps", "rope_theta", "tie_word_embeddings", "bos_token_id", "eos_token_id"} {
		if v, ok := fields[k]; ok {
			fmt.Fprintf(w, "%s\t%v\n", k, v)
		}
	}
	fmt.Fprintf(w, "q/k/v bias\t%v\n", cfg.HasQKVBias())
	w.Flush()

	if gs, ok := src.(*qwen2.GGUFSource); ok && *showMeta {
		fmt.Printf("\nGGUF v%d metadata (%d keys, alignment %d):\n", gs.File.Version, len(gs.File.Keys), gs.File.Alignment)
		w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		for _, k := range gs.File.Keys {
			fmt.Fprintf(w, "  %s\t%s\n", k, summarizeValue(gs.File.Metadata[k]))
		}
		w.Flush()
	}

	var params, size int64
	if *showTensors {
		fmt.Println()
		w = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "name\tdtype\tshape\tbytes\t")
	}
	for _, n := range src.Names() {
		t, err := src.Tensor(n)
		if err != nil {
			return err
		}
		params += int64(t.NumElements())
		size += int64(len(t.Data))
		if *showTensors {
			fmt.Fprintf(w, "%s\t%s\t%v\t%d\t\n", n, gguf.TypeName(t.DType), t.Shape, len(t.Data))
		}
	}
	if *showTensors {
		w.Flush()
	}
	fmt.Printf("\n%d tensors, %s parameters (%d), %s of weights\n", len(src.Names()), modelFmtCount(params), params, bytesize.Format(size))
	if err := qwen2.ValidateTensors(src, cfg); err != nil {
		fmt.Printf("warning: %v\n", err)
	}
	return nil
}

// inspectRawGGUF lists a GGUF file's metadata and tensors under their
// GGUF names, with GGUF dims (innermost first).
func inspectRawGGUF(f *gguf.File, showTensors, showMeta bool) {
	if showMeta {
		fmt.Printf("GGUF v%d metadata (%d keys, alignment %d):\n", f.Version, len(f.Keys), f.Alignment)
		w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		for _, k := range f.Keys {
			fmt.Fprintf(w, "  %s\t%s\n", k, summarizeValue(f.Metadata[k]))
		}
		w.Flush()
	}
	var params, size int64
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	if showTensors {
		fmt.Println()
		fmt.Fprintln(w, "name\ttype\tdims (GGUF order)\tbytes\t")
	}
	for _, t := range f.Tensors {
		params += int64(t.NumElements())
		size += int64(len(t.Data))
		if showTensors {
			fmt.Fprintf(w, "%s\t%s\t%v\t%d\t\n", t.Name, gguf.TypeName(t.Type), t.Dims, len(t.Data))
		}
	}
	w.Flush()
	fmt.Printf("\n%d tensors, %s parameters (%d), %s of weights\n", len(f.Tensors), modelFmtCount(params), params, bytesize.Format(size))
}

// summarizeValue prints a metadata value, eliding long arrays (a vocabulary
// has 150k entries).
func summarizeValue(v any) string {
	s := fmt.Sprintf("%v", v)
	switch x := v.(type) {
	case string:
		if len(x) > 80 {
			return fmt.Sprintf("%q… (%d bytes)", x[:60], len(x))
		}
		return fmt.Sprintf("%q", x)
	case []string:
		if len(x) > 6 {
			return fmt.Sprintf("[%s …] (%d strings)", strings.Join(quoteAll(x[:5]), " "), len(x))
		}
		return fmt.Sprintf("%q", x)
	case []int32, []uint32, []float32, []uint8, []int64, []any:
		if len(s) > 80 {
			return s[:60] + fmt.Sprintf("… (%s)", arrayLen(v))
		}
	}
	return s
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

func arrayLen(v any) string {
	switch x := v.(type) {
	case []int32:
		return fmt.Sprintf("%d int32", len(x))
	case []uint32:
		return fmt.Sprintf("%d uint32", len(x))
	case []float32:
		return fmt.Sprintf("%d float32", len(x))
	case []uint8:
		return fmt.Sprintf("%d uint8", len(x))
	case []int64:
		return fmt.Sprintf("%d int64", len(x))
	case []any:
		return fmt.Sprintf("%d values", len(x))
	}
	return ""
}
