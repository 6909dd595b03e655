package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// appendMeasures appends the measures document, byte for byte what
// encoding/json writes for it (keys sorted, no HTML escaping, a final
// newline), without reflection: a day at 1 min is 1,440 points, and encoding
// them by reflection cost twice as much as reading them from the store.
func appendMeasures(b []byte, mq storage.MeasureQuery, series []storage.Series) ([]byte, error) {
	var err error
	b = append(b, `{"measures":{"aggregation":`...)
	b = appendString(b, mq.Aggregation)
	b = append(b, `,"end":`...)
	if b, err = appendTime(b, mq.End); err != nil {
		return nil, err
	}
	b = append(b, `,"granularity":`...)
	b = strconv.AppendInt(b, int64(mq.Granularity.Seconds()), 10)
	b = append(b, `,"metric":`...)
	b = appendString(b, mq.Metric)
	b = append(b, `,"series":`...)
	if series == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range series {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			if s.Device != "" {
				b = append(b, `"device":`...)
				b = appendString(b, s.Device)
				b = append(b, ',')
			}
			b = append(b, `"unit":`...)
			b = appendString(b, s.Unit)
			b = append(b, `,"points":`...)
			if s.Points == nil {
				b = append(b, "null"...)
			} else {
				b = append(b, '[')
				for j, p := range s.Points {
					if j > 0 {
						b = append(b, ',')
					}
					b = append(b, `{"timestamp":`...)
					if b, err = appendTime(b, p.Time); err != nil {
						return nil, err
					}
					b = append(b, `,"value":`...)
					if b, err = appendFloat(b, p.Value); err != nil {
						return nil, err
					}
					b = append(b, '}')
				}
				b = append(b, ']')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"start":`...)
	if b, err = appendTime(b, mq.Start); err != nil {
		return nil, err
	}
	return append(b, "}}\n"...), nil
}

// appendString appends s as a JSON string, escaped as encoding/json does
// with HTML escaping off.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			// Rare in names and units: let encoding/json handle it.
			return append(b, marshalNoEscape(s)...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func marshalNoEscape(v any) []byte {
	var w bytes.Buffer
	enc := json.NewEncoder(&w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(w.Bytes(), []byte("\n"))
}

// appendTime appends t as time.Time's MarshalJSON does; whole seconds in
// UTC, what rollups are, are written digit by digit.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("json: time %v: year outside of range [0,9999]", t)
	}
	if t.Location() != time.UTC || t.Nanosecond() != 0 {
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), nil
	}
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	digits := func(b []byte, v, n int) []byte {
		for i := n - 1; i >= 0; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
		return b
	}
	out := []byte(`"0000-00-00T00:00:00Z"`)
	digits(out[1:5], y, 4)
	digits(out[6:8], int(mo), 2)
	digits(out[9:11], d, 2)
	digits(out[12:14], h, 2)
	digits(out[15:17], mi, 2)
	digits(out[18:20], sec, 2)
	return append(b, out...), nil
}

// appendFloat appends f as encoding/json does: the shortest representation,
// in exponent form only below 1e-6 or from 1e21.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("json: unsupported value: %v", f)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// measuresBuffers keeps encoding buffers between requests: a day at 1 min
// is about 80 KB of JSON.
var measuresBuffers = sync.Pool{New: func() any { return new([]byte) }}

// writeMeasures answers with the measures document.
func (s *Server) writeMeasures(w http.ResponseWriter, r *http.Request, mq storage.MeasureQuery, series []storage.Series) {
	buf := measuresBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= 4<<20 { // an outsized one is left to the collector
			measuresBuffers.Put(buf)
		}
	}()
	body, err := appendMeasures((*buf)[:0], mq, series)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	*buf = body
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
