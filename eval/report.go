package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"ragtune/guard"
	"ragtune/internal/buildinfo"
	"ragtune/model"
	"ragtune/train"
)

// ReportSchema names the layout of report.json. Fields are only ever added
// under this name; a rename or a change of meaning takes a new version.
const ReportSchema = "ragtune.eval.report/v1"

// Report is what `ragtune eval` and `ragtune compare` write as report.json
// and render as report.html. Every rate is a percent (0–100), every
// overlap score (EM, F1, BLEU, ROUGE) is on the 0–100 scale of the
// reference tools, perplexities are exp(mean NLL in nats), and a suite
// that did not run is absent (see Skipped for why).
type Report struct {
	Schema  string    `json:"schema"`
	Created time.Time `json:"created"`
	Tool    string    `json:"tool"` // "ragtune eval" or "ragtune compare"
	Version string    `json:"version,omitempty"`

	Model    *ModelInfo `json:"model,omitempty"`
	Base     *ModelInfo `json:"base,omitempty"`
	Settings Settings   `json:"settings"`

	Overfit       *OverfitResult       `json:"overfit,omitempty"`
	Forgetting    *ForgettingResult    `json:"forgetting,omitempty"`
	Robustness    *RobustnessResult    `json:"robustness,omitempty"`
	Hallucination *HallucinationResult `json:"hallucination,omitempty"`
	Safety        *SafetyResult        `json:"safety,omitempty"`
	Compare       *CompareResult       `json:"compare,omitempty"`

	// TrainLog is the loss curve of the training run (train_log.jsonl),
	// when one was given.
	TrainLog []train.LogEntry `json:"train_log,omitempty"`
	// Skipped maps a requested suite that did not run to the reason.
	Skipped map[string]string `json:"skipped,omitempty"`
	// Notes are warnings about the run that affect how to read it.
	Notes []string `json:"notes,omitempty"`
	// Seconds maps each suite to its wall time.
	Seconds map[string]float64 `json:"seconds,omitempty"`
}

// ModelInfo identifies a model in a report.
type ModelInfo struct {
	Label     string `json:"label"`
	Path      string `json:"path"`
	Adapter   string `json:"adapter,omitempty"`
	FileBytes int64  `json:"file_bytes"`
}

// Settings records what a run was asked to do, so a report can be
// reproduced.
type Settings struct {
	Suites          []string          `json:"suites,omitempty"`
	Data            map[string]string `json:"data,omitempty"` // suite → file ("" = built-in)
	KB              string            `json:"kb,omitempty"`
	TopK            int               `json:"top_k,omitempty"`
	Limit           int               `json:"limit,omitempty"`
	MaxTokens       int               `json:"max_tokens"`
	Temperature     float64           `json:"temperature"`
	Seed            int64             `json:"seed"`
	DisableThinking bool              `json:"disable_thinking,omitempty"`
	Thresholds      Thresholds        `json:"thresholds"`
}

func (m *Model) info() *ModelInfo {
	if m == nil {
		return nil
	}
	return &ModelInfo{Label: m.name(), Path: m.Path, Adapter: m.Adapter, FileBytes: m.FileBytes}
}

// SuiteConfig is one `ragtune eval` run.
type SuiteConfig struct {
	Model *Model
	Base  *Model // forgetting only
	// Suites to run (AllSuites when empty).
	Suites []string
	// Data maps a suite to a JSONL file of Items (safety: guard probes);
	// a suite without an entry uses its built-in set.
	Data map[string]string
	// Retriever serves the hallucination suite's RAG half; nil uses the
	// built-in passages when the hallucination data is the built-in set,
	// and skips the RAG half otherwise.
	Retriever Retriever
	KBName    string
	TopK      int
	Limit     int // items per suite; 0: all
	Gen       GenOptions
	Threshold Thresholds
	Policy    *guard.Policy
	TrainLog  string    // train_log.jsonl to plot, optional
	Progress  io.Writer // nil: silent
}

// RunSuites runs the configured suites on cfg.Model. A suite that cannot
// run in this configuration (forgetting without a base) is recorded in
// Report.Skipped; any other failure is returned.
func RunSuites(ctx context.Context, cfg SuiteConfig) (*Report, error) {
	if cfg.Model == nil {
		return nil, fmt.Errorf("eval: no model")
	}
	suites := cfg.Suites
	if len(suites) == 0 {
		suites = AllSuites
	}
	th := cfg.Threshold.withDefaults()
	rep := newReport("ragtune eval")
	rep.Model = cfg.Model.info()
	rep.Base = cfg.Base.info()
	rep.Settings = Settings{
		Suites: suites, Data: map[string]string{}, KB: cfg.KBName, TopK: cfg.TopK, Limit: cfg.Limit,
		MaxTokens: cfg.Gen.MaxTokens, Temperature: cfg.Gen.Temperature, Seed: cfg.Gen.Seed,
		DisableThinking: cfg.Gen.DisableThinking, Thresholds: th,
	}
	if rep.Settings.MaxTokens <= 0 {
		rep.Settings.MaxTokens = 128
	}
	if cfg.TrainLog != "" {
		log, err := train.ReadLog(cfg.TrainLog)
		if err != nil {
			return nil, fmt.Errorf("read training log: %w", err)
		}
		rep.TrainLog = log
	}
	cfg.Gen.stats = &genStats{}
	for _, s := range suites {
		rep.Settings.Data[s] = cfg.Data[s]
		t0 := time.Now()
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "suite %s\n", s)
		}
		if err := runSuite(ctx, cfg, s, th, rep); err != nil {
			return nil, fmt.Errorf("suite %s: %w", s, err)
		}
		rep.Seconds[s] = time.Since(t0).Seconds()
	}
	if n := cfg.Gen.stats.note(); n != "" {
		rep.Notes = append(rep.Notes, n)
	}
	return rep, nil
}

func runSuite(ctx context.Context, cfg SuiteConfig, s string, th Thresholds, rep *Report) error {
	if s == SuiteSafety {
		probes := guard.DefaultProbes()
		if path := cfg.Data[s]; path != "" {
			var err error
			if probes, err = guard.LoadProbes(path); err != nil {
				return err
			}
		}
		probes = spreadProbes(probes, cfg.Limit)
		r, err := RunSafety(ctx, cfg.Model, probes, cfg.Policy, cfg.Gen, newProgress(cfg.Progress, s, len(probes)))
		rep.Safety = r
		return err
	}
	if s == SuiteForgetting && cfg.Base == nil {
		rep.Skipped[s] = "needs the model before fine-tuning: pass --base"
		return nil
	}
	var items []Item
	var err error
	if path := cfg.Data[s]; path != "" {
		items, err = LoadItems(path)
	} else {
		items, err = DefaultItems(s)
	}
	if err != nil {
		return err
	}
	if s != SuiteOverfit {
		items = limitItems(items, cfg.Limit)
	} else {
		items = limitSplits(items, cfg.Limit)
	}
	for _, it := range items {
		if len(it.Answers) == 0 {
			return fmt.Errorf("item %s has no reference answer (field \"answers\")", it.ID)
		}
	}
	switch s {
	case SuiteOverfit:
		rep.Overfit, err = RunOverfit(ctx, cfg.Model, items, cfg.Gen, newProgress(cfg.Progress, s, len(items)))
	case SuiteForgetting:
		rep.Forgetting, err = RunForgetting(ctx, cfg.Base, cfg.Model, items, cfg.Gen, th, newProgress(cfg.Progress, s, 2*len(items)))
	case SuiteRobustness:
		n := len(items)
		for i, it := range items {
			n += len(Perturb(it.Question, it.Lang, i))
		}
		rep.Robustness, err = RunRobustness(ctx, cfg.Model, items, cfg.Gen, th, newProgress(cfg.Progress, s, n))
	case SuiteHallucination:
		r := cfg.Retriever
		if r == nil && cfg.Data[s] == "" {
			ps, err := DefaultPassages()
			if err != nil {
				return err
			}
			if r, err = NewMemoryRetriever(ps); err != nil {
				return err
			}
		}
		if r == nil {
			rep.Skipped[s+".rag"] = "no knowledge base for the given data: pass --kb to measure grounding"
		}
		rep.Hallucination, err = RunHallucination(ctx, cfg.Model, items, r, cfg.TopK, cfg.Gen, th, newProgress(cfg.Progress, s, len(items)))
	}
	return err
}

// limitSplits keeps up to n/2 items of each overfit split (at least one).
func limitSplits(items []Item, n int) []Item {
	if n <= 0 {
		return items
	}
	per := max(1, n/2)
	var out []Item
	count := map[bool]int{}
	for _, it := range items {
		k := it.Split == "train"
		if count[k] < per {
			count[k]++
			out = append(out, it)
		}
	}
	return out
}

// spreadProbes keeps n probes spread evenly over the set, so a limit still
// covers every category and the benign controls.
func spreadProbes(ps []guard.Probe, n int) []guard.Probe {
	if n <= 0 || n >= len(ps) {
		return ps
	}
	out := make([]guard.Probe, 0, n)
	for i := range n {
		out = append(out, ps[i*len(ps)/n])
	}
	return out
}

func newReport(tool string) *Report {
	r := &Report{
		Schema: ReportSchema, Created: time.Now().UTC().Truncate(time.Second), Tool: tool,
		Skipped: map[string]string{}, Seconds: map[string]float64{},
	}
	r.Version = buildinfo.Short()
	return r
}

// WriteReport writes report.json and report.html into dir (created if
// needed), each atomically.
func WriteReport(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report directory: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := model.WriteFileAtomic(filepath.Join(dir, "report.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("write report.json: %w", err)
	}
	html, err := RenderHTML(r)
	if err != nil {
		return err
	}
	if err := model.WriteFileAtomic(filepath.Join(dir, "report.html"), html); err != nil {
		return fmt.Errorf("write report.html: %w", err)
	}
	// Reports are meant to be shared; the atomic writer creates 0600.
	for _, f := range []string{"report.json", "report.html"} {
		if err := os.Chmod(filepath.Join(dir, f), 0o644); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}
