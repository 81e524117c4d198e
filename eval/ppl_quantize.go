package eval

import (
	"fmt"
	"io"

	"ragtune/internal/bytesize"
)

// QuantizationReport measures what a quantization cost and writes it to
// w, as 'ragtune quantize --ppl-file' prints it: the perplexity of the
// source and of the quantized model on the same text file, through the
// same code as 'ragtune eval perplexity' (windows of window tokens, each
// starting window/2 after the last), with the sizes on disk. plain, when
// not empty, is the same type quantized without the importance matrix;
// a second line then compares the two quantizations. Each line is written
// once its figures are in, so a later failure keeps what was measured.
func QuantizationReport(w io.Writer, src, quantized, plain, file string, window int, inSize, outSize int64) error {
	ppl := func(m string) (*FilePerplexityResult, error) {
		o, err := PerplexityOfFile(m, "", file, window, max(1, window/2), io.Discard)
		if err != nil {
			return nil, fmt.Errorf("perplexity of %s: %w", m, err)
		}
		return o, nil
	}
	before, err := ppl(src)
	if err != nil {
		return err
	}
	after, err := ppl(quantized)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "perplexity on %s (%d tokens, window %d): source %.4f → quantized %.4f (%+.2f%%); size %s → %s\n",
		file, before.Scored, before.Window, before.PPL, after.PPL, 100*(after.PPL/before.PPL-1), bytesize.Format(inSize), bytesize.Format(outSize))
	if plain == "" {
		return nil
	}
	without, err := ppl(plain)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  with the importance matrix %.4f (%+.2f%%), without it %.4f (%+.2f%%)\n",
		after.PPL, 100*(after.PPL/before.PPL-1), without.PPL, 100*(without.PPL/before.PPL-1))
	return nil
}
