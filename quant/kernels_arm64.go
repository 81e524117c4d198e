//go:build arm64 && !purego

package quant

import "golang.org/x/sys/cpu"

// tilesSDOT runs Packed matrices with NEON and SDOT (FEAT_DotProd); the
// activations are quantized by quantRowGo.
var tilesSDOT = &tileSet{name: "neon-sdot-tiles", kernels: &tileKernelsSDOT}

func init() {
	if cpu.ARM64.HasASIMD && cpu.ARM64.HasASIMDDP {
		tileSets = usableTileSets(append(tileSets, tilesSDOT))
	}
	if len(tileSets) > 0 {
		tiles = tileSets[0]
	}
}
