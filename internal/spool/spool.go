// Package spool keeps webhook requests that could not be applied (PostgreSQL
// unavailable) in a local append-only file, fsynced before the webhook is
// answered, until a replayer has applied them.
//
// Each process writes a file of its own in the spool directory
// (spool-HOST-PID-RANDOM.log), locked with flock while the process lives. A
// file whose lock is free belongs to a process that died: Open and Adopt
// copy its pending records into the live file and remove it.
//
// A file is a sequence of frames: a 4-byte big-endian payload length, the
// payload's CRC-32C, then the payload. A payload is a record (an Entry) or
// an acknowledgement naming a record's sequence number. A process killed
// mid-write leaves at most a torn last frame; reading stops at the first
// frame that is short or fails its checksum, and the file is truncated
// there, so earlier records are never lost. When every record of the live
// file is acknowledged, the file is truncated to nothing.
package spool

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Entry is one spooled webhook request, already signature-checked.
type Entry struct {
	// Seq numbers the entry within its spool (set by Append).
	Seq uint64 `json:"seq"`
	// Kind says which webhook it was (sms, sms_status, voice_status).
	Kind string `json:"kind"`
	// Key groups entries that must be applied in order (the sender's
	// number for an inbound SMS); entries with the same key are applied
	// in the order they arrived.
	Key string `json:"key,omitempty"`
	// Received is when the webhook arrived.
	Received time.Time `json:"received"`
	// Query is the request's query string, Form its form body, encoded.
	Query string `json:"query,omitempty"`
	Form  string `json:"form"`
}

// Frame payload types.
const (
	typeRecord = 'R'
	typeAck    = 'A'
)

const (
	headerLen = 8
	// MaxRecord bounds a frame's payload (webhook bodies are at most 64 KiB).
	MaxRecord = 1 << 20
	// DefaultMaxBytes bounds the live file, so a long outage cannot fill
	// the disk; beyond it Append fails and the webhook answers 500.
	DefaultMaxBytes = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFull is returned when the spool file has reached its size bound.
var ErrFull = errors.New("spool full")

// Spool is a process's spool file and its pending entries.
type Spool struct {
	dir      string
	maxBytes int64

	mu       sync.Mutex
	f        *os.File
	size     int64
	seq      uint64
	written  uint64 // frames written, for group fsync
	inflight int
	pending  []Entry // in arrival order
	keys     map[string]int

	syncMu sync.Mutex
	synced uint64
}

// Options configure a spool.
type Options struct {
	// MaxBytes bounds the live file (default DefaultMaxBytes).
	MaxBytes int64
}

// Open creates this process's spool file in dir (made if missing) and
// adopts the files of processes that died.
func Open(dir string, o Options) (*Spool, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool directory: %w", err)
	}
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, host)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := fmt.Sprintf("spool-%s-%d-%s.log", host, os.Getpid(), hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock spool file: %w", err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	s := &Spool{dir: dir, maxBytes: o.MaxBytes, f: f, keys: map[string]int{}}
	if _, err := s.Adopt(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Path is the live file.
func (s *Spool) Path() string { return s.f.Name() }

// Close closes the live file; its pending entries stay in it for the next
// process to adopt.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// Append writes e to the file and returns once it is on disk. Entries
// appended concurrently share an fsync.
func (s *Spool) Append(e Entry) error {
	s.mu.Lock()
	s.seq++
	e.Seq = s.seq
	payload, err := json.Marshal(e)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("spool: %w", err)
	}
	frame := encodeFrame(append([]byte{typeRecord}, payload...))
	if len(frame)-headerLen > MaxRecord {
		s.mu.Unlock()
		return fmt.Errorf("spool: record of %d bytes: %w", len(frame), ErrFull)
	}
	if err := s.writeLocked(frame); err != nil {
		s.mu.Unlock()
		return err
	}
	s.inflight++
	mine := s.written
	s.mu.Unlock()

	err = s.syncUpTo(mine)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if err != nil {
		// The record may still be on disk; it is not pending, so the
		// webhook answers 500 and nothing claims it was kept.
		return err
	}
	s.pending = append(s.pending, e)
	if e.Key != "" {
		s.keys[e.Key]++
	}
	return nil
}

// writeLocked writes a whole frame at the end of the file, or nothing: a
// short write is cut off so the next frame does not follow garbage.
func (s *Spool) writeLocked(frame []byte) error {
	if s.size+int64(len(frame)) > s.maxBytes {
		return fmt.Errorf("spool: %d bytes pending: %w", s.size, ErrFull)
	}
	n, err := s.f.WriteAt(frame, s.size)
	if err != nil {
		if n > 0 {
			if terr := s.f.Truncate(s.size); terr != nil {
				err = errors.Join(err, terr)
			}
		}
		return fmt.Errorf("spool write: %w", err)
	}
	s.size += int64(n)
	s.written++
	return nil
}

// syncUpTo fsyncs the file unless another caller's fsync already covered
// frame n.
func (s *Spool) syncUpTo(n uint64) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.synced >= n {
		return nil
	}
	s.mu.Lock()
	upto := s.written
	s.mu.Unlock()
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("spool fsync: %w", err)
	}
	s.synced = upto
	return nil
}

// Pending returns the entries not yet acknowledged, oldest first.
func (s *Spool) Pending() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pending)
}

// Stats are the spool's depth and the arrival time of its oldest entry
// (zero when empty).
func (s *Spool) Stats() (depth int, oldest time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.pending {
		if oldest.IsZero() || e.Received.Before(oldest) {
			oldest = e.Received
		}
	}
	return len(s.pending), oldest
}

// Holds reports whether an entry with key is pending: a later request with
// the same key must queue behind it to keep the arrival order.
func (s *Spool) Holds(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[key] > 0
}

// Ack marks the entry applied. The acknowledgement is not fsynced: losing
// it only means the entry is applied again, which replays are safe
// against. When nothing is pending the file is truncated.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.pending, func(e Entry) bool { return e.Seq == seq })
	if i < 0 {
		return nil
	}
	e := s.pending[i]
	s.pending = slices.Delete(s.pending, i, i+1)
	if e.Key != "" {
		if s.keys[e.Key]--; s.keys[e.Key] <= 0 {
			delete(s.keys, e.Key)
		}
	}
	if len(s.pending) == 0 && s.inflight == 0 {
		if err := s.f.Truncate(0); err != nil {
			return fmt.Errorf("spool truncate: %w", err)
		}
		s.size = 0
		return nil
	}
	var b [9]byte
	b[0] = typeAck
	binary.BigEndian.PutUint64(b[1:], seq)
	// The file bound does not apply to acknowledgements: they shrink
	// what is pending.
	n, err := s.f.WriteAt(encodeFrame(b[:]), s.size)
	if err != nil {
		if n > 0 {
			_ = s.f.Truncate(s.size)
		}
		return fmt.Errorf("spool write: %w", err)
	}
	s.size += int64(n)
	s.written++
	return nil
}

// RejectedFile is where entries that can never be applied are kept, in the
// spool's framing, for a person to read.
const RejectedFile = "rejected.log"

// Reject moves an entry that can never be applied (the replayer found it
// refused for good) to the rejected file, fsynced, and acknowledges it.
func (s *Spool) Reject(e Entry) error {
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, RejectedFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("spool rejected file: %w", err)
	}
	_, err = f.Write(encodeFrame(append([]byte{typeRecord}, payload...)))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool rejected file: %w", err)
	}
	return s.Ack(e.Seq)
}

// Adopt copies the pending entries of files whose process died into the
// live file, then removes those files. It returns how many it adopted.
func (s *Spool) Adopt() (int, error) {
	names, err := filepath.Glob(filepath.Join(s.dir, "spool-*.log"))
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	adopted := 0
	for _, name := range names {
		if name == s.Path() {
			continue
		}
		n, err := s.adoptFile(name)
		adopted += n
		if err != nil {
			return adopted, err
		}
	}
	return adopted, nil
}

func (s *Spool) adoptFile(name string) (int, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return 0, nil // a live process's file
	}
	if fi, err := f.Stat(); err != nil || !sameFile(name, fi) {
		// Adopted and removed by another process since Glob.
		return 0, nil
	}
	entries, good, err := ReadPending(f)
	if err != nil {
		return 0, err
	}
	// A torn tail is cut off where the last whole frame ends.
	if err := f.Truncate(good); err != nil {
		return 0, fmt.Errorf("spool truncate %s: %w", filepath.Base(name), err)
	}
	for _, e := range entries {
		e.Seq = 0
		if err := s.Append(e); err != nil {
			return 0, fmt.Errorf("adopt %s: %w", filepath.Base(name), err)
		}
	}
	if err := os.Remove(name); err != nil {
		return len(entries), fmt.Errorf("spool: %w", err)
	}
	return len(entries), syncDir(s.dir)
}

// sameFile reports whether the file at name is still fi (not removed).
func sameFile(name string, fi os.FileInfo) bool {
	cur, err := os.Stat(name)
	return err == nil && os.SameFile(cur, fi)
}

// ReadPending reads a spool file and returns the records not acknowledged,
// in the order they were written, and the length of the whole frames read
// (where a torn tail begins).
func ReadPending(r io.Reader) ([]Entry, int64, error) {
	var entries []Entry
	acked := map[uint64]bool{}
	var good int64
	var hdr [headerLen]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return nil, 0, fmt.Errorf("spool read: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n == 0 || n > MaxRecord+1 {
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return nil, 0, fmt.Errorf("spool read: %w", err)
		}
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[4:]) {
			break
		}
		e, ack, ok := decodePayload(payload)
		if !ok {
			break
		}
		good += headerLen + int64(n)
		if ack != 0 {
			acked[ack] = true
			continue
		}
		entries = append(entries, e)
	}
	entries = slices.DeleteFunc(entries, func(e Entry) bool { return acked[e.Seq] })
	return entries, good, nil
}

// decodePayload decodes a frame's payload: a record, or an
// acknowledgement of seq ack.
func decodePayload(p []byte) (e Entry, ack uint64, ok bool) {
	switch {
	case len(p) == 9 && p[0] == typeAck:
		ack = binary.BigEndian.Uint64(p[1:])
		return Entry{}, ack, ack != 0
	case len(p) > 1 && p[0] == typeRecord:
		if err := json.Unmarshal(p[1:], &e); err != nil || e.Seq == 0 || e.Kind == "" {
			return Entry{}, 0, false
		}
		return e, 0, true
	}
	return Entry{}, 0, false
}

func encodeFrame(payload []byte) []byte {
	b := make([]byte, headerLen+len(payload))
	binary.BigEndian.PutUint32(b[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[4:8], crc32.Checksum(payload, castagnoli))
	copy(b[headerLen:], payload)
	return b
}

// syncDir makes a file's creation or removal durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool directory fsync: %w", err)
	}
	return nil
}
