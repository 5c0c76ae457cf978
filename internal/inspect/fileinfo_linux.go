package inspect

import (
	"io/fs"
	"syscall"
	"time"
)

// fileOwner returns an object file's owner and its change time, which for a
// shared-memory object is its creation (the creator's chmod and truncate)
// unless someone changed its mode since.
func fileOwner(fi fs.FileInfo) (uid int, changed time.Time) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, fi.ModTime()
	}
	return int(st.Uid), time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)) // int32 fields on 386
}
