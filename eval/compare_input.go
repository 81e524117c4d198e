package eval

// CompareItems are the questions 'ragtune compare' answers: the items of
// dataPath, or the built-in hallucination set when dataPath is empty, cut
// to the first limit (0: all).
func CompareItems(dataPath string, limit int) ([]Item, error) {
	var items []Item
	var err error
	if dataPath != "" {
		items, err = LoadItems(dataPath)
	} else {
		items, err = DefaultItems(SuiteHallucination)
	}
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(items) > limit {
		items = items[:limit]
	}
	return items, nil
}

// DefaultRetriever searches the built-in passages, in memory: the
// retrieval of the built-in questions when no knowledge base is given.
func DefaultRetriever() (Retriever, error) {
	ps, err := DefaultPassages()
	if err != nil {
		return nil, err
	}
	r, err := NewMemoryRetriever(ps)
	if err != nil {
		return nil, err
	}
	return r, nil
}
