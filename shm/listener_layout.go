package shm

import "unsafe"

// Listener segment layout (docs/layout.md, "Listener (magic SHML)"). The
// numbers are part of the protocol that Go and C (shm/c/shmchan_net.h)
// share: every offset is a fixed number, never dependent on GOARCH.
const (
	lsnMagic    = 0x4C4D4853 // the bytes "SHML", little-endian
	lsnVersion  = 1
	lsnHeader   = 0x200 // header: four 128-byte lines; the slots follow
	lsnSlotSize = 128   // one line per slot

	lsnOffMagic    = 0x000
	lsnOffVersion  = lsnOffMagic + 4    // u32, stored last by the creator
	lsnOffHdrSize  = lsnOffVersion + 4  // u32, lsnHeader
	lsnOffFlags    = lsnOffHdrSize + 4  // u32, 0
	lsnOffSlots    = lsnOffFlags + 4    // u32, number of slots
	lsnOffSlotSize = lsnOffSlots + 4    // u32, lsnSlotSize
	lsnOffCreator  = lsnOffSlotSize + 4 // u64, creator's process token

	lsnOffOwner  = 0x080           // u64, the serving listener's token (CAS)
	lsnOffEpoch  = lsnOffOwner + 8 // u64, bumped by every listener that claims the segment
	lsnOffClosed = lsnOffEpoch + 8 // u32, 1 once the owner closed
	lsnOffBell   = 0x100           // u32 futex word: clients bump it and wake the listener

	slotOffClient   = 0x00                // u64, the dialling client's token (CAS from 0)
	slotOffConn     = slotOffClient + 8   // u64, connection id: names the channel pair
	slotOffState    = slotOffConn + 8     // u32, slotFree .. slotAbandoned
	slotOffStateSeq = slotOffState + 4    // u32 futex word: the listener bumps it after each state change
	slotOffCapacity = slotOffStateSeq + 4 // u64, ring capacity of both channels (informative)

	// Limits on the slot count, checked by creator and opener.
	minSlots = 1
	maxSlots = 4096
)

// Slot states (slotOffState). Every transition is a compare-and-swap, so
// that exactly one of client and listener wins each race (docs/layout.md,
// "Handshake").
const (
	slotFree      = 0 // client is 0 or being released
	slotClaimed   = 1 // a client holds the slot and is creating its channels
	slotReady     = 2 // the channels exist; the listener may accept
	slotAccepted  = 3 // the listener opened both channels and removed their names
	slotRefused   = 4 // the listener could not open them; the client cleans up
	slotAbandoned = 5 // the client gave up (context) before the listener accepted
)

// lsnHead mirrors the listener header (first 0x200 bytes).
type lsnHead struct {
	magic    uint32
	version  uint32
	hdrSize  uint32
	flags    uint32
	slots    uint32
	slotSize uint32
	creator  uint64
	_        [lsnOffOwner - lsnOffCreator - 8]byte
	owner    uint64
	epoch    uint64
	closed   uint32
	_        [lsnOffBell - lsnOffClosed - 4]byte
	bell     uint32
	_        [lsnHeader - lsnOffBell - 4]byte
}

// lsnSlot mirrors one 128-byte slot.
type lsnSlot struct {
	client   uint64
	conn     uint64
	state    uint32
	stateSeq uint32
	capacity uint64
	_        [lsnSlotSize - slotOffCapacity - 8]byte
}

// Compile-time layout assertions, as in layout.go.
var _ = [1]struct{}{}[unsafe.Offsetof(lsnHead{}.version)-lsnOffVersion]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnHead{}.hdrSize)-lsnOffHdrSize]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnHead{}.flags)-lsnOffFlags]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnHead{}.slots)-lsnOffSlots]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnHead{}.slotSize)-lsnOffSlotSize]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnHead{}.creator)-lsnOffCreator]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnHead{}.owner)-lsnOffOwner]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnHead{}.epoch)-lsnOffEpoch]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnHead{}.closed)-lsnOffClosed]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnHead{}.bell)-lsnOffBell]
var _ = [1]struct{}{}[unsafe.Sizeof(lsnHead{})-lsnHeader]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnSlot{}.conn)-slotOffConn]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnSlot{}.state)-slotOffState]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnSlot{}.stateSeq)-slotOffStateSeq]
var _ = [1]struct{}{}[unsafe.Offsetof(lsnSlot{}.capacity)-slotOffCapacity]
var _ = [1]struct{}{}[unsafe.Sizeof(lsnSlot{})-lsnSlotSize]

// listenerSize is the size of a listener segment with n slots.
func listenerSize(n int) int64 { return lsnHeader + int64(n)*lsnSlotSize }
