package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Files are the inputs `ragtune demo` writes into its work directory so
// that every later step reads them the way a user's own files are read by
// the individual commands.
type Files struct {
	Corpus    string // folder of the knowledge-base documents (ingest)
	Pretrain  string // JSONL {"text": …}: corpus + general text (pre-training)
	QATrain   string // alpaca JSONL, the fine-tuning split
	QATest    string // alpaca JSONL with "source", held out: never trained on
	General   string // alpaca JSONL of general-knowledge questions (forgetting)
	Heldout   string // plain text of the held-out answers (quantization perplexity)
	Questions string // JSONL {"text": …}: every question; with Pretrain, the tokenizer's text
	NumTrain  int
	NumTest   int
	TestItems []QA
}

// SplitQA shuffles the QA pairs with seed and holds out testFrac of them
// (at least one). The same seed gives the same split on every machine.
func SplitQA(qa []QA, testFrac float64, seed uint64) (trainSet, test []QA) {
	idx := make([]int, len(qa))
	for i := range idx {
		idx[i] = i
	}
	r := rand.New(rand.NewPCG(seed, 0xde30))
	r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	nt := max(1, int(testFrac*float64(len(qa))+0.5))
	for k, i := range idx {
		if k < nt {
			test = append(test, qa[i])
		} else {
			trainSet = append(trainSet, qa[i])
		}
	}
	return trainSet, test
}

// WriteFiles writes the embedded data into dir as the files listed in Files.
func WriteFiles(dir string, testFrac float64, seed uint64) (*Files, error) {
	f := &Files{
		Corpus:    filepath.Join(dir, "corpus"),
		Pretrain:  filepath.Join(dir, "pretrain.jsonl"),
		QATrain:   filepath.Join(dir, "qa_train.jsonl"),
		QATest:    filepath.Join(dir, "qa_test.jsonl"),
		General:   filepath.Join(dir, "general.jsonl"),
		Heldout:   filepath.Join(dir, "heldout_answers.txt"),
		Questions: filepath.Join(dir, "questions.jsonl"),
	}
	if err := os.MkdirAll(f.Corpus, 0o755); err != nil {
		return nil, fmt.Errorf("demo data: %w", err)
	}
	var pre []any
	for _, d := range Corpus() {
		if err := os.WriteFile(filepath.Join(f.Corpus, d.Name), []byte(d.Text), 0o644); err != nil {
			return nil, fmt.Errorf("demo data: %w", err)
		}
		pre = append(pre, map[string]string{"text": d.Text})
	}
	for _, d := range GeneralText() {
		pre = append(pre, map[string]string{"text": d.Text})
	}
	if err := writeJSONL(f.Pretrain, pre); err != nil {
		return nil, err
	}
	trainSet, test := SplitQA(QAPairs(), testFrac, seed)
	f.NumTrain, f.NumTest, f.TestItems = len(trainSet), len(test), test
	if err := writeJSONL(f.QATrain, asAny(trainSet)); err != nil {
		return nil, err
	}
	if err := writeJSONL(f.QATest, asAny(test)); err != nil {
		return nil, err
	}
	if err := writeJSONL(f.General, asAny(GeneralQA())); err != nil {
		return nil, err
	}
	// The questions are the only text of the chat turns not already in the
	// documents (the answers paraphrase them), so the tokenizer learns them
	// too. Held-out questions are among them: a vocabulary only decides how
	// text is split, and no held-out answer is in it.
	var questions []any
	for _, q := range append(QAPairs(), GeneralQA()...) {
		questions = append(questions, map[string]string{"text": q.Instruction})
	}
	if err := writeJSONL(f.Questions, questions); err != nil {
		return nil, err
	}
	var held strings.Builder
	for _, q := range test {
		held.WriteString(q.Output + "\n")
	}
	if err := os.WriteFile(f.Heldout, []byte(held.String()), 0o644); err != nil {
		return nil, fmt.Errorf("demo data: %w", err)
	}
	return f, nil
}

func asAny(qa []QA) []any {
	out := make([]any, len(qa))
	for i, q := range qa {
		out[i] = q
	}
	return out
}

func writeJSONL(path string, rows []any) error {
	var b strings.Builder
	for _, r := range rows {
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("demo data %s: %w", path, err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("demo data: %w", err)
	}
	return nil
}
