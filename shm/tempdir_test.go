package shm_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// tempDir is t.TempDir, emptied file by file before TempDir's own cleanup
// runs: under Wine 8.0 that cleanup's os.RemoveAll fails on every file
// ("unlinkat: Invalid function": Wine lacks FileDispositionInformationEx and
// Go falls back only on other statuses), while os.Remove (DeleteFileW) works.
func tempDir(t *testing.T) string {
	d := t.TempDir()
	if runtime.GOOS == "windows" {
		t.Cleanup(func() {
			ents, _ := os.ReadDir(d)
			for _, e := range ents {
				os.Remove(filepath.Join(d, e.Name()))
			}
			os.Remove(d)
		})
	}
	return d
}
