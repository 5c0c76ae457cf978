package inspect

import (
	"encoding/binary"

	"github.com/shmchan/shmchan/internal/check"
	"github.com/shmchan/shmchan/internal/layout"
)

// decodeListener fills o from a listener segment (docs/layout.md,
// "Listener"), whose numbers come from layout.ListenerDoc. Its owner is
// claimed by compare-and-swap of a token (no role lock), so the token decides
// liveness.
func (o *Object) decodeListener(mem []byte) {
	o.Kind = KindListener
	o.judge(check.Listener(mem))
	d := layout.ListenerDoc
	if len(mem) < int(d["const.header"]) {
		return
	}
	le := binary.LittleEndian
	u32 := func(off uint64) uint32 { return le.Uint32(mem[off:]) }
	u64 := func(off uint64) uint64 { return le.Uint64(mem[off:]) }
	o.Version, o.Flags = u32(d["version"]), u32(d["flags"])
	o.Creator = ptr(roleOf("creator", u64(d["creator"]), 0, tokenOnly))
	o.Roles = []Role{roleOf("listener", u64(d["owner"]), u32(d["closed"]), tokenOnly)}
	if o.Err != nil {
		return
	}
	// Checked: the slot table lies inside mem.
	o.Slots = uint64(u32(d["slots"]))
	for i := range o.Slots {
		at := d["const.header"] + i*d["const.slot_size"]
		if u32(at+d["slot.state"]) != uint32(d["state.free"]) {
			o.SlotsBusy++
		}
	}
}
