//go:build cgo

package interop_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shmchan/shmchan/internal/layout"
	"github.com/shmchan/shmchan/shm/c/interop"
)

// TestLayoutMatchesC compares the offsets and constants of the C header with
// the Go constants of internal/layout, which shm's layout.ChanHeader and
// layout.MboxHeader are asserted against at compile time, and of sync/seqlock
// for the mailbox's slots.
func TestLayoutMatchesC(t *testing.T) {
	goOffsets := map[string]uintptr{
		"magic":       layout.ChanOffMagic,
		"version":     layout.ChanOffVersion,
		"header_size": layout.ChanOffHeaderSize,
		"flags":       layout.ChanOffFlags,
		"capacity":    layout.ChanOffCapacity,
		"data_offset": layout.ChanOffDataOffset,
		"max_message": layout.ChanOffMaxMessage,
		"creator":     layout.ChanOffCreator,
		"sender_line": layout.ChanOffSenderLine,
		"tx_owner":    layout.ChanOffTxOwner,
		"head":        layout.ChanOffHead,
		"rx_owner":    layout.ChanOffRxOwner,
		"data_seq":    layout.ChanOffDataSeq,
		"rx_parked":   layout.ChanOffRxParked,
		"rx_closed":   layout.ChanOffRxClosed,
		"space_seq":   layout.ChanOffSpaceSeq,
		"tx_parked":   layout.ChanOffTxParked,
		"tx_closed":   layout.ChanOffTxClosed,
		"tx_stats":    layout.ChanOffTxStats,
		"rx_stats":    layout.ChanOffRxStats,
		"data":        layout.ChanHeaderSize,

		"mb_magic":        layout.MboxOffMagic,
		"mb_version":      layout.MboxOffVersion,
		"mb_header_size":  layout.MboxOffHeaderSize,
		"mb_flags":        layout.MboxOffFlags,
		"mb_max_value":    layout.MboxOffMaxValue,
		"mb_slot_size":    layout.MboxOffSlotSize,
		"mb_slot_count":   layout.MboxOffSlotCount,
		"mb_slots_offset": layout.MboxOffSlotsOffset,
		"mb_creator":      layout.MboxOffCreator,
		"mb_latest":       layout.MboxOffLatest,
		"mb_closed":       layout.MboxOffClosed,
		"mb_owner":        layout.MboxOffOwner,
		"mb_wake_seq":     layout.MboxOffWakeSeq,
		"mb_waiters":      layout.MboxOffWaiters,
		"mb_writer_stats": layout.MboxOffWriterStats,
		"mb_slots":        layout.MboxHeaderSize,
		"mb_slot_seq":     layout.MboxSlotOffSeq,
		"mb_slot_len":     layout.MboxSlotOffLen,
	}
	if diff := cmp.Diff(goOffsets, interop.COffsets); diff != "" {
		t.Errorf("offsets differ between internal/layout and shmchan.h (-go +c):\n%s", diff)
	}
	goConstants := map[string]uint64{
		"magic":              layout.ChanMagic,
		"version":            layout.ChanVersion,
		"header_size":        layout.ChanHeaderSize,
		"line":               layout.Line,
		"min_capacity":       layout.ChanMinCapacity,
		"max_capacity":       layout.ChanMaxCapacity,
		"flags_incompatible": layout.ChanFlagsIncompatibleMask,
		"record_header":      layout.ChanRecordHeader,
		"kind_message":       layout.ChanKindMessage,
		"kind_padding":       layout.ChanKindPadding,

		"mb_magic":       layout.MboxMagic,
		"mb_version":     layout.MboxVersion,
		"mb_header_size": layout.MboxHeaderSize,
		"mb_slots":       layout.MboxSlots,
		"mb_min_slots":   layout.MboxMinSlots,
		"mb_max_slots":   layout.MboxMaxSlots,
		"mb_slot_header": layout.MboxSlotHeaderSize,
		"mb_max_version": layout.MboxMaxVersion,

		"lock_len":       layout.LockLen,
		"lock_tx":        layout.LockTx,
		"lock_rx":        layout.LockRx,
		"lock_mb_writer": layout.LockMbWriter,
		"mb_max_waiters": layout.MboxMaxWaiters,

		"flag_stats":    layout.ChanFlagStats,
		"mb_flag_stats": layout.MboxFlagStats,
		"stats_size":    layout.StatsSize,
	}
	if diff := cmp.Diff(goConstants, interop.CConstants); diff != "" {
		t.Errorf("constants differ between internal/layout and shmchan.h (-go +c):\n%s", diff)
	}
}
