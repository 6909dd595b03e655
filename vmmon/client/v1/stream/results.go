package stream

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Metric is one value of a sample.
type Metric struct {
	Name   string  `json:"name"`
	Device string  `json:"device"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Kind   string  `json:"kind"`
}

// Sample is one collection of an instance: its state and metrics (and its
// host, for administrators).
type Sample struct {
	InstanceID string    `json:"instance_id"`
	Host       string    `json:"host"`
	Time       time.Time `json:"timestamp"`
	State      string    `json:"state"`
	Metrics    []Metric  `json:"metrics"`
}

// ErrDropped is the stream's end when the client did not keep up.
var ErrDropped = errors.New("vmmon dropped the stream: the client did not keep up; open it again")

// Stream is an open live stream.
type Stream struct {
	body io.ReadCloser
	r    *bufio.Reader
	// Retry is how long the server asks a client to wait before it
	// reconnects; LastID the id of the last sample read.
	Retry  time.Duration
	LastID string
}

// event is one Server-Sent Event.
type event struct{ id, name, data string }

// read reads the next event (fields up to a blank line).
func (s *Stream) read() (event, error) {
	var (
		e    event
		data []string
		seen bool
	)
	for {
		line, err := s.r.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if err != nil && (line == "" || err != io.EOF) {
			if seen && errors.Is(err, io.EOF) {
				break
			}
			return e, err
		}
		if line == "" {
			if seen {
				break
			}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "": // a comment
			continue
		case "id":
			e.id = value
		case "event":
			e.name = value
		case "data":
			data = append(data, value)
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil {
				s.Retry = time.Duration(ms) * time.Millisecond
			}
		}
		seen = true
	}
	e.data = strings.Join(data, "\n")
	return e, nil
}

// Next returns the next sample: io.EOF once the server ended the stream
// (its lifetime, or the token's, is over), ErrDropped when the client did
// not keep up.
func (s *Stream) Next() (*Sample, error) {
	for {
		e, err := s.read()
		if err != nil {
			return nil, err
		}
		switch e.name {
		case "end":
			return nil, io.EOF
		case "error":
			return nil, ErrDropped
		case "sample":
			var smp Sample
			if err := json.Unmarshal([]byte(e.data), &smp); err != nil {
				return nil, fmt.Errorf("sample %s: %w", e.id, err)
			}
			s.LastID = e.id
			return &smp, nil
		}
	}
}

// Close closes the stream.
func (s *Stream) Close() error { return s.body.Close() }
