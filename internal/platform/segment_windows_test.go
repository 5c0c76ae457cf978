package platform

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// TestMappingError checks the explanations of Win32 failures that Wine never
// produces (it grants SeCreateGlobalPrivilege to everyone and does not
// commit paging-file sections), and that each keeps its errors.Is meaning.
func TestMappingError(t *testing.T) {
	tests := []struct {
		code   windows.Errno
		global bool
		is     error
		says   string
	}{
		{windows.ERROR_ACCESS_DENIED, true, fs.ErrPermission, "SeCreateGlobalPrivilege"},
		{windows.ERROR_ACCESS_DENIED, false, fs.ErrPermission, "security descriptor"},
		{windows.ERROR_COMMITMENT_LIMIT, false, ErrNoSpace, ""},
		{windows.ERROR_NOT_ENOUGH_MEMORY, false, ErrNoSpace, ""},
		{windows.ERROR_INVALID_HANDLE, false, fs.ErrExist, "another kind of kernel object"},
		{windows.ERROR_ALREADY_EXISTS, false, fs.ErrExist, ""},
		{windows.ERROR_FILE_NOT_FOUND, false, fs.ErrNotExist, ""},
	}
	for _, tt := range tests {
		err := mappingError(`Global\x`, "CreateFileMapping", tt.code, tt.global)
		if !errors.Is(err, tt.is) || !errors.Is(err, tt.code) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("mappingError(%d, global=%v) = %v; want it to match %v and the code, and to say %q",
				tt.code, tt.global, err, tt.is, tt.says)
		}
	}
}
