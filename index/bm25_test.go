package index

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func ids(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

func TestAnalyzerTokens(t *testing.T) {
	tests := []struct {
		name string
		a    Analyzer
		text string
		want []string
	}{
		{"words and stopwords", Analyzer{Words: true, Stopwords: true}, "机器学习是什么？The Machine learns!", []string{"机器", "学习", "machine", "learns"}},
		{"bigrams only", Analyzer{Bigrams: true}, "北京大学 Go", []string{bigramPrefix + "北京", bigramPrefix + "京大", bigramPrefix + "大学", "go"}},
		{"lone han char without words", Analyzer{Bigrams: true}, "猫", []string{unigramPrefix + "猫"}},
		{"unigrams and bigrams", Analyzer{Unigrams: true, Bigrams: true}, "北京", []string{unigramPrefix + "北", unigramPrefix + "京", bigramPrefix + "北京"}},
		{"words plus bigrams", Analyzer{Words: true, Bigrams: true}, "北京", []string{"北京", bigramPrefix + "北京"}},
		{"unicode words lower-cased", Analyzer{Words: true}, "Привет, Émile 42x", []string{"привет", "émile", "42x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.a.Tokens(tt.text)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Tokens(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestCharNGrams(t *testing.T) {
	got, want := CharNGrams("Ab。c"), []string{"a", "b", "。", "c", "ab", "b。", "。c"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestBM25ScoreByHand(t *testing.T) {
	x := NewBM25(BM25Params{K1: 1.2, B: 0.75}, strings.Fields)
	x.AddBatch([]Doc{
		{ID: "a", Text: "cat cat dog"},
		{ID: "b", Text: "dog bird"},
		{ID: "c", Text: "fish"},
	})
	hits := x.Search("cat", 10, nil)
	// N=3, df(cat)=1, avgdl=2, |a|=3, tf=2.
	idf := math.Log(1 + (3-1+0.5)/(1+0.5))
	want := idf * 2 * 2.2 / (2 + 1.2*(1-0.75+0.75*3.0/2))
	if len(hits) != 1 || hits[0].ID != "a" || math.Abs(hits[0].Score-want) > 1e-12 {
		t.Fatalf("Search(cat) = %+v, want a with %v", hits, want)
	}
	if got, want := ids(x.Search("dog bird", 10, nil)), []string{"b", "a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Search(dog bird) = %v, want %v", got, want)
	}
}

func TestBM25AddDeleteReplaceFilter(t *testing.T) {
	x := NewBM25(DefaultBM25Params, strings.Fields)
	for i := range 200 {
		x.Add(Doc{ID: fmt.Sprint(i), Text: fmt.Sprintf("common w%d w%d", i, i%10), Meta: map[string]string{"src": fmt.Sprint(i % 2)}})
	}
	if got := ids(x.Search("w7", 3, nil)); !reflect.DeepEqual(got, []string{"7", "17", "27"}) {
		t.Errorf("w7 top3 = %v", got)
	}
	if got := ids(x.Search("w7", 3, MetaEquals(map[string]string{"src": "0"}))); len(got) != 0 {
		t.Errorf("filtered w7 = %v, want none (all odd)", got)
	}
	// Delete most documents, which also triggers compaction.
	for i := range 190 {
		if !x.Delete(fmt.Sprint(i)) {
			t.Fatalf("Delete(%d) = false", i)
		}
	}
	if x.Delete("5") {
		t.Errorf("second Delete(5) = true")
	}
	if got, want := x.Len(), 10; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if got := ids(x.Search("w7", 5, nil)); !reflect.DeepEqual(got, []string{"197"}) {
		t.Errorf("after delete w7 = %v", got)
	}
	x.Add(Doc{ID: "197", Text: "replaced"})
	if got := ids(x.Search("w7", 5, nil)); len(got) != 0 {
		t.Errorf("after replace w7 = %v", got)
	}
	if got := ids(x.Search("replaced", 5, nil)); !reflect.DeepEqual(got, []string{"197"}) {
		t.Errorf("replaced = %v", got)
	}
	var buf bytes.Buffer
	if err := x.Save(&buf); err != nil {
		t.Fatal(err)
	}
	y, err := LoadBM25(bytes.NewReader(buf.Bytes()), strings.Fields)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"common", "w3", "replaced", "w198"} {
		if got, want := y.Search(q, 20, nil), x.Search(q, 20, nil); !reflect.DeepEqual(ids(got), ids(want)) {
			t.Errorf("loaded Search(%q) = %v, want %v", q, ids(got), ids(want))
		}
	}
	buf.Bytes()[40] ^= 0xff
	if _, err := LoadBM25(bytes.NewReader(buf.Bytes()), strings.Fields); err == nil {
		t.Errorf("LoadBM25 of a corrupted file succeeded")
	}
}

func TestBM25ConcurrentReadWrite(t *testing.T) {
	x := NewBM25(DefaultBM25Params, strings.Fields)
	x.Add(Doc{ID: "anchor", Text: "needle"})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			x.Add(Doc{ID: fmt.Sprint(i), Text: fmt.Sprintf("hay%d straw", i)})
			if i%3 == 0 {
				x.Delete(fmt.Sprint(i - 1))
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 2000 {
			if got := ids(x.Search("needle", 1, nil)); len(got) != 1 || got[0] != "anchor" {
				t.Errorf("needle = %v", got)
				return
			}
		}
	}()
	wg.Wait()
}

func TestDefaultAnalyzerFindsChinese(t *testing.T) {
	x := NewBM25(DefaultBM25Params, nil)
	x.AddBatch([]Doc{
		{ID: "forget", Text: "灾难性遗忘是指神经网络在学习新任务时忘记旧任务的现象。"},
		{ID: "lora", Text: "LoRA 通过低秩矩阵微调大模型，只训练很少的参数。"},
		{ID: "rag", Text: "检索增强生成先从知识库中检索相关文档，再让模型回答。"},
	})
	for q, want := range map[string]string{"什么是灾难性遗忘？": "forget", "如何用低秩矩阵微调": "lora", "lora": "lora", "知识库检索": "rag"} {
		if got := ids(x.Search(q, 1, nil)); len(got) != 1 || got[0] != want {
			t.Errorf("Search(%q) = %v, want %s", q, got, want)
		}
	}
}

func TestEnglishAnalyzerStems(t *testing.T) {
	got := EnglishAnalyzer().Tokens("What are the Symptoms of kidney stones? Q8_0 treated 灾难")
	want := []string{"symptom", "kidney", "stone", "q8", "0", "treat"}
	if len(got) < len(want) {
		t.Fatalf("tokens %q", got)
	}
	for i, w := range want {
		if got[i] != w {
			t.Fatalf("tokens %q, want prefix %q", got, want)
		}
	}
	if d := DefaultAnalyzer().Tokens("symptoms"); len(d) != 1 || d[0] != "symptoms" {
		t.Errorf("DefaultAnalyzer stems: %q", d)
	}
}

func TestViewsWeightAndNamespaces(t *testing.T) {
	upper := func(s string) []string { return []string{strings.ToUpper(s)} }
	same := func(s string) []string { return []string{s} }
	got := Views(View{same, 1}, View{upper, 2})("ab")
	want := []string{"\x10ab", "\x11AB", "\x11AB"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Views tokens %q, want %q", got, want)
	}
	// The same string from two views is two terms.
	if g := Views(View{same, 1}, View{same, 1})("x"); g[0] == g[1] {
		t.Errorf("views share a namespace: %q", g)
	}
}
