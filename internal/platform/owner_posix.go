//go:build linux || darwin

package platform

import (
	"fmt"
	"io/fs"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// CheckOwner is the owner check of docs/layout.md ("Owner check"): it returns
// nil if the object open as fd belongs to the caller's effective uid or to
// one of allow, and otherwise an error matching fs.ErrPermission that names
// the owner. It keeps a squatter (another user who pre-created a well-known
// name with mode 0666) from becoming the peer. Root is checked like anyone.
func CheckOwner(fd int, allow []int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("fstat: %w", err)
	}
	uid := int(st.Uid)
	if euid := os.Geteuid(); uid == euid || slices.Contains(allow, uid) {
		return nil
	}
	return &OwnerError{UID: uid, EUID: os.Geteuid()}
}

// OwnerError reports an object that belongs to another user. It matches
// fs.ErrPermission.
type OwnerError struct {
	UID  int // the object's owner
	EUID int // the caller's effective uid
}

func (e *OwnerError) Error() string {
	return fmt.Sprintf("object owned by uid %d, not by this process's uid %d (allow it with shm.AllowOwner(%d))", e.UID, e.EUID, e.UID)
}

// Is makes errors.Is(err, fs.ErrPermission) true.
func (e *OwnerError) Is(target error) bool { return target == fs.ErrPermission }
