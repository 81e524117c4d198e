package main

// argmax is greedy decoding's choice, for the tests that compare our
// greedy tokens with llama.cpp's.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
