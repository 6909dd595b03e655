package events

import (
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// ListOptsBuilder builds the query of List.
type ListOptsBuilder interface {
	ToEventListQuery() (string, error)
}

// ListOpts bounds the timeline; zero times leave that side open.
type ListOpts struct {
	Start, End time.Time
	Limit      int
	Marker     string // from the previous page's next link
}

// ToEventListQuery formats the options as a query string, times in UTC.
func (o ListOpts) ToEventListQuery() (string, error) {
	q := struct {
		Start  string `q:"start"`
		End    string `q:"end"`
		Limit  int    `q:"limit"`
		Marker string `q:"marker"`
	}{Limit: o.Limit, Marker: o.Marker}
	if !o.Start.IsZero() {
		q.Start = o.Start.UTC().Format(time.RFC3339Nano)
	}
	if !o.End.IsZero() {
		q.End = o.End.UTC().Format(time.RFC3339Nano)
	}
	u, err := gophercloud.BuildQueryString(q)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// List pages through an instance's events, following events_links.
func List(c *gophercloud.ServiceClient, instanceID string, opts ListOptsBuilder) pagination.Pager {
	url := listURL(c, instanceID)
	if opts != nil {
		q, err := opts.ToEventListQuery()
		if err != nil {
			return pagination.Pager{Err: err}
		}
		url += q
	}
	return pagination.NewPager(c, url, func(r pagination.PageResult) pagination.Page {
		return EventPage{pagination.LinkedPageBase{PageResult: r}}
	})
}
