package main

import (
	"fmt"
	"os"

	"ragtune/gguf"
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
			return f.WriteInspect(os.Stdout, *showTensors, *showMeta)
		}
		return err
	}
	defer src.Close()

	return qwen2.Inspect(os.Stdout, path, src, cfg, *showTensors, *showMeta)
}
