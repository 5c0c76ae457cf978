package shm

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shmchan/shmchan/internal/layout"
)

// The Go listener numbers are docs/layout.md's (the C header is checked
// against the same table in shm/c/interop).
func TestListenerLayoutMatchesDoc(t *testing.T) {
	goNums := map[string]uint64{
		"magic": lsnOffMagic, "version": lsnOffVersion, "header_size": lsnOffHdrSize,
		"flags": lsnOffFlags, "slots": lsnOffSlots, "slot_size": lsnOffSlotSize,
		"creator": lsnOffCreator, "owner": lsnOffOwner, "epoch": lsnOffEpoch,
		"closed": lsnOffClosed, "bell": lsnOffBell,
		"slot.client": slotOffClient, "slot.conn": slotOffConn, "slot.state": slotOffState,
		"slot.state_seq": slotOffStateSeq, "slot.capacity": slotOffCapacity,
		"const.magic": lsnMagic, "const.version": lsnVersion, "const.header": lsnHeader,
		"const.slot_size": lsnSlotSize, "const.max_slots": maxSlots,
		"state.free": slotFree, "state.claimed": slotClaimed, "state.ready": slotReady,
		"state.accepted": slotAccepted, "state.refused": slotRefused, "state.abandoned": slotAbandoned,
		"default_capacity": DefaultConnCapacity,
	}
	if d := cmp.Diff(layout.ListenerDoc, goNums); d != "" {
		t.Errorf("shm/listener_layout.go differs from docs/layout.md (-doc +Go):\n%s", d)
	}
}
