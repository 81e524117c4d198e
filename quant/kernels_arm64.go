//go:build arm64 && !purego

package quant

import "golang.org/x/sys/cpu"

// tilesSDOT runs Packed matrices with NEON and SDOT (FEAT_DotProd),
// tilesNEON with plain NEON (SMULL/SADALP) on cores without it.
var (
	// i8mm (Apple M2 and later, Graviton3): SMMLA for prefill panels.
	tilesMMLA = &tileSet{name: "neon-i8mm-tiles", kernels: &tileKernelsMMLA, quantRow: quantRowNEON}
	tilesSDOT = &tileSet{name: "neon-sdot-tiles", kernels: &tileKernelsSDOT, quantRow: quantRowNEON}
	tilesNEON = &tileSet{name: "neon-tiles", kernels: &tileKernelsNEON, quantRow: quantRowNEON}
)

func init() {
	if cpu.ARM64.HasASIMDDP {
		if cpu.ARM64.HasI8MM {
			tileSets = append(tileSets, tilesMMLA)
		}
		tileSets = append(tileSets, tilesSDOT)
	}
	tileSets = usableTileSets(append(tileSets, tilesNEON))
	if len(tileSets) > 0 {
		tiles = tileSets[0]
	}
}
