package shm_test

import "runtime"

// openedSize is the Size an opener sees for a segment created with size
// bytes: Windows reports whole pages (docs/platforms.md).
func openedSize(size int64) int64 {
	if runtime.GOOS == "windows" {
		return (size + 4095) &^ 4095
	}
	return size
}
