package instances

import (
	"context"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// ListOptsBuilder builds the query of a listing.
type ListOptsBuilder interface {
	ToInstanceListQuery() (string, error)
}

// ListOpts filters, sorts and pages a listing.
type ListOpts struct {
	ProjectID   string `q:"project_id"`
	AllProjects bool   `q:"all_projects"`
	Host        string `q:"host"` // administrators
	State       string `q:"state"`
	// Name keeps instances whose name holds it, whatever the case.
	Name   string `q:"name"`
	Flavor string `q:"flavor"`
	// ChangesSince keeps instances changed at or after it (deleted ones
	// too, unless Deleted is "false").
	ChangesSince time.Time `q:"-"`
	// Deleted is "true" for deleted instances only, "false" (the API's
	// default) to hide them.
	Deleted string `q:"deleted"`
	// Sort is key[:asc|desc][,key...]: name, created_at, updated_at, state,
	// flavor_name, host (administrators) or a metric by its latest value.
	Sort   string `q:"sort"`
	Limit  int    `q:"limit"`
	Marker string `q:"marker"`
}

// ToInstanceListQuery formats the options as a query string, times in UTC.
func (o ListOpts) ToInstanceListQuery() (string, error) {
	q, err := gophercloud.BuildQueryString(o)
	if err != nil {
		return "", err
	}
	if !o.ChangesSince.IsZero() {
		v := q.Query()
		v.Set("changes-since", o.ChangesSince.UTC().Format(time.RFC3339))
		q.RawQuery = v.Encode()
	}
	return q.String(), nil
}

// List pages through instances, following instances_links.
func List(c *gophercloud.ServiceClient, opts ListOptsBuilder) pagination.Pager {
	url := listURL(c)
	if opts != nil {
		q, err := opts.ToInstanceListQuery()
		if err != nil {
			return pagination.Pager{Err: err}
		}
		url += q
	}
	return pagination.NewPager(c, url, func(r pagination.PageResult) pagination.Page {
		return InstancePage{pagination.LinkedPageBase{PageResult: r}}
	})
}

// Get shows one instance.
func Get(ctx context.Context, c *gophercloud.ServiceClient, id string) (r GetResult) {
	resp, err := c.Get(ctx, getURL(c, id), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}
