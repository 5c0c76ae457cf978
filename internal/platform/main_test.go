package platform

import (
	"testing"

	"github.com/shmchan/shmchan/internal/testproc"
)

func TestMain(m *testing.M) { testproc.Main(m) }
