package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// fileDir is where a CGO_ENABLED=0 build on macOS keeps its segments, as
// regular files mapped MAP_SHARED (see name_darwin_nocgo.go): one directory per
// user, at a fixed path so that every process of that user finds it whatever
// its TMPDIR.
func fileDir() string { return "/tmp/shmchan-" + strconv.Itoa(os.Geteuid()) }

// crossBuildHint explains a failed shm_open in a cgo build on macOS when
// the name exists as a file-backed segment of a CGO_ENABLED=0 build: the two
// kinds of segment do not interoperate, and the plain ENOENT would hide why.
// The error still matches fs.ErrNotExist.
func crossBuildHint(name string, flag int, err error) error {
	if flag&unix.O_CREAT != 0 || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	path := fileDir() + "/" + name
	if _, serr := os.Lstat(path); serr != nil {
		return err
	}
	return fmt.Errorf("no POSIX shared-memory object /%s, but a file-backed segment %s exists: "+
		"it was created by a CGO_ENABLED=0 build, and on macOS only cgo builds use shm_open; "+
		"build every program that shares the segment the same way: %w", name, path, err)
}
