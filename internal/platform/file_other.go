//go:build !linux && !darwin && !windows

package platform

import (
	"errors"
	"os"
)

// ReserveFile returns errors.ErrUnsupported: there are no segments here.
func ReserveFile(f *os.File, size int64) error { return errors.ErrUnsupported }
