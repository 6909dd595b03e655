package aggregates

import (
	"context"
	"strconv"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// ListOptsBuilder builds the query of List and Top.
type ListOptsBuilder interface {
	ToAggregateListQuery() (string, error)
}

// ListOpts says what to fold and how. Metric is required.
type ListOpts struct {
	Metric      string
	Aggregation string // mean (default), min, max, sum, last, count
	GroupBy     string // instance (default), host, project
	// Start and End bound the range; without them, the latest values.
	Start, End time.Time
	Ascending  bool // from the lowest value (default: the highest)
	Limit      int
	Marker     string
	// Filters, as on instance listings.
	ProjectID   string
	AllProjects bool
	Host        string
	State       string
	Flavor      string
}

// listQuery is ListOpts as the API's query parameters.
type listQuery struct {
	Metric      string `q:"metric"`
	Aggregation string `q:"aggregation"`
	GroupBy     string `q:"group_by"`
	Start       string `q:"start"`
	End         string `q:"end"`
	Sort        string `q:"sort"`
	Limit       int    `q:"limit"`
	Marker      string `q:"marker"`
	ProjectID   string `q:"project_id"`
	AllProjects bool   `q:"all_projects"`
	Host        string `q:"host"`
	State       string `q:"state"`
	Flavor      string `q:"flavor"`
	Granularity string `q:"granularity"`
}

func (o ListOpts) query() listQuery {
	q := listQuery{Metric: o.Metric, Aggregation: o.Aggregation, GroupBy: o.GroupBy, Limit: o.Limit, Marker: o.Marker,
		ProjectID: o.ProjectID, AllProjects: o.AllProjects, Host: o.Host, State: o.State, Flavor: o.Flavor}
	if !o.Start.IsZero() {
		q.Start = o.Start.UTC().Format(time.RFC3339)
	}
	if !o.End.IsZero() {
		q.End = o.End.UTC().Format(time.RFC3339)
	}
	if o.Ascending {
		q.Sort = "value:asc"
	}
	return q
}

func format(q listQuery) (string, error) {
	u, err := gophercloud.BuildQueryString(q)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// ToAggregateListQuery formats the options as a query string, times in UTC.
func (o ListOpts) ToAggregateListQuery() (string, error) { return format(o.query()) }

// MeasuresOptsBuilder builds the query of ListMeasures.
type MeasuresOptsBuilder interface {
	ToAggregateMeasuresQuery() (string, error)
}

// MeasuresOpts asks for series: a range (default the last hour) in buckets
// of Granularity seconds (a multiple of 60; default 60).
type MeasuresOpts struct {
	ListOpts
	Granularity int
}

// ToAggregateMeasuresQuery formats the options as a query string.
func (o MeasuresOpts) ToAggregateMeasuresQuery() (string, error) {
	q := o.query()
	if o.Granularity > 0 {
		q.Granularity = strconv.Itoa(o.Granularity)
	}
	return format(q)
}

// withQuery appends a builder's query to url.
func withQuery(url string, build func() (string, error)) (string, error) {
	q, err := build()
	return url + q, err
}

// List pages through the groups, by value, following aggregates_links.
func List(c *gophercloud.ServiceClient, opts ListOptsBuilder) pagination.Pager {
	url := listURL(c)
	if opts != nil {
		var err error
		if url, err = withQuery(url, opts.ToAggregateListQuery); err != nil {
			return pagination.Pager{Err: err}
		}
	}
	return pagination.NewPager(c, url, func(r pagination.PageResult) pagination.Page {
		return AggregatePage{pagination.LinkedPageBase{PageResult: r}}
	})
}

// Top returns the first page of groups only: the top Limit.
func Top(ctx context.Context, c *gophercloud.ServiceClient, opts ListOptsBuilder) (r TopResult) {
	url := listURL(c)
	if opts != nil {
		if url, r.Err = withQuery(url, opts.ToAggregateListQuery); r.Err != nil {
			return
		}
	}
	resp, err := c.Get(ctx, url, &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// ListMeasures pages through the groups' series, following
// aggregates_links.
func ListMeasures(c *gophercloud.ServiceClient, opts MeasuresOptsBuilder) pagination.Pager {
	url := measuresURL(c)
	if opts != nil {
		var err error
		if url, err = withQuery(url, opts.ToAggregateMeasuresQuery); err != nil {
			return pagination.Pager{Err: err}
		}
	}
	return pagination.NewPager(c, url, func(r pagination.PageResult) pagination.Page {
		return SeriesPage{AggregatePage{pagination.LinkedPageBase{PageResult: r}}}
	})
}
