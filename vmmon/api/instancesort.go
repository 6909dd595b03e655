package api

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// sortedInstances answers a listing with a sort: every instance of the
// query is read and sorted (then by id), metrics by their latest values
// (instances without one last, whichever the direction); the page starts
// after the marker's instance.
func (s *Server) sortedInstances(w http.ResponseWriter, r *http.Request, query storage.InstanceQuery, keys []sortKey) ([]storage.Instance, bool) {
	limit, marker := query.Limit, query.Marker
	query.Limit, query.Marker = 0, ""
	list, err := s.cfg.Store.ListInstances(r.Context(), query)
	if err != nil {
		s.deadlineOrInternal(w, r, err)
		return nil, false
	}
	values := map[string]map[string]float64{} // metric → instance → latest value
	for _, k := range keys {
		if slices.Contains(instanceSortKeys, k.key) || values[k.key] != nil {
			continue
		}
		all, err := s.cfg.Store.Aggregates(r.Context(), storage.AggregateQuery{Metric: k.key, Aggregation: "last",
			ProjectID: query.ProjectID, Host: query.Host, Now: s.cfg.Now().UTC()})
		if err != nil {
			s.deadlineOrInternal(w, r, err)
			return nil, false
		}
		values[k.key] = make(map[string]float64, len(all))
		for _, a := range all {
			values[k.key][a.InstanceID] = a.Value
		}
	}
	attr := func(in storage.Instance, key string) string {
		switch key {
		case "name":
			return strings.ToLower(in.Name)
		case "created_at":
			if in.CreatedAt == nil {
				return ""
			}
			return in.CreatedAt.UTC().Format(time.RFC3339Nano)
		case "updated_at":
			return in.UpdatedAt.UTC().Format(time.RFC3339Nano)
		case "state":
			return in.State
		case "host":
			return in.Host
		}
		return in.FlavorName
	}
	slices.SortStableFunc(list, func(a, b storage.Instance) int {
		for _, k := range keys {
			c := 0
			if vs := values[k.key]; vs != nil {
				va, oka := vs[a.ID]
				vb, okb := vs[b.ID]
				if oka != okb { // without a value: last
					if oka {
						return -1
					}
					return 1
				}
				c = cmp.Compare(va, vb)
			} else {
				c = strings.Compare(attr(a, k.key), attr(b, k.key))
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return strings.Compare(a.ID, b.ID)
	})
	if marker != "" {
		at := slices.IndexFunc(list, func(in storage.Instance) bool { return in.ID == marker })
		if at < 0 {
			fail(w, r, http.StatusBadRequest, "vmmon.query.bad_marker",
				fmt.Sprintf("marker %q is not an instance of this listing: start again without a marker.", marker))
			return nil, false
		}
		list = list[at+1:]
	}
	return list[:min(limit, len(list))], true
}
