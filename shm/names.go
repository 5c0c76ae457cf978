package shm

import "fmt"

// MaxNameLen is the longest segment name, in bytes. macOS limits a POSIX
// shared-memory name to 31 bytes (PSHMNAMLEN) including the leading slash,
// so the portable limit is 30.
const MaxNameLen = 30

// ValidateName reports whether name follows the portable naming rule, which
// holds on Linux, macOS and Windows alike:
//
//   - 1 to MaxNameLen (30) bytes;
//   - only ASCII letters, digits, '_', '-' and '.';
//   - the first byte is a letter, a digit or '_' (so no ".", ".." or hidden
//     names, and nothing that looks like an option).
//
// On Linux and macOS a name maps to the POSIX object "/"+name with no hidden
// prefix (on Linux, the file /dev/shm/name), so any program using shm_open can
// open what this package creates and the other way round. On Windows it maps
// to the kernel object "Local\"+name (or "Global\"+name).
//
// A bad name gets an error matching ErrInvalidName that says why.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidName, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		case (c == '-' || c == '.') && i > 0:
		case c == '-' || c == '.':
			return fmt.Errorf("%w: %q must start with a letter, a digit or '_'", ErrInvalidName, name)
		default:
			return fmt.Errorf("%w: %q has byte %q at %d; allowed are letters, digits, '_', '-' and '.'", ErrInvalidName, name, c, i)
		}
	}
	return nil
}
