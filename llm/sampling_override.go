package llm

// SamplingOverride holds the sampling parameters a caller set explicitly
// (a command line's flags); nil fields keep the values of the Sampling it
// is applied to, the model's generation_config.json defaults or a
// server's.
type SamplingOverride struct {
	Temperature, TopP, MinP           *float64
	RepetitionPenalty                 *float64
	FrequencyPenalty, PresencePenalty *float64
	TopK, Seed                        *int64
}

// Empty reports whether nothing was set, so a request to a remote server
// can leave every parameter to it.
func (o SamplingOverride) Empty() bool {
	return o.Temperature == nil && o.TopP == nil && o.MinP == nil && o.RepetitionPenalty == nil &&
		o.FrequencyPenalty == nil && o.PresencePenalty == nil && o.TopK == nil && o.Seed == nil
}

// Apply returns base with the set parameters replaced, validated
// together, since one that is valid alone may not be with the defaults.
func (o SamplingOverride) Apply(base Sampling) (Sampling, error) {
	s := base
	for _, f := range []struct {
		v   *float64
		dst *float64
	}{{o.Temperature, &s.Temperature}, {o.TopP, &s.TopP}, {o.MinP, &s.MinP}, {o.RepetitionPenalty, &s.RepetitionPenalty},
		{o.FrequencyPenalty, &s.FrequencyPenalty}, {o.PresencePenalty, &s.PresencePenalty}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if o.TopK != nil {
		s.TopK = int(*o.TopK)
	}
	if o.Seed != nil {
		s.Seed = *o.Seed
	}
	if err := s.Validate(); err != nil {
		return Sampling{}, err
	}
	return s, nil
}
