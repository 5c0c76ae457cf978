//go:build cgo

package interop

/*
#cgo CFLAGS: -I${SRCDIR}/..
#include "shmchan.h"
*/
import "C"

// COffsets holds the byte offset of every field of layout v2 (channel and
// mailbox; mailbox fields are prefixed mb_) as the C header
// shm/c/shmchan.h spells it (SHMCHAN_OFF_*), keyed by the field's name in
// docs/layout.md. shmchan.c asserts its own struct against the same macros
// with _Static_assert; a test compares them with internal/layout.
var COffsets = map[string]uintptr{
	"magic":       C.SHMCHAN_OFF_MAGIC,
	"version":     C.SHMCHAN_OFF_VERSION,
	"header_size": C.SHMCHAN_OFF_HEADER_SIZE,
	"flags":       C.SHMCHAN_OFF_FLAGS,
	"capacity":    C.SHMCHAN_OFF_CAPACITY,
	"data_offset": C.SHMCHAN_OFF_DATA_OFFSET,
	"max_message": C.SHMCHAN_OFF_MAX_MESSAGE,
	"creator":     C.SHMCHAN_OFF_CREATOR,
	"sender_line": C.SHMCHAN_OFF_SENDER_LINE,
	"tx_owner":    C.SHMCHAN_OFF_TX_OWNER,
	"head":        C.SHMCHAN_OFF_HEAD,
	"rx_owner":    C.SHMCHAN_OFF_RX_OWNER,
	"data_seq":    C.SHMCHAN_OFF_DATA_SEQ,
	"rx_parked":   C.SHMCHAN_OFF_RX_PARKED,
	"rx_closed":   C.SHMCHAN_OFF_RX_CLOSED,
	"space_seq":   C.SHMCHAN_OFF_SPACE_SEQ,
	"tx_parked":   C.SHMCHAN_OFF_TX_PARKED,
	"tx_closed":   C.SHMCHAN_OFF_TX_CLOSED,
	"tx_stats":    C.SHMCHAN_OFF_TX_STATS,
	"rx_stats":    C.SHMCHAN_OFF_RX_STATS,
	"data":        C.SHMCHAN_OFF_DATA,

	// Mailbox.
	"mb_magic":        C.SHMCHAN_MB_OFF_MAGIC,
	"mb_version":      C.SHMCHAN_MB_OFF_VERSION,
	"mb_header_size":  C.SHMCHAN_MB_OFF_HEADER_SIZE,
	"mb_flags":        C.SHMCHAN_MB_OFF_FLAGS,
	"mb_max_value":    C.SHMCHAN_MB_OFF_MAX_VALUE,
	"mb_slot_size":    C.SHMCHAN_MB_OFF_SLOT_SIZE,
	"mb_slot_count":   C.SHMCHAN_MB_OFF_SLOT_COUNT,
	"mb_slots_offset": C.SHMCHAN_MB_OFF_SLOTS_OFFSET,
	"mb_creator":      C.SHMCHAN_MB_OFF_CREATOR,
	"mb_latest":       C.SHMCHAN_MB_OFF_LATEST,
	"mb_closed":       C.SHMCHAN_MB_OFF_CLOSED,
	"mb_owner":        C.SHMCHAN_MB_OFF_OWNER,
	"mb_wake_seq":     C.SHMCHAN_MB_OFF_WAKE_SEQ,
	"mb_waiters":      C.SHMCHAN_MB_OFF_WAITERS,
	"mb_writer_stats": C.SHMCHAN_MB_OFF_WRITER_STATS,
	"mb_slots":        C.SHMCHAN_MB_OFF_SLOTS,
	"mb_slot_seq":     C.SHMCHAN_MB_SLOT_OFF_SEQ,
	"mb_slot_len":     C.SHMCHAN_MB_SLOT_OFF_LEN,
}

// CConstants holds the other numbers of layout v2 as shmchan.h spells them.
var CConstants = map[string]uint64{
	"magic":              C.SHMCHAN_MAGIC,
	"version":            C.SHMCHAN_LAYOUT_VERSION,
	"header_size":        C.SHMCHAN_HEADER_SIZE,
	"line":               C.SHMCHAN_LINE,
	"min_capacity":       C.SHMCHAN_MIN_CAPACITY,
	"max_capacity":       C.SHMCHAN_MAX_CAPACITY,
	"flags_incompatible": C.SHMCHAN_FLAGS_INCOMPATIBLE_MASK,
	"record_header":      C.SHMCHAN_RECORD_HEADER,
	"kind_message":       C.SHMCHAN_KIND_MESSAGE,
	"kind_padding":       C.SHMCHAN_KIND_PADDING,

	// Mailbox.
	"mb_magic":       C.SHMCHAN_MAILBOX_MAGIC,
	"mb_version":     C.SHMCHAN_MAILBOX_VERSION,
	"mb_header_size": C.SHMCHAN_MAILBOX_HEADER_SIZE,
	"mb_slots":       C.SHMCHAN_MAILBOX_SLOTS,
	"mb_min_slots":   C.SHMCHAN_MAILBOX_MIN_SLOTS,
	"mb_max_slots":   C.SHMCHAN_MAILBOX_MAX_SLOTS,
	"mb_slot_header": C.SHMCHAN_MAILBOX_SLOT_HEADER,
	"mb_max_version": C.SHMCHAN_MAILBOX_MAX_VERSION,

	// Role locks.
	"lock_len":       C.SHMCHAN_LOCK_LEN,
	"lock_tx":        C.SHMCHAN_LOCK_TX,
	"lock_rx":        C.SHMCHAN_LOCK_RX,
	"lock_mb_writer": C.SHMCHAN_LOCK_MB_WRITER,
	"mb_max_waiters": C.SHMCHAN_MAILBOX_MAX_WAITERS,

	// Counters.
	"flag_stats":    C.SHMCHAN_FLAG_STATS,
	"mb_flag_stats": C.SHMCHAN_FLAG_STATS,
	"stats_size":    C.SHMCHAN_STATS_SIZE,
}
