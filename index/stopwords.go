package index

import "strings"

// Stop words are function words that occur in nearly every chunk and in
// most questions, so they add noise to BM25 scores without telling chunks
// apart. The Chinese list covers particles, pronouns, common prepositions
// and conjunctions, and interrogatives (questions are full of 什么/哪/多少,
// while the chunks that answer them are not). Both lists are our own.
var stopwordList = []string{
	// Chinese
	"的 了 着 过 地 得 之 所 其 是 在 有 和 与 及 或 而 并 且 但 则 就 都 也 还 又 再 才 很 最 更 被 把 将 给 让 对 于 从 向 以 为 由 因 因为 所以 如果 虽然 但是 而且 并且 或者 以及 之一 之后 之前 这 那 这个 那个 这些 那些 这样 那样 此 该 各 每 某 我 你 他 她 它 我们 你们 他们 她们 它们 自己 什么 哪 哪个 哪些 哪里 哪儿 哪一 哪年 谁 多少 几 几个 为何 为什么 怎么 怎样 如何 怎么样 吗 呢 吧 啊 呀 么 嘛 哦 哪种 是否 是不是 有没有 请问 一个 一种 一些 个 位 等 等等 已 已经 曾 曾经 会 能 可以 可能 应该 要 没有 不 没 非常 分别 其中 通过 进行 成为 称为 作为 叫 叫做 属于 具有 当 时 时候",
	// English
	"a an the and or but if then else of to in on at by for with from as into onto about over under between through during before after above below up down out off again further than too very so such no nor not only own same just don't can will would should could may might must shall do does did doing done be been being am is are was were have has had having i me my mine we us our ours you your yours he him his she her hers it its they them their theirs this that these those there here what which who whom whose when where why how all any both each few more most other some s t",
}

var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, list := range stopwordList {
		for _, w := range strings.Fields(list) {
			m[w] = true
		}
	}
	return m
}()

// isStopword reports whether w (already lower-cased) is a stop word.
func isStopword(w string) bool { return stopwords[w] }
