// Package spool is vmmon-agent's bounded on-disk queue of messages waiting for
// the broker. Each message is one file, named by a sequence number, written
// through a temporary file and fsync so that a crash leaves whole messages
// only; Drain sends them in order. When the spool would exceed its size, the
// oldest messages are dropped and counted.
package spool

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

const suffix = ".msg"

type entry struct {
	seq  uint64
	size int64
	// What was written, while memBytes allows: Drain sends it from here
	// rather than read the file back and check it, which cost as much as
	// the rest of a cycle's work for a large batch. Nil for messages spooled
	// by an earlier run, and for older ones beyond memBytes.
	key  string
	body []byte
}

// memBytes bounds the spooled bytes also kept in memory: the newest
// messages, so that the one just spooled is sent without reading it back,
// and a short outage's backlog too; the rest is read from disk.
const memBytes = 4 << 20

// Spool is safe for concurrent use.
type Spool struct {
	dir      string
	maxBytes int64

	mu      sync.Mutex
	entries []entry // oldest first
	bytes   int64
	next    uint64
	dropped uint64
	written uint64 // messages appended since Open
	aside   uint64 // unreadable messages moved aside
	inMem   int64  // bytes of entries' bodies held
}

// AsideDir is the folder, inside the spool, where unreadable messages are
// moved for an operator to look at.
const AsideDir = "unreadable"

// Open opens (creating it if needed) the spool in dir, keeping at most
// maxBytes of messages; messages left by an earlier run are kept.
func Open(dir string, maxBytes int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: creating %s: %w", dir, err)
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: reading %s: %w", dir, err)
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, next: 1}
	for _, f := range files {
		name := f.Name()
		if strings.HasPrefix(name, ".tmp") {
			_ = os.Remove(filepath.Join(dir, name)) // a write interrupted by a crash
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, suffix), 10, 64)
		if err != nil || !strings.HasSuffix(name, suffix) {
			continue
		}
		info, err := f.Info()
		if err != nil {
			continue
		}
		s.entries = append(s.entries, entry{seq: seq, size: info.Size()})
		s.bytes += info.Size()
		if seq >= s.next {
			s.next = seq + 1
		}
	}
	sort.Slice(s.entries, func(i, j int) bool { return s.entries[i].seq < s.entries[j].seq })
	return s, nil
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, suffix))
}

// Append stores a message for routingKey. The spool keeps body (and sends
// it from memory) until it is sent: the caller must not change it.
func (s *Spool) Append(routingKey string, body []byte) error {
	if strings.ContainsAny(routingKey, "\n") {
		return errors.New("spool: routing key with a newline")
	}
	head := []byte(routingKey + "\n")
	size := int64(len(head) + len(body))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxBytes > 0 && size > s.maxBytes {
		s.dropped++
		return fmt.Errorf("spool: a message of %d bytes exceeds spool_max_bytes (%d)", size, s.maxBytes)
	}
	for s.maxBytes > 0 && s.bytes+size > s.maxBytes && len(s.entries) > 0 {
		old := s.entries[0]
		if err := os.Remove(s.path(old.seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("spool: dropping the oldest message: %w", err)
		}
		s.forgetFirst()
		s.dropped++
	}
	seq := s.next
	tmp, err := os.CreateTemp(s.dir, ".tmp")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	_, werr := tmp.Write(head)
	if werr == nil {
		_, werr = tmp.Write(body)
	}
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("spool: writing message: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path(seq)); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("spool: %w", err)
	}
	// The rename is durable only once the folder is.
	if err := syncDir(s.dir); err != nil {
		_ = os.Remove(s.path(seq))
		return fmt.Errorf("spool: %w", err)
	}
	s.next++
	s.written++
	s.entries = append(s.entries, entry{seq: seq, size: size, key: routingKey, body: body})
	s.bytes += size
	s.inMem += int64(len(body))
	for i := 0; s.inMem > memBytes && i < len(s.entries)-1; i++ {
		s.inMem -= int64(len(s.entries[i].body))
		s.entries[i].body = nil
	}
	return nil
}

// forgetFirst removes the oldest entry (the caller holds mu).
func (s *Spool) forgetFirst() {
	s.inMem -= int64(len(s.entries[0].body))
	s.bytes -= s.entries[0].size
	s.entries[0] = entry{} // its body is garbage now
	s.entries = s.entries[1:]
}

// Drain sends the stored messages in order through send, removing each once
// send succeeded; it stops at the first failure and returns how many it sent.
func (s *Spool) Drain(ctx context.Context, send func(ctx context.Context, routingKey string, body []byte) error) (int, error) {
	sent := 0
	for {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		s.mu.Lock()
		if len(s.entries) == 0 {
			s.mu.Unlock()
			return sent, nil
		}
		e := s.entries[0]
		s.mu.Unlock()
		if e.body != nil {
			if err := send(ctx, e.key, e.body); err != nil {
				return sent, err
			}
			s.sent(e)
			sent++
			continue
		}
		data, err := os.ReadFile(s.path(e.seq))
		key, body, ok := bytes.Cut(data, []byte("\n"))
		if err != nil || !ok || !validKey(key) || !json.Valid(body) {
			// Unreadable (a disk error, or a file damaged outside vmmon):
			// set aside, and the messages after it go on.
			if merr := s.moveAside(e); merr != nil {
				return sent, fmt.Errorf("spool: message %d is unreadable and cannot be moved aside: %w", e.seq, merr)
			}
			continue
		}
		if err := send(ctx, string(key), body); err != nil {
			return sent, err
		}
		s.sent(e)
		sent++
	}
}

// sent removes e, once sent.
func (s *Spool) sent(e entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Append may have dropped it meanwhile; remove only what is still first.
	if len(s.entries) > 0 && s.entries[0].seq == e.seq {
		_ = os.Remove(s.path(e.seq))
		s.forgetFirst()
	}
}

// Stats returns the number of messages waiting, their bytes, and how many
// were dropped since Open.
func (s *Spool) Stats() (messages int, bytes int64, dropped uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries), s.bytes, s.dropped
}

// Free returns the bytes free for the agent on the spool's file system. The
// spool is written only while the broker does not take messages, so this is
// how a full disk shows before an outage needs the room.
func (s *Spool) Free() (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	return int64(st.Bavail) * int64(st.Frsize), nil
}

// Written returns how many messages were appended since Open.
func (s *Spool) Written() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written
}

// Aside returns how many unreadable messages were moved aside since Open.
func (s *Spool) Aside() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.aside
}

// moveAside moves the first message, e, into AsideDir.
func (s *Spool) moveAside(e entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) == 0 || s.entries[0].seq != e.seq {
		return nil // dropped meanwhile
	}
	aside := filepath.Join(s.dir, AsideDir)
	if err := os.MkdirAll(aside, 0o750); err != nil {
		return err
	}
	if err := os.Rename(s.path(e.seq), filepath.Join(aside, filepath.Base(s.path(e.seq)))); err != nil &&
		!errors.Is(err, os.ErrNotExist) {
		if rerr := os.Remove(s.path(e.seq)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return errors.Join(err, rerr)
		}
	}
	s.forgetFirst()
	s.aside++
	return nil
}

// validKey is a routing key as the agent writes them: <kind>.<host>.
func validKey(k []byte) bool {
	kind, host, ok := bytes.Cut(k, []byte("."))
	return ok && len(kind) > 0 && len(host) > 0 && len(k) <= 255 && bytes.IndexFunc(k, func(r rune) bool { return r < 0x21 || r > 0x7e }) < 0
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	return errors.Join(serr, d.Close())
}
