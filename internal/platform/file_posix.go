//go:build linux || darwin

package platform

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ReserveFile reserves the blocks of the first size bytes of the regular
// file f, so that a full disk fails here with an error matching ErrNoSpace
// rather than as a SIGBUS when the mapping first touches a page. A file
// system that cannot reserve (EOPNOTSUPP) leaves the file as it is.
func ReserveFile(f *os.File, size int64) error {
	err := reserveFile(int(f.Fd()), size)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOSPC):
		return fmt.Errorf("reserve %d bytes: %w (%w)", size, ErrNoSpace, err)
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOSYS):
		return nil
	}
	return fmt.Errorf("reserve %d bytes: %w", size, err)
}
