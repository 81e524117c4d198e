package model

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGenerationConfig: eos_token_id comes as a number or a list in the
// wild, and a missing file is no error.
func TestGenerationConfig(t *testing.T) {
	dir := t.TempDir()
	if g, err := LoadGenerationConfig(dir); g != nil || err != nil {
		t.Fatalf("missing file: %v, %v; want nil, nil", g, err)
	}
	for _, tc := range []struct {
		json string
		want []int
	}{
		{`{"eos_token_id": 151643, "do_sample": true, "temperature": 0.6}`, []int{151643}},
		{`{"eos_token_id": [128001, 128008, 128009]}`, []int{128001, 128008, 128009}},
		{`{}`, nil},
	} {
		if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(tc.json), 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := LoadGenerationConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.EOSTokenIDs(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: EOS ids %v, want %v", tc.json, got, tc.want)
		}
	}
	// What WriteJSON writes reads back.
	in := GenerationConfig{BOSTokenID: 1, EOSTokenID: 2, DoSample: true, TopP: 0.95}
	if err := WriteJSON(filepath.Join(dir, "generation_config.json"), in); err != nil {
		t.Fatal(err)
	}
	g, err := LoadGenerationConfig(dir)
	if err != nil || g.BOSTokenID != 1 || !slices.Equal(g.EOSTokenIDs(), []int{2}) || g.TopP != 0.95 {
		t.Errorf("round trip: %+v, %v", g, err)
	}
}
