package train

import (
	"ragtune/llm"
)

// LoadLocal loads the model at path (an HF directory or a GGUF file) as
// an llm.Local engine, with the PEFT LoRA adapter in adapterDir merged
// into its weights in memory first when adapterDir is not empty: how run,
// chat and serve generate with a fine-tuned model without writing a
// merged copy (MergeLoRA writes one).
func LoadLocal(path, adapterDir string, opts llm.LoadOptions) (*llm.Local, error) {
	src, cfg, err := OpenWithAdapter(path, adapterDir)
	if err != nil {
		return nil, err
	}
	return llm.LoadLocalFrom(path, src, cfg, opts)
}
