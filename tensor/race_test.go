//go:build race

package tensor

// sync.Pool drops entries at random under the race detector, so allocation
// counts mean nothing there.
const raceEnabled = true
