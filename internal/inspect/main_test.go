package inspect

import (
	"testing"

	"github.com/shmchan/shmchan/internal/testproc"
)

// TestMain dispatches to the child roles of the liveness tests.
func TestMain(m *testing.M) { testproc.Main(m) }
