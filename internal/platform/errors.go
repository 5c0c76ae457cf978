package platform

import "errors"

// Errors returned by the package, besides the OS's own (which match
// fs.ErrExist, fs.ErrNotExist and fs.ErrPermission) and
// errors.ErrUnsupported. Package shm lifts them into its own sentinels
// (shm.ErrNoSpace, shm.ErrNotReady, shm.ErrInvalidSize).
var (
	// ErrNoSpace reports that the system could not reserve the memory (or
	// disk blocks) for a new object. It wraps the OS error.
	ErrNoSpace = errors.New("platform: no space for the object")

	// ErrUnsized reports an object whose size is still 0: its creator has
	// not sized it yet. Open returns it at once; the caller decides how long
	// to wait.
	ErrUnsized = errors.New("platform: object not sized yet")

	// ErrSize reports an object larger than MaxSize.
	ErrSize = errors.New("platform: object size out of range")
)
