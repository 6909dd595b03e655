package hosts

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// ListOptsBuilder builds the query of List.
type ListOptsBuilder interface {
	ToHostListQuery() (string, error)
}

// ListOpts pages a listing, by name.
type ListOpts struct {
	Limit  int    `q:"limit"`
	Marker string `q:"marker"` // the last host of the previous page
}

// ToHostListQuery formats the options as a query string.
func (o ListOpts) ToHostListQuery() (string, error) {
	q, err := gophercloud.BuildQueryString(o)
	if err != nil {
		return "", err
	}
	return q.String(), nil
}

// List pages through the hosts, following hosts_links.
func List(c *gophercloud.ServiceClient, opts ListOptsBuilder) pagination.Pager {
	url := listURL(c)
	if opts != nil {
		q, err := opts.ToHostListQuery()
		if err != nil {
			return pagination.Pager{Err: err}
		}
		url += q
	}
	return pagination.NewPager(c, url, func(r pagination.PageResult) pagination.Page {
		return HostPage{pagination.LinkedPageBase{PageResult: r}}
	})
}

// Get shows one host with its agent's last heartbeat.
func Get(ctx context.Context, c *gophercloud.ServiceClient, name string) (r GetResult) {
	resp, err := c.Get(ctx, getURL(c, name), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}
