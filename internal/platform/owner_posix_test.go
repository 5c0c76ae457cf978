//go:build linux || darwin

package platform

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckOwner: an object of another uid is refused with an error matching
// fs.ErrPermission that names the owner, unless that uid is allowed.
func TestCheckOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give a file to another uid")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "obj"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := CheckOwner(fd, nil); err != nil {
		t.Fatalf("own object: %v", err)
	}
	if err := f.Chown(65534, 65534); err != nil {
		t.Fatal(err)
	}
	err = CheckOwner(fd, nil)
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "uid 65534") {
		t.Fatalf("CheckOwner of uid 65534's object = %v; want fs.ErrPermission naming uid 65534", err)
	}
	if err := CheckOwner(fd, []int{65533, 65534}); err != nil {
		t.Fatalf("allowed owner: %v", err)
	}
}
