// Command pipeline streams records from a producer process to a consumer
// process over a shmchan channel, and prints the throughput.
//
// The producer encodes each record straight into the channel's ring
// (Sender.Reserve and Commit) and the consumer decodes it where it lies
// (Receiver.Peek and Release): no copy on either side. Records vary in size;
// each carries a sequence number and a CRC-32C of its bytes, which the
// consumer checks.
//
// By default the producer starts the consumer itself:
//
//	go run ./examples/pipeline
//	go run ./examples/pipeline -duration 10s -wait block
//
// or run the two sides yourself, in either order:
//
//	go run ./examples/pipeline -role consumer -name demo
//	go run ./examples/pipeline -role producer -name demo -spawn=false
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"time"

	"github.com/shmchan/shmchan/shm"
)

// A record on the wire, little-endian:
//
//	 0  uint64  sequence number, from 0
//	 8  int64   production time, Unix nanoseconds
//	16  uint32  sensor id
//	20  uint16  label length n
//	22  uint16  reserved
//	24  float64 reading
//	32  n bytes label
//	32+n uint32 CRC-32C of bytes [0, 32+n)
const (
	recordHeader = 32
	maxLabel     = 200
	maxRecord    = recordHeader + maxLabel + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func main() {
	var (
		role     = flag.String("role", "producer", "producer or consumer")
		name     = flag.String("name", "", "channel name (default: pipeline-PID)")
		duration = flag.Duration("duration", 3*time.Second, "how long the producer streams")
		wait     = flag.String("wait", "adaptive", "wait strategy: spin, adaptive or block")
		capacity = flag.Int64("capacity", 1<<20, "ring size in bytes, a power of two")
		spawn    = flag.Bool("spawn", true, "producer: start the consumer as a child process")
	)
	flag.Parse()
	w, err := parseWait(*wait)
	if err == nil {
		if *name == "" {
			*name = fmt.Sprintf("pipeline-%d", os.Getpid())
		}
		opts := []shm.Option{shm.WithWait(w)}
		switch *role {
		case "producer":
			err = produce(*name, *capacity, *duration, *spawn, *wait, opts)
		case "consumer":
			err = consume(*name, *capacity, opts)
		default:
			err = fmt.Errorf("-role %q: want producer or consumer", *role)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

func parseWait(s string) (shm.WaitStrategy, error) {
	for _, w := range []shm.WaitStrategy{shm.Spin, shm.Adaptive, shm.Block} {
		if w.String() == s {
			return w, nil
		}
	}
	return 0, fmt.Errorf("-wait %q: want spin, adaptive or block", s)
}

// produce streams records for d, then closes the channel so that the
// consumer sees io.EOF.
func produce(name string, capacity int64, d time.Duration, spawn bool, wait string, opts []shm.Option) (err error) {
	ch, _, err := shm.OpenOrCreateChannel(name, capacity, opts...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ch.Close()) }()
	tx, err := ch.Sender()
	if err != nil {
		return err
	}
	var consumer *exec.Cmd
	if spawn {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		consumer = exec.Command(exe, "-role", "consumer", "-name", name, "-capacity", fmt.Sprint(capacity), "-wait", wait)
		consumer.Stdout, consumer.Stderr = os.Stdout, os.Stderr
		if err := consumer.Start(); err != nil {
			return err
		}
		defer func() {
			err = errors.Join(err, consumer.Wait())
			// The consumer removes the name; remove it here too in case it
			// failed before it could.
			if rerr := shm.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}()
	}

	labels := []string{"boiler", "pump 2 inlet", "north wing, floor 3, room 312, radiator", "x"}
	begin := time.Now()
	var seq, bytes uint64
	for ; ; seq++ {
		buf, err := tx.Reserve(maxRecord)
		if err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		n := encode(buf, seq, uint32(seq%97), float64(seq)*0.25, labels[seq%uint64(len(labels))])
		if err := tx.Commit(n); err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		bytes += uint64(n)
		if seq%4096 == 0 && time.Since(begin) > d {
			seq++
			break
		}
	}
	elapsed := time.Since(begin)
	fmt.Printf("producer: %d records, %.1f MB in %v: %.2f M records/s, %.0f MB/s\n",
		seq, float64(bytes)/1e6, elapsed.Round(time.Millisecond), float64(seq)/elapsed.Seconds()/1e6, float64(bytes)/elapsed.Seconds()/1e6)
	return tx.Close()
}

// encode writes one record into buf and returns its length.
func encode(buf []byte, seq uint64, sensor uint32, reading float64, label string) int {
	n := copy(buf[recordHeader:recordHeader+maxLabel], label)
	binary.LittleEndian.PutUint64(buf[0:], seq)
	binary.LittleEndian.PutUint64(buf[8:], uint64(time.Now().UnixNano()))
	binary.LittleEndian.PutUint32(buf[16:], sensor)
	binary.LittleEndian.PutUint16(buf[20:], uint16(n))
	binary.LittleEndian.PutUint16(buf[22:], 0)
	binary.LittleEndian.PutUint64(buf[24:], math.Float64bits(reading))
	end := recordHeader + n
	binary.LittleEndian.PutUint32(buf[end:], crc32.Checksum(buf[:end], castagnoli))
	return end + 4
}

// consume reads records until the producer closes the channel, checking
// each, and prints the throughput.
func consume(name string, capacity int64, opts []shm.Option) (err error) {
	ch, _, err := shm.OpenOrCreateChannel(name, capacity, opts...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, ch.Close(), shm.Remove(name)) }()
	rx, err := ch.Receiver()
	if err != nil {
		return err
	}
	var (
		begin      time.Time
		seq, bytes uint64
		lag        time.Duration // production to consumption, summed over every 1024th record
	)
	for ; ; seq++ {
		rec, err := rx.Peek()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		if seq == 0 {
			begin = time.Now()
		}
		got, produced, _, err := decode(rec)
		if err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		if got != seq {
			return fmt.Errorf("record %d arrived as number %d", got, seq)
		}
		if seq%1024 == 0 {
			lag += time.Since(time.Unix(0, produced))
		}
		bytes += uint64(len(rec))
		if err := rx.Release(); err != nil {
			return err
		}
	}
	if seq == 0 {
		fmt.Println("consumer: no records")
		return nil
	}
	elapsed := time.Since(begin)
	fmt.Printf("consumer: %d records, %.1f MB in %v: %.2f M records/s, %.0f MB/s; all in order, every CRC good; mean lag %v\n",
		seq, float64(bytes)/1e6, elapsed.Round(time.Millisecond), float64(seq)/elapsed.Seconds()/1e6, float64(bytes)/elapsed.Seconds()/1e6,
		(lag / time.Duration((seq+1023)/1024)).Round(time.Microsecond))
	return nil
}

// decode checks a record in place and returns its fields.
func decode(rec []byte) (seq uint64, produced int64, reading float64, err error) {
	if len(rec) < recordHeader+4 {
		return 0, 0, 0, fmt.Errorf("%d bytes: too short for a record", len(rec))
	}
	n := int(binary.LittleEndian.Uint16(rec[20:]))
	if n > maxLabel || len(rec) != recordHeader+n+4 {
		return 0, 0, 0, fmt.Errorf("label of %d bytes in a %d-byte record", n, len(rec))
	}
	end := recordHeader + n
	if binary.LittleEndian.Uint32(rec[end:]) != crc32.Checksum(rec[:end], castagnoli) {
		return 0, 0, 0, errors.New("bad CRC")
	}
	seq = binary.LittleEndian.Uint64(rec[0:])
	produced = int64(binary.LittleEndian.Uint64(rec[8:]))
	reading = math.Float64frombits(binary.LittleEndian.Uint64(rec[24:]))
	return seq, produced, reading, nil
}
