//go:build cgo

package interop

/*
#cgo CFLAGS: -I${SRCDIR}/..
#include "shmchan_net.h"
*/
import "C"

// CListenerOffsets holds the offsets and constants of the listener segment
// (docs/layout.md, "Listener") as shm/c/shmchan_net.h spells them, keyed by
// the field's name in docs/layout.md.
var CListenerOffsets = map[string]uint64{
	"magic":            C.SHMCHAN_LSN_OFF_MAGIC,
	"version":          C.SHMCHAN_LSN_OFF_VERSION,
	"header_size":      C.SHMCHAN_LSN_OFF_HDR_SIZE,
	"flags":            C.SHMCHAN_LSN_OFF_FLAGS,
	"slots":            C.SHMCHAN_LSN_OFF_SLOTS,
	"slot_size":        C.SHMCHAN_LSN_OFF_SLOT_SIZE,
	"creator":          C.SHMCHAN_LSN_OFF_CREATOR,
	"owner":            C.SHMCHAN_LSN_OFF_OWNER,
	"epoch":            C.SHMCHAN_LSN_OFF_EPOCH,
	"closed":           C.SHMCHAN_LSN_OFF_CLOSED,
	"bell":             C.SHMCHAN_LSN_OFF_BELL,
	"slot.client":      C.SHMCHAN_SLOT_OFF_CLIENT,
	"slot.conn":        C.SHMCHAN_SLOT_OFF_CONN,
	"slot.state":       C.SHMCHAN_SLOT_OFF_STATE,
	"slot.state_seq":   C.SHMCHAN_SLOT_OFF_STATE_SEQ,
	"slot.capacity":    C.SHMCHAN_SLOT_OFF_CAPACITY,
	"const.magic":      C.SHMCHAN_LSN_MAGIC,
	"const.version":    C.SHMCHAN_LSN_VERSION,
	"const.header":     C.SHMCHAN_LSN_HEADER,
	"const.slot_size":  C.SHMCHAN_LSN_SLOT_SIZE,
	"const.max_slots":  C.SHMCHAN_LSN_MAX_SLOTS,
	"state.free":       C.SHMCHAN_SLOT_FREE,
	"state.claimed":    C.SHMCHAN_SLOT_CLAIMED,
	"state.ready":      C.SHMCHAN_SLOT_READY,
	"state.accepted":   C.SHMCHAN_SLOT_ACCEPTED,
	"state.refused":    C.SHMCHAN_SLOT_REFUSED,
	"state.abandoned":  C.SHMCHAN_SLOT_ABANDONED,
	"default_capacity": C.SHMCHAN_DEFAULT_CONN_CAPACITY,
}
