package platform

import (
	"testing"

	"github.com/shmchan/shmchan/internal/testproc"
)

// TestMain dispatches to the child roles of the lock tests (Linux) and the
// token tests (Windows).
func TestMain(m *testing.M) { testproc.Main(m) }
