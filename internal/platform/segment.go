package platform

import (
	"math"
	"runtime"
)

// MaxSize is the largest object this package maps: 1 TiB on 64-bit
// platforms, and what fits an int on 32-bit ones.
const MaxSize = int64(min(1<<40, math.MaxInt))

// Mapping is a mapped object: its memory, and how to let go of it.
type Mapping struct {
	// Mem is the mapped memory. It is not safe to use after Unmap.
	Mem []byte
	// Unmap unmaps Mem and releases what the mapping holds (a file, a
	// handle). It must be called once.
	Unmap func() error
	// Remove removes the object's name (a named object) or file (MapFile
	// callers remove their own file). Nil when there is nothing to remove.
	Remove func() error
}

// Implementation names the code path this build uses to reach shared memory,
// such as "linux/cgo", "linux/purego", "darwin/purego-file" or
// "windows/purego". Tests log it so that the path under test is never
// mistaken.
func Implementation() string { return runtime.GOOS + "/" + implementation }
