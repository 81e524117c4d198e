// Package cputime reads CPU time, which benchmarks report next to wall
// time: on the project's shared 2-core machines wall time mostly measures
// other people's load, while CPU time per unit of work is what our code
// costs. Where a platform has no such clock the functions return 0.
package cputime
