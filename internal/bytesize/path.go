package bytesize

import (
	"io/fs"
	"os"
	"path/filepath"
)

// OfPath is the size of a file, or the total of the regular files under a
// directory: what a model on disk weighs, in the size lines of quantize
// and the eval reports. Unreadable parts count 0 (and so does a path that
// cannot be read at all): the figure is a courtesy, never a reason to fail.
func OfPath(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	if !st.IsDir() {
		return st.Size() // a link to a model file counts what it names
	}
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // skip unreadable parts
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
