package gguf

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"ragtune/internal/bytesize"
	"ragtune/weights"
)

// WriteMetadata writes a header (version, key count, alignment) and every
// metadata key in file order with its value summarized for people
// (SummarizeValue): what 'ragtune model inspect' shows of a GGUF file.
func (f *File) WriteMetadata(w io.Writer) error {
	fmt.Fprintf(w, "GGUF v%d metadata (%d keys, alignment %d):\n", f.Version, len(f.Keys), f.Alignment)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range f.Keys {
		fmt.Fprintf(tw, "  %s\t%s\n", k, SummarizeValue(f.Metadata[k]))
	}
	return tw.Flush()
}

// WriteTensorTable writes one right-aligned row per tensor under its GGUF
// name: type, dims in GGUF order (innermost first) and bytes.
func (f *File) WriteTensorTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "name\ttype\tdims (GGUF order)\tbytes\t")
	for _, t := range f.Tensors {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%d\t\n", t.Name, TypeName(t.Type), t.Dims, len(t.Data))
	}
	return tw.Flush()
}

// WriteInspect writes what 'ragtune model inspect' shows of a GGUF file
// it cannot run: the metadata (when metadata), the tensor table under GGUF
// names (when tensors) and the totals.
func (f *File) WriteInspect(w io.Writer, tensors, metadata bool) error {
	if metadata {
		if err := f.WriteMetadata(w); err != nil {
			return err
		}
	}
	if tensors {
		fmt.Fprintln(w)
		if err := f.WriteTensorTable(w); err != nil {
			return err
		}
	}
	params, size := f.Totals()
	_, err := fmt.Fprintf(w, "\n%d tensors, %s parameters (%d), %s of weights\n", len(f.Tensors), weights.FormatCount(params), params, bytesize.Format(size))
	return err
}

// Totals returns the number of parameters and the bytes of data of all
// tensors.
func (f *File) Totals() (params, size int64) {
	for _, t := range f.Tensors {
		params += int64(t.NumElements())
		size += int64(len(t.Data))
	}
	return params, size
}

// SummarizeValue formats a metadata value for people, eliding long
// strings and arrays (a vocabulary has 150k entries) to their first
// elements and their length.
func SummarizeValue(v any) string {
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
