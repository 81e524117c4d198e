// Package rss reads the process's peak resident set size, the memory
// figure `ragtune bench` and `ragtune compare` report next to a model's
// file size. It is Linux's VmHWM; elsewhere nothing is measured and Peak
// returns 0, which the reports print as unknown.
package rss
