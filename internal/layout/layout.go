// Package layout holds the numbers of docs/layout.md, the shared-memory
// contract, as named constants. Go code takes offsets from here; the C header
// shm/c/shmchan.h spells the same numbers and asserts them with
// _Static_assert, and tests compare the two.
//
// Offsets are chained from the line they sit on, so that a reviewer can check
// each against the table in docs/layout.md.
package layout

// Common rules.
const (
	Line = 128 // every field written by a different process starts a new 128-byte line
)

// Channel, layout version 1.
const (
	ChanMagic   = 0x434D4853 // the bytes "SHMC", little-endian
	ChanVersion = 1
	ChanHeader  = 4096 // header page; the data region follows

	MinCapacity = 1 << 10
	MaxCapacity = 1 << 32 // so that a record's u32 length covers MaxMessage

	// Header line: written once by the creator.
	OffMagic      = 0x000
	OffVersion    = OffMagic + 4      // u32, stored last
	OffHeaderSize = OffVersion + 4    // u32
	OffFlags      = OffHeaderSize + 4 // u32
	OffCapacity   = OffFlags + 4      // u64
	OffDataOffset = OffCapacity + 8   // u64
	OffMaxMessage = OffDataOffset + 8 // u64
	OffCreator    = OffMaxMessage + 8 // u64

	// Sender line. 0x080 is reserved (zero): v1 publishes records in line.
	OffSenderLine = 1 * Line
	OffTxOwner    = OffSenderLine + 8 // u64

	// Receiver line.
	OffHead    = 2 * Line    // u64
	OffRxOwner = OffHead + 8 // u64

	// Receiver signal line.
	OffDataSeq  = 3 * Line        // u32 futex word
	OffRxParked = OffDataSeq + 4  // u32
	OffRxClosed = OffRxParked + 4 // u32

	// Sender signal line.
	OffSpaceSeq = 4 * Line        // u32 futex word
	OffTxParked = OffSpaceSeq + 4 // u32
	OffTxClosed = OffTxParked + 4 // u32

	// Flags: bits 0-15 incompatible, 16-31 compatible. None are defined in v1.
	FlagsIncompatibleMask = 0xFFFF
)

// Records in the data region. The header is one little-endian u64, stored
// and loaded atomically: length in the low 32 bits, kind in the high 32. A
// zero header means "nothing published here yet".
const (
	RecordHeader = 8 // u32 len, u32 kind
	KindMessage  = 1
	KindPadding  = 2
)

// Align8 rounds n up to a multiple of 8.
func Align8(n uint64) uint64 { return (n + 7) &^ 7 }

// MaxMessage is the largest payload of a channel of the given capacity.
func MaxMessage(capacity uint64) uint64 { return capacity/2 - RecordHeader }

// Mailbox, layout version 1: docs/layout.md, "Mailbox (magic SHMB)". The
// slot header's own offsets (seq, len) and the slot limits live in package
// sync/seqlock, which owns the slots.
const (
	MbMagic    = 0x424D4853 // the bytes "SHMB", little-endian
	MbVersion  = 1
	MbHeader   = 4096 // header page; the slots follow
	MbSlots    = 3    // slots a creator makes; openers accept MbMinSlots to seqlock.MaxSlots
	MbMinSlots = 2    // one slot would let a killed writer destroy the last value

	// Header line: written once by the creator.
	MbOffMagic       = 0x000
	MbOffVersion     = MbOffMagic + 4       // u32, stored last
	MbOffHeaderSize  = MbOffVersion + 4     // u32
	MbOffFlags       = MbOffHeaderSize + 4  // u32
	MbOffMaxValue    = MbOffFlags + 4       // u64
	MbOffSlotSize    = MbOffMaxValue + 8    // u64
	MbOffSlotCount   = MbOffSlotSize + 8    // u32, then a reserved u32
	MbOffSlotsOffset = MbOffSlotCount + 8   // u64
	MbOffCreator     = MbOffSlotsOffset + 8 // u64

	// Writer line.
	MbOffLatest = 1 * Line        // u64
	MbOffClosed = MbOffLatest + 8 // u32, then a reserved u32
	MbOffOwner  = MbOffClosed + 8 // u64

	// Reader line.
	MbOffWakeSeq = 2 * Line         // u32 futex word
	MbOffWaiters = MbOffWakeSeq + 4 // u32

	MbFlagsIncompatibleMask = 0xFFFF
)
