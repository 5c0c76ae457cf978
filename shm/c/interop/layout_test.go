//go:build cgo

package interop_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/shm/c/interop"
	"github.com/shmchan/shmchan/sync/seqlock"
)

// TestLayoutMatchesC compares the offsets and constants of the C header with
// the Go constants of internal/layout, which shm's chanHeader and
// mbHeaderFields are asserted against at compile time, and of sync/seqlock
// for the mailbox's slots.
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

		"mb_magic":        layout.MbOffMagic,
		"mb_version":      layout.MbOffVersion,
		"mb_header_size":  layout.MbOffHeaderSize,
		"mb_flags":        layout.MbOffFlags,
		"mb_max_value":    layout.MbOffMaxValue,
		"mb_slot_size":    layout.MbOffSlotSize,
		"mb_slot_count":   layout.MbOffSlotCount,
		"mb_slots_offset": layout.MbOffSlotsOffset,
		"mb_creator":      layout.MbOffCreator,
		"mb_latest":       layout.MbOffLatest,
		"mb_closed":       layout.MbOffClosed,
		"mb_owner":        layout.MbOffOwner,
		"mb_wake_seq":     layout.MbOffWakeSeq,
		"mb_waiters":      layout.MbOffWaiters,
		"mb_slots":        layout.MbHeader,
		"mb_slot_seq":     seqlock.OffSeq,
		"mb_slot_len":     seqlock.OffLen,
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

		"mb_magic":       layout.MbMagic,
		"mb_version":     layout.MbVersion,
		"mb_header_size": layout.MbHeader,
		"mb_slots":       layout.MbSlots,
		"mb_min_slots":   layout.MbMinSlots,
		"mb_max_slots":   seqlock.MaxSlots,
		"mb_slot_header": seqlock.SlotHeader,
		"mb_max_version": seqlock.MaxVersion,
	}
	if diff := cmp.Diff(goConstants, interop.CConstants); diff != "" {
		t.Errorf("constants differ between internal/layout and shmchan.h (-go +c):\n%s", diff)
	}
}
