package shm

import (
	"unsafe"

	"github.com/shmchan/shmchan/sync/seqlock"
)

// Mailbox layout, version 1: docs/layout.md, "Mailbox (magic SHMB)". The
// offsets are chained from the line they sit on, so that a reviewer can check
// each against the table.
const (
	mbMagic    = 0x424D4853 // the bytes "SHMB", little-endian
	mbVersion  = 1
	mbHeader   = 4096 // header page; the slots follow
	mbSlots    = 3    // slots a creator makes; openers accept mbMinSlots to seqlock.MaxSlots
	mbMinSlots = 2    // one slot would let a killed writer destroy the last value

	// Header line: written once by the creator.
	mbOffMagic       = 0x000
	mbOffVersion     = mbOffMagic + 4       // u32, stored last
	mbOffHeaderSize  = mbOffVersion + 4     // u32
	mbOffFlags       = mbOffHeaderSize + 4  // u32
	mbOffMaxValue    = mbOffFlags + 4       // u64
	mbOffSlotSize    = mbOffMaxValue + 8    // u64
	mbOffSlotCount   = mbOffSlotSize + 8    // u32, then a reserved u32
	mbOffSlotsOffset = mbOffSlotCount + 8   // u64
	mbOffCreator     = mbOffSlotsOffset + 8 // u64

	// Writer line.
	mbOffLatest = 1 * 128         // u64
	mbOffClosed = mbOffLatest + 8 // u32, then a reserved u32
	mbOffOwner  = mbOffClosed + 8 // u64

	// Reader line.
	mbOffWakeSeq = 2 * 128          // u32 futex word
	mbOffWaiters = mbOffWakeSeq + 4 // u32

	mbFlagsIncompatibleMask = 0xFFFF
)

// mbHeaderFields is the mailbox header page, field for field.
type mbHeaderFields struct {
	magic       uint32 // "SHMB"
	version     uint32 // stored last by the creator
	headerSize  uint32 // 4096
	flags       uint32 // bits 0-15 incompatible, 16-31 compatible
	maxValue    uint64 // largest value in bytes
	slotSize    uint64 // bytes per slot: seqlock.Stride(maxValue)
	slotCount   uint32 // number of slots
	_           uint32
	slotsOffset uint64 // 4096
	creator     uint64 // creator's process token
	_           [mbOffLatest - mbOffCreator - 8]byte

	latest uint64 // writer line: version of the newest complete value
	closed uint32 // 1 once the writer closed the mailbox
	_      uint32
	owner  uint64 // token of the writer, 0 if none
	_      [mbOffWakeSeq - mbOffOwner - 8]byte

	wakeSeq uint32 // reader line: the futex word readers sleep on
	waiters uint32 // readers parked or about to park
	_       [mbHeader - mbOffWaiters - 4]byte
}

// Compile-time layout assertions: each line fails to compile (a negative or
// non-constant array index) if an offset drifts from the constants above.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.version)-mbOffVersion]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.headerSize)-mbOffHeaderSize]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.flags)-mbOffFlags]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.maxValue)-mbOffMaxValue]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.slotSize)-mbOffSlotSize]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.slotCount)-mbOffSlotCount]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.slotsOffset)-mbOffSlotsOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.creator)-mbOffCreator]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.latest)-mbOffLatest]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.closed)-mbOffClosed]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.owner)-mbOffOwner]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.wakeSeq)-mbOffWakeSeq]
	_ = [1]struct{}{}[unsafe.Offsetof(mbHeaderFields{}.waiters)-mbOffWaiters]
	_ = [1]struct{}{}[unsafe.Sizeof(mbHeaderFields{})-mbHeader]
	_ = [1]struct{}{}[seqlock.SlotHeader-128]
)
