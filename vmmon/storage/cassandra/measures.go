package cassandra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gocql/gocql"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Measures answers a measures query. A query of one series reads its points
// while checking that the instance has it.
func (s *Store) Measures(ctx context.Context, q storage.MeasureQuery) ([]storage.Series, error) {
	base, err := q.Validate()
	if err != nil {
		return nil, err
	}
	var (
		infos     []storage.MetricInfo
		early     []storage.Point
		earlyErr  error
		lookupErr error
	)
	if q.AllDevices {
		infos, lookupErr = s.seriesOf(ctx, q)
	} else {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			early, earlyErr = s.points(ctx, q, base, q.Device)
		}()
		infos, lookupErr = s.seriesOf(ctx, q)
		wg.Wait()
	}
	if lookupErr != nil {
		return nil, lookupErr
	}
	out := make([]storage.Series, 0, len(infos))
	for _, info := range infos {
		points, err := early, earlyErr
		if q.AllDevices {
			points, err = s.points(ctx, q, base, info.Device)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, storage.Series{Device: info.Device, Unit: info.Unit, Points: points})
	}
	return out, nil
}

// points reads the points of one series at the stored resolution base.
func (s *Store) points(ctx context.Context, q storage.MeasureQuery, base time.Duration, device string) ([]storage.Point, error) {
	if base != storage.Raw {
		p := minutesPacked
		if base == storage.Hour {
			p = hoursPacked
		}
		buckets, err := s.readPacked(ctx, p, q.InstanceID, q.Metric, device, q.Start.Truncate(q.Granularity), q.End)
		if err != nil {
			return nil, err
		}
		return storage.Regroup(buckets, q.Granularity, q.Aggregation, q.Start, q.End), nil
	}
	out, err := perPartition(ctx, partitions(q.Start, q.End, false), func(ctx context.Context, d time.Time) ([]storage.Point, error) {
		iter := s.session.Query(`SELECT ts, value FROM `+s.t("measures_raw")+` WHERE instance_id = ? AND metric = ? AND device = ? AND day = ? AND ts >= ? AND ts < ?`,
			q.InstanceID, q.Metric, device, d, q.Start, q.End).WithContext(ctx).Iter()
		var (
			out []storage.Point
			p   storage.Point
		)
		for iter.Scan(&p.Time, &p.Value) {
			p.Time = p.Time.UTC()
			out = append(out, p)
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("reading raw points: %w", err)
		}
		return out, nil
	})
	if out == nil && err == nil {
		out = []storage.Point{} // never null in JSON
	}
	return out, err
}

func (s *Store) seriesOf(ctx context.Context, q storage.MeasureQuery) ([]storage.MetricInfo, error) {
	all, err := s.metrics(ctx, q.InstanceID, q.Metric)
	if err != nil {
		return nil, err
	}
	return q.Select(all)
}

// latestValue is a latest-table entry.
type latestValue struct {
	Unit  string    `json:"u"`
	Kind  string    `json:"k"`
	Time  time.Time `json:"t"`
	Value float64   `json:"v"`
}

func encodeLatest(sm storage.Sample) string {
	b, _ := json.Marshal(latestValue{Unit: sm.Unit, Kind: sm.Kind, Time: sm.Time.UTC(), Value: sm.Value})
	return string(b)
}

func (s *Store) metrics(ctx context.Context, instanceID, metric string) ([]storage.MetricInfo, error) {
	var series map[string]string
	err := s.session.Query(`SELECT series FROM `+s.t("latest")+` WHERE instance_id = ?`, instanceID).WithContext(ctx).Scan(&series)
	if err != nil && !errors.Is(err, gocql.ErrNotFound) {
		return nil, fmt.Errorf("reading metrics of %s: %w", instanceID, err)
	}
	out := []storage.MetricInfo{}
	for k, v := range series {
		name, device, _ := strings.Cut(k, "\x00")
		if metric != "" && name != metric {
			continue
		}
		var lv latestValue
		if err := json.Unmarshal([]byte(v), &lv); err != nil {
			return nil, fmt.Errorf("metrics of %s: %w", instanceID, err)
		}
		out = append(out, storage.MetricInfo{Name: name, Device: device, Unit: lv.Unit, Kind: lv.Kind, LastTime: lv.Time.UTC(), LastValue: lv.Value})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Device < out[j].Device
	})
	return out, nil
}

// Metrics lists an instance's metrics with their latest values.
func (s *Store) Metrics(ctx context.Context, instanceID string) ([]storage.MetricInfo, error) {
	return s.metrics(ctx, instanceID, "")
}
