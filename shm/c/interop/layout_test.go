//go:build cgo

package interop_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/shm/c/interop"
)

// TestLayoutMatchesC compares the offsets and constants of the C header with
// the Go constants of internal/layout, which shm's chanHeader is asserted
// against at compile time.
func TestLayoutMatchesC(t *testing.T) {
	goOffsets := map[string]uintptr{
		"magic":       layout.OffMagic,
		"version":     layout.OffVersion,
		"header_size": layout.OffHeaderSize,
		"flags":       layout.OffFlags,
		"capacity":    layout.OffCapacity,
		"data_offset": layout.OffDataOffset,
		"max_message": layout.OffMaxMessage,
		"creator":     layout.OffCreator,
		"sender_line": layout.OffSenderLine,
		"tx_owner":    layout.OffTxOwner,
		"head":        layout.OffHead,
		"rx_owner":    layout.OffRxOwner,
		"data_seq":    layout.OffDataSeq,
		"rx_parked":   layout.OffRxParked,
		"rx_closed":   layout.OffRxClosed,
		"space_seq":   layout.OffSpaceSeq,
		"tx_parked":   layout.OffTxParked,
		"tx_closed":   layout.OffTxClosed,
		"data":        layout.ChanHeader,
	}
	if diff := cmp.Diff(goOffsets, interop.COffsets); diff != "" {
		t.Errorf("offsets differ between internal/layout and shmchan.h (-go +c):\n%s", diff)
	}
	goConstants := map[string]uint64{
		"magic":              layout.ChanMagic,
		"version":            layout.ChanVersion,
		"header_size":        layout.ChanHeader,
		"line":               layout.Line,
		"min_capacity":       layout.MinCapacity,
		"max_capacity":       layout.MaxCapacity,
		"flags_incompatible": layout.FlagsIncompatibleMask,
		"record_header":      layout.RecordHeader,
		"kind_message":       layout.KindMessage,
		"kind_padding":       layout.KindPadding,
	}
	if diff := cmp.Diff(goConstants, interop.CConstants); diff != "" {
		t.Errorf("constants differ between internal/layout and shmchan.h (-go +c):\n%s", diff)
	}
}
