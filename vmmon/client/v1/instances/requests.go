package instances

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// ListOptsBuilder builds the query of a listing.
type ListOptsBuilder interface {
	ToInstanceListQuery() (string, error)
}

// ListOpts filters a listing.
type ListOpts struct {
	ProjectID   string `q:"project_id"`
	AllProjects bool   `q:"all_projects"`
	Host        string `q:"host"`
	State       string `q:"state"`
	Limit       int    `q:"limit"`
	Marker      string `q:"marker"`
}

// ToInstanceListQuery formats the options as a query string.
func (o ListOpts) ToInstanceListQuery() (string, error) {
	q, err := gophercloud.BuildQueryString(o)
	if err != nil {
		return "", err
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
