// Package layout holds the numbers and header structs of docs/layout.md, the
// shared-memory contract, for the channel (Chan…) and the mailbox (Mbox…).
// Go code takes every offset, size and magic number from here; the C header
// shm/c/shmchan.h spells the same numbers and asserts them with
// _Static_assert, and shm/c/interop's TestLayoutMatchesC compares the two.
//
// Offsets are chained from the line they sit on, so that a reviewer can check
// each against the table in docs/layout.md, and each header struct is
// asserted against them at compile time (the [1]struct{}{} lines below fail
// to compile if a field drifts).
package layout

import "unsafe"

// Common rules.
const (
	Line = 128 // every field written by a different process starts a new 128-byte line
)

// Role locks (docs/layout.md, "Role locks"): each role's lock range is the
// 8 bytes of its owner field.
const (
	LockLen      = 8
	LockTx       = ChanOffTxOwner // channel sender
	LockRx       = ChanOffRxOwner // channel receiver
	LockMbWriter = MboxOffOwner   // mailbox writer
)

// Align8 rounds n up to a multiple of 8.
func Align8(n uint64) uint64 { return (n + 7) &^ 7 }

// Channel, layout version 2: docs/layout.md, "Channel (magic SHMC)".
const (
	ChanMagic      = 0x434D4853 // the bytes "SHMC", little-endian
	ChanVersion    = 2          // 2: roles held by role locks (docs/layout.md, "Changes from version 1")
	ChanHeaderSize = 4096       // header page; the data region follows

	ChanMinCapacity = 1 << 10
	ChanMaxCapacity = 1 << 32 // so that a record's u32 length covers the largest message

	// Header line: written once by the creator.
	ChanOffMagic      = 0x000
	ChanOffVersion    = ChanOffMagic + 4      // u32, stored last
	ChanOffHeaderSize = ChanOffVersion + 4    // u32
	ChanOffFlags      = ChanOffHeaderSize + 4 // u32
	ChanOffCapacity   = ChanOffFlags + 4      // u64
	ChanOffDataOffset = ChanOffCapacity + 8   // u64
	ChanOffMaxMessage = ChanOffDataOffset + 8 // u64
	ChanOffCreator    = ChanOffMaxMessage + 8 // u64

	// Sender line. 0x080 is reserved (zero): records are published in line.
	ChanOffSenderLine = 1 * Line
	ChanOffTxOwner    = ChanOffSenderLine + 8 // u64

	// Receiver line.
	ChanOffHead    = 2 * Line        // u64
	ChanOffRxOwner = ChanOffHead + 8 // u64

	// Receiver signal line.
	ChanOffDataSeq  = 3 * Line            // u32 futex word
	ChanOffRxParked = ChanOffDataSeq + 4  // u32
	ChanOffRxClosed = ChanOffRxParked + 4 // u32

	// Sender signal line.
	ChanOffSpaceSeq = 4 * Line            // u32 futex word
	ChanOffTxParked = ChanOffSpaceSeq + 4 // u32
	ChanOffTxClosed = ChanOffTxParked + 4 // u32

	// Counter lines: docs/layout.md, "Counters". Each is written only by its
	// own end, so counting adds no cache-line transfer to the message path.
	ChanOffTxStats = 5 * Line // Stats, written only by the sender
	ChanOffRxStats = 6 * Line // Stats, written only by the receiver

	// Flags: bits 0-15 incompatible, 16-31 compatible.
	ChanFlagsIncompatibleMask = 0xFFFF
	// ChanFlagStats (compatible) says that the creator zeroed the counter
	// lines and that the ends keep them; an opener that does not know it
	// ignores it (and its end leaves its counters still).
	ChanFlagStats = 1 << 16
)

// Stats is one end's counter line (docs/layout.md, "Counters"): u64 counts,
// each written only by the process holding that end, with plain (relaxed)
// aligned stores, and read by anyone with atomic loads. They count from the
// object's creation, across every process that held the role.
type Stats struct {
	Messages  uint64 // messages sent (sender), received (receiver), values published (mailbox writer)
	Bytes     uint64 // payload bytes of those messages or values
	Waits     uint64 // blocking calls that found the ring full (sender) or empty (receiver) and waited
	Parks     uint64 // sleeps on the wait word (futex waits)
	Wakes     uint64 // wakeups issued to a parked peer (futex wakes)
	Takeovers uint64 // claims of the role from a dead holder
}

// Offsets within a Stats line.
const (
	StatsOffMessages  = 0x00
	StatsOffBytes     = StatsOffMessages + 8
	StatsOffWaits     = StatsOffBytes + 8
	StatsOffParks     = StatsOffWaits + 8
	StatsOffWakes     = StatsOffParks + 8
	StatsOffTakeovers = StatsOffWakes + 8
	StatsSize         = StatsOffTakeovers + 8
)

var (
	_ = [1]struct{}{}[unsafe.Offsetof(Stats{}.Bytes)-StatsOffBytes]
	_ = [1]struct{}{}[unsafe.Offsetof(Stats{}.Waits)-StatsOffWaits]
	_ = [1]struct{}{}[unsafe.Offsetof(Stats{}.Parks)-StatsOffParks]
	_ = [1]struct{}{}[unsafe.Offsetof(Stats{}.Wakes)-StatsOffWakes]
	_ = [1]struct{}{}[unsafe.Offsetof(Stats{}.Takeovers)-StatsOffTakeovers]
	_ = [1]struct{}{}[unsafe.Sizeof(Stats{})-StatsSize]
)

// Records in the channel's data region. The header is one little-endian
// u64, stored and loaded atomically: length in the low 32 bits, kind in the
// high 32. A zero header means "nothing published here yet".
const (
	ChanRecordHeader = 8 // u32 len, u32 kind
	ChanKindMessage  = 1
	ChanKindPadding  = 2
)

// ChanMaxMessage is the largest payload of a channel of the given capacity.
func ChanMaxMessage(capacity uint64) uint64 { return capacity/2 - ChanRecordHeader }

// ChanHeader is the channel's header page, field for field.
type ChanHeader struct {
	Magic      uint32 // "SHMC"
	Version    uint32 // stored last by the creator
	HeaderSize uint32 // 4096
	Flags      uint32 // bits 0-15 incompatible, 16-31 compatible
	Capacity   uint64 // data region bytes, a power of two
	DataOffset uint64 // 4096
	MaxMessage uint64 // capacity/2 - 8
	Creator    uint64 // creator's process token
	_          [ChanOffSenderLine - ChanOffCreator - 8]byte

	_       uint64 // sender line: reserved
	TxOwner uint64 // sender's process token, 0 if none
	_       [ChanOffHead - ChanOffTxOwner - 8]byte

	Head    uint64 // receiver line: the consumer's position
	RxOwner uint64 // receiver's process token, 0 if none
	_       [ChanOffDataSeq - ChanOffRxOwner - 8]byte

	DataSeq  uint32 // receiver signal line: the futex word the receiver sleeps on
	RxParked uint32 // 1 while the receiver is parked or about to park
	RxClosed uint32 // 1 once the receiver closed
	_        [ChanOffSpaceSeq - ChanOffRxClosed - 4]byte

	SpaceSeq uint32 // sender signal line: the futex word the sender sleeps on
	TxParked uint32 // 1 while the sender is parked or about to park
	TxClosed uint32 // 1 once the sender closed
	_        [ChanOffTxStats - ChanOffTxClosed - 4]byte

	TxStats Stats // sender's counter line (ChanFlagStats)
	_       [ChanOffRxStats - ChanOffTxStats - StatsSize]byte

	RxStats Stats // receiver's counter line (ChanFlagStats)
	_       [ChanHeaderSize - ChanOffRxStats - StatsSize]byte
}

var (
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.Version)-ChanOffVersion]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.HeaderSize)-ChanOffHeaderSize]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.Flags)-ChanOffFlags]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.Capacity)-ChanOffCapacity]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.DataOffset)-ChanOffDataOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.MaxMessage)-ChanOffMaxMessage]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.Creator)-ChanOffCreator]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.TxOwner)-ChanOffTxOwner]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.Head)-ChanOffHead]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.RxOwner)-ChanOffRxOwner]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.DataSeq)-ChanOffDataSeq]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.RxParked)-ChanOffRxParked]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.RxClosed)-ChanOffRxClosed]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.SpaceSeq)-ChanOffSpaceSeq]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.TxParked)-ChanOffTxParked]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.TxClosed)-ChanOffTxClosed]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.TxStats)-ChanOffTxStats]
	_ = [1]struct{}{}[unsafe.Offsetof(ChanHeader{}.RxStats)-ChanOffRxStats]
	_ = [1]struct{}{}[unsafe.Sizeof(ChanHeader{})-ChanHeaderSize]
)

// Mailbox, layout version 2: docs/layout.md, "Mailbox (magic SHMB)".
const (
	MboxMagic      = 0x424D4853 // the bytes "SHMB", little-endian
	MboxVersion    = 2
	MboxHeaderSize = 4096 // header page; the slots follow
	MboxSlots      = 3    // slots a creator makes; openers accept MboxMinSlots to MboxMaxSlots
	MboxMinSlots   = 2    // one slot would let a killed writer destroy the last value

	// Header line: written once by the creator.
	MboxOffMagic       = 0x000
	MboxOffVersion     = MboxOffMagic + 4       // u32, stored last
	MboxOffHeaderSize  = MboxOffVersion + 4     // u32
	MboxOffFlags       = MboxOffHeaderSize + 4  // u32
	MboxOffMaxValue    = MboxOffFlags + 4       // u64
	MboxOffSlotSize    = MboxOffMaxValue + 8    // u64
	MboxOffSlotCount   = MboxOffSlotSize + 8    // u32, then a reserved u32
	MboxOffSlotsOffset = MboxOffSlotCount + 8   // u64
	MboxOffCreator     = MboxOffSlotsOffset + 8 // u64

	// Writer line.
	MboxOffLatest = 1 * Line          // u64
	MboxOffClosed = MboxOffLatest + 8 // u32, then a reserved u32
	MboxOffOwner  = MboxOffClosed + 8 // u64

	// Reader line.
	MboxOffWakeSeq = 2 * Line           // u32 futex word
	MboxOffWaiters = MboxOffWakeSeq + 4 // u32

	// Writer's counter line: docs/layout.md, "Counters".
	MboxOffWriterStats = 3 * Line // Stats, written only by the writer

	MboxFlagsIncompatibleMask = 0xFFFF
	// MboxFlagStats (compatible): the writer keeps its counter line.
	MboxFlagStats = 1 << 16
)

// Mailbox slots (package sync/seqlock's cells): each slot is a header of
// MboxSlotHeaderSize bytes, then the value bytes rounded up to a multiple of
// it.
const (
	MboxSlotHeaderSize = 128
	// MboxSlotOffSeq is the offset of a slot's u64 sequence: 2v+1 while
	// version v is written, 2v once it is complete, 0 if never written.
	MboxSlotOffSeq = 0
	// MboxSlotOffLen is the offset of a slot's u64 value length.
	MboxSlotOffLen = MboxSlotOffSeq + 8
	// MboxMaxSlots is the largest slot count an opener accepts.
	MboxMaxSlots = 16
	// MboxMaxVersion is the largest version a writer publishes: far beyond
	// what any writer reaches (146 years at a billion values a second), and
	// small enough that 2*(version+MboxMaxSlots)+1 never overflows.
	MboxMaxVersion = 1<<62 - 1

	// MboxMaxWaiters is how many parked readers one publish wakes at once
	// on Windows, where the mailbox's wait word is a named semaphore of this
	// maximum count (docs/platforms.md); more readers wake at their 50 ms
	// tick. Elsewhere a wake reaches every reader.
	MboxMaxWaiters = 64
)

// MboxHeader is the mailbox's header page, field for field.
type MboxHeader struct {
	Magic       uint32 // "SHMB"
	Version     uint32 // stored last by the creator
	HeaderSize  uint32 // 4096
	Flags       uint32 // bits 0-15 incompatible, 16-31 compatible
	MaxValue    uint64 // largest value in bytes
	SlotSize    uint64 // bytes per slot: seqlock.Stride(MaxValue)
	SlotCount   uint32 // number of slots
	_           uint32
	SlotsOffset uint64 // 4096
	Creator     uint64 // creator's process token
	_           [MboxOffLatest - MboxOffCreator - 8]byte

	Latest uint64 // writer line: version of the newest complete value
	Closed uint32 // 1 once the writer closed the mailbox
	_      uint32
	Owner  uint64 // token of the writer, 0 if none
	_      [MboxOffWakeSeq - MboxOffOwner - 8]byte

	WakeSeq uint32 // reader line: the futex word readers sleep on
	Waiters uint32 // readers parked or about to park
	_       [MboxOffWriterStats - MboxOffWaiters - 4]byte

	WriterStats Stats // writer's counter line (MboxFlagStats)
	_           [MboxHeaderSize - MboxOffWriterStats - StatsSize]byte
}

var (
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.Version)-MboxOffVersion]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.HeaderSize)-MboxOffHeaderSize]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.Flags)-MboxOffFlags]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.MaxValue)-MboxOffMaxValue]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.SlotSize)-MboxOffSlotSize]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.SlotCount)-MboxOffSlotCount]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.SlotsOffset)-MboxOffSlotsOffset]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.Creator)-MboxOffCreator]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.Latest)-MboxOffLatest]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.Closed)-MboxOffClosed]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.Owner)-MboxOffOwner]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.WakeSeq)-MboxOffWakeSeq]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.Waiters)-MboxOffWaiters]
	_ = [1]struct{}{}[unsafe.Offsetof(MboxHeader{}.WriterStats)-MboxOffWriterStats]
	_ = [1]struct{}{}[unsafe.Sizeof(MboxHeader{})-MboxHeaderSize]
)
