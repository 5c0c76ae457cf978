// Package streaming is the baseline that shmchan is measured against: a
// faithful Go port of the ShareMemoryChannel from the article that started
// the project, built over shm.Segment's stream view (the counterpart of
// .NET's MemoryMappedFile.CreateViewStream).
//
// The whole channel is one record, always at offset 0 of the segment:
//
//	offset 0  byte   flag: 0 unread, 1 read, 2 closed
//	offset 1  int32  payload length, little-endian
//	offset 5  bytes  payload
//
// Write seeks to 0 and writes the flag (unread), the length and the payload,
// in that order, through the stream, without waiting for the reader: a
// message the reader has not read yet is overwritten. Read polls the flag;
// when it reads "unread" it reads the length and the payload and writes the
// flag back to "read". Close writes the flag "closed".
//
// The port keeps the article's defects on purpose, because they are what
// shmchan claims to fix and the benchmarks count them:
//   - there is no flow control, so a fast writer overwrites messages that
//     were never read (lost);
//   - the flag is written before the payload and there is no memory barrier
//     beyond what the stream does, so a reader can see "unread" and copy a
//     payload that is half old and half new, or the old payload again (torn
//     or duplicated);
//   - the reader's "read" store can overwrite the writer's next "unread",
//     which loses that message too;
//   - the reader polls, so an idle reader burns a core.
//
// Two things the article leaves open are filled in the least surprising way:
// Create writes the flag "read", so a new channel has nothing to read (a
// zero-filled map would otherwise read as an unread empty message), and a
// length that does not fit the segment makes Read fail with ErrBadLength, as
// .NET's BinaryReader throws on a negative count.
//
// Do not use this package for anything but measurements.
package streaming

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/shmchan/shmchan/shm"
)

// The flag values of the article.
const (
	FlagUnread byte = 0
	FlagRead   byte = 1
	FlagClosed byte = 2
)

// HeaderSize is the size of the record header: the flag byte and the int32
// length.
const HeaderSize = 5

// ErrBadLength reports a length field that does not fit the segment, which a
// torn read can produce.
var ErrBadLength = errors.New("streaming: bad length")

// Channel is one end of an article-style channel. Either process may write or
// read; the article uses one channel per direction.
type Channel struct {
	seg *shm.Segment
	st  *shm.Stream
	len [4]byte // scratch for the length field, so that no call allocates
}

// Create creates the segment name with room for payloads of up to maxPayload
// bytes and marks it read.
func Create(name string, maxPayload int, opts ...shm.Option) (*Channel, error) {
	seg, err := shm.Create(name, int64(HeaderSize+maxPayload), opts...)
	if err != nil {
		return nil, err
	}
	c := &Channel{seg: seg, st: seg.NewStream()}
	if err := c.writeFlag(FlagRead); err != nil {
		return nil, errors.Join(err, seg.Close(), shm.Remove(name))
	}
	return c, nil
}

// Open maps an existing channel segment.
func Open(name string, opts ...shm.Option) (*Channel, error) {
	seg, err := shm.Open(name, opts...)
	if err != nil {
		return nil, err
	}
	if seg.Size() < HeaderSize {
		return nil, errors.Join(fmt.Errorf("streaming: open %s: %d bytes is too small", name, seg.Size()), seg.Close())
	}
	return &Channel{seg: seg, st: seg.NewStream()}, nil
}

// MaxPayload returns the largest payload that fits the segment.
func (c *Channel) MaxPayload() int { return int(c.seg.Size()) - HeaderSize }

// Write overwrites the record at offset 0 with msg: the flag "unread", the
// length, then the payload. It never waits for the reader.
func (c *Channel) Write(msg []byte) error {
	if len(msg) > c.MaxPayload() {
		return fmt.Errorf("streaming: write %d bytes: %w", len(msg), shm.ErrTooLarge)
	}
	if _, err := c.st.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := c.st.WriteByte(FlagUnread); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(c.len[:], uint32(int32(len(msg))))
	if _, err := c.st.Write(c.len[:]); err != nil {
		return err
	}
	_, err := c.st.Write(msg)
	return err
}

// Read polls the flag until it reads "unread" or "closed". On "unread" it
// appends the payload to dst, marks the record read and returns the result;
// on "closed" it returns io.EOF. It spins without sleeping.
func (c *Channel) Read(dst []byte) ([]byte, error) {
	for {
		if _, err := c.st.Seek(0, io.SeekStart); err != nil {
			return dst, err
		}
		flag, err := c.st.ReadByte()
		if err != nil {
			return dst, err
		}
		switch flag {
		case FlagClosed:
			return dst, io.EOF
		case FlagUnread:
			return c.readRecord(dst)
		}
	}
}

// readRecord reads the length and the payload that follow an "unread" flag
// and writes the flag "read".
func (c *Channel) readRecord(dst []byte) ([]byte, error) {
	if _, err := io.ReadFull(c.st, c.len[:]); err != nil {
		return dst, err
	}
	n := int(int32(binary.LittleEndian.Uint32(c.len[:])))
	if n < 0 || n > c.MaxPayload() {
		return dst, fmt.Errorf("streaming: length %d in a %d-byte segment: %w", n, c.seg.Size(), ErrBadLength)
	}
	start := len(dst)
	dst = append(dst, make([]byte, n)...) // no allocation once dst has the capacity
	if _, err := io.ReadFull(c.st, dst[start:]); err != nil {
		return dst[:start], err
	}
	if err := c.writeFlag(FlagRead); err != nil {
		return dst, err
	}
	return dst, nil
}

// Close writes the flag "closed": the reader's next Read returns io.EOF,
// and a message it had not read yet is lost.
func (c *Channel) Close() error { return c.writeFlag(FlagClosed) }

// Release unmaps the segment. It does not remove the name.
func (c *Channel) Release() error { return c.seg.Close() }

func (c *Channel) writeFlag(f byte) error {
	if _, err := c.st.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return c.st.WriteByte(f)
}
