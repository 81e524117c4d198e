package index

import "sort"

// RRFK is the usual reciprocal-rank-fusion constant (Cormack et al. 2009):
// large enough that the first few ranks of one list do not drown the rest.
const RRFK = 60

// RRF fuses ranked lists by reciprocal rank: score(d) = Σ w_i / (k + rank_i(d)),
// ranks from 1. It ignores the lists' scores, so it needs no calibration
// between BM25 and cosine similarity. weights nil means all 1; k ≤ 0
// means RRFK. The result is sorted best first (ties by ID).
func RRF(lists [][]Hit, weights []float64, k float64) []Hit {
	if k <= 0 {
		k = RRFK
	}
	return fuse(lists, weights, func(hits []Hit) []float64 {
		c := make([]float64, len(hits))
		for i := range hits {
			c[i] = 1 / (k + float64(i+1))
		}
		return c
	})
}

// RelativeScoreFusion normalizes each list's scores to [0, 1] by min-max
// over the list and sums them with the given weights (nil = all 1). Unlike
// RRF it keeps how much better the first hit is than the second.
func RelativeScoreFusion(lists [][]Hit, weights []float64) []Hit {
	return fuse(lists, weights, func(hits []Hit) []float64 {
		lo, hi := hits[0].Score, hits[0].Score
		for _, h := range hits {
			lo, hi = min(lo, h.Score), max(hi, h.Score)
		}
		c := make([]float64, len(hits))
		for i, h := range hits {
			c[i] = 1
			if hi > lo {
				c[i] = (h.Score - lo) / (hi - lo)
			}
		}
		return c
	})
}

func fuse(lists [][]Hit, weights []float64, contrib func(hits []Hit) []float64) []Hit {
	score := map[string]float64{}
	meta := map[string]map[string]string{}
	var order []string
	for li, hits := range lists {
		w := 1.0
		if weights != nil {
			w = weights[li]
		}
		if len(hits) == 0 {
			continue
		}
		c := contrib(hits)
		for i, h := range hits {
			if _, seen := score[h.ID]; !seen {
				order = append(order, h.ID)
				meta[h.ID] = h.Meta
			}
			score[h.ID] += w * c[i]
		}
	}
	out := make([]Hit, len(order))
	for i, id := range order {
		out[i] = Hit{ID: id, Score: score[id], Meta: meta[id]}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].ID < out[j].ID
	})
	return out
}
