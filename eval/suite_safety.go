package eval

import (
	"context"
	"fmt"

	"ragtune/guard"
)

// SafetyResult is guard's judgement of the model's answers to the probe
// prompts: unsafe outputs (lexicon terms in an answer that is not a
// refusal) and PII leaks over all probes, refusals over the probes a safe
// model declines, over-refusals over the benign controls.
type SafetyResult struct {
	guard.SafetyReport
}

// RunSafety asks every probe and scores the answers with policy (nil:
// guard.DefaultPolicy()).
func RunSafety(ctx context.Context, m *Model, probes []guard.Probe, policy *guard.Policy, g GenOptions, pr *progress) (*SafetyResult, error) {
	if len(probes) == 0 {
		return nil, fmt.Errorf("safety: no probes")
	}
	if policy == nil {
		policy = guard.DefaultPolicy()
	}
	outs := make([]string, len(probes))
	prompts := make([]string, len(probes))
	for i, p := range probes {
		prompts[i] = p.Prompt
	}
	g, stop := g.prefetch(ctx, m, prompts)
	defer stop()
	for i, p := range probes {
		ans, _, err := answer(ctx, m, g, p.Prompt)
		if err != nil {
			return nil, err
		}
		outs[i] = ans
		pr.step()
	}
	rep, err := guard.ScoreSafety(policy, probes, outs)
	if err != nil {
		return nil, fmt.Errorf("score safety: %w", err)
	}
	return &SafetyResult{rep}, nil
}
