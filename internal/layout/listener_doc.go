package layout

// ListenerDoc holds the numbers of the listener segment as docs/layout.md
// ("Listener") states them, keyed by field name. It is the reference that
// the Go constants (shm/listener_layout.go, tested in shm) and the C macros
// (shm/c/shmchan_net.h, tested in shm/c/interop) are both checked against.
var ListenerDoc = map[string]uint64{
	"magic":            0x000,
	"version":          0x004,
	"header_size":      0x008,
	"flags":            0x00C,
	"slots":            0x010,
	"slot_size":        0x014,
	"creator":          0x018,
	"owner":            0x080,
	"epoch":            0x088,
	"closed":           0x090,
	"bell":             0x100,
	"slot.client":      0x00,
	"slot.conn":        0x08,
	"slot.state":       0x10,
	"slot.state_seq":   0x14,
	"slot.capacity":    0x18,
	"const.magic":      0x4C4D4853,
	"const.version":    1,
	"const.header":     0x200,
	"const.slot_size":  128,
	"const.max_slots":  4096,
	"state.free":       0,
	"state.claimed":    1,
	"state.ready":      2,
	"state.accepted":   3,
	"state.refused":    4,
	"state.abandoned":  5,
	"default_capacity": 64 << 10,
}
