package qwen2

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"ragtune/gguf"
	"ragtune/internal/bytesize"
	"ragtune/weights"
)

// inspectKeys are the config.json fields 'ragtune model inspect' shows,
// in the order a reader looks for them.
var inspectKeys = []string{"architectures", "model_type", "torch_dtype", "hidden_size", "intermediate_size",
	"num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
	"max_position_embeddings", "rms_norm_eps", "rope_theta", "tie_word_embeddings", "bos_token_id", "eos_token_id"}

// WriteConfigTable writes the model's path and its main config.json
// fields, one per line, and whether q/k/v carry a bias.
func WriteConfigTable(w io.Writer, path string, cfg *Config) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", path)
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		return err
	}
	for _, k := range inspectKeys {
		if v, ok := fields[k]; ok {
			fmt.Fprintf(tw, "%s\t%v\n", k, v)
		}
	}
	fmt.Fprintf(tw, "q/k/v bias\t%v\n", cfg.HasQKVBias())
	return tw.Flush()
}

// Inspect writes what 'ragtune model inspect' shows of the model at path:
// its config table, a GGUF source's metadata (when metadata), the tensor
// table (when tensors), the totals, and a warning when the tensors do not
// match the config.
func Inspect(w io.Writer, path string, src weights.Source, cfg *Config, tensors, metadata bool) error {
	if err := WriteConfigTable(w, path, cfg); err != nil {
		return err
	}
	if gs, ok := src.(*GGUFSource); ok && metadata {
		fmt.Fprintln(w)
		if err := gs.File.WriteMetadata(w); err != nil {
			return err
		}
	}
	var table io.Writer
	if tensors {
		fmt.Fprintln(w)
		table = w
	}
	params, size, err := TensorTotals(src, table)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d tensors, %s parameters (%d), %s of weights\n", len(src.Names()), weights.FormatCount(params), params, bytesize.Format(size))
	if err := ValidateTensors(src, cfg); err != nil {
		fmt.Fprintf(w, "warning: %v\n", err)
	}
	return nil
}

// TensorTotals reads every tensor of src and returns the number of
// parameters and the bytes of weights; when table is not nil it also
// writes a right-aligned row per tensor there (name, dtype, shape,
// bytes).
func TensorTotals(src weights.Source, table io.Writer) (params, size int64, err error) {
	var tw *tabwriter.Writer
	if table != nil {
		tw = tabwriter.NewWriter(table, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "name\tdtype\tshape\tbytes\t")
	}
	for _, n := range src.Names() {
		t, err := src.Tensor(n)
		if err != nil {
			return 0, 0, err
		}
		params += int64(t.NumElements())
		size += int64(len(t.Data))
		if tw != nil {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t\n", n, gguf.TypeName(t.DType), t.Shape, len(t.Data))
		}
	}
	if tw != nil {
		err = tw.Flush()
	}
	return params, size, err
}
