package actions

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// CreateOptsBuilder builds the body and headers of Create.
type CreateOptsBuilder interface {
	ToActionCreateMap() (map[string]any, error)
	ToActionCreateHeaders() map[string]string
}

// CreateOpts is an action: start, stop, reboot (Type SOFT or HARD), pause,
// unpause, suspend, resume, lock (optional Reason), unlock, shelve,
// unshelve.
type CreateOpts struct {
	Action string `json:"action" required:"true"`
	Type   string `json:"type,omitempty"`
	Reason string `json:"reason,omitempty"`
	// IdempotencyKey makes a retry safe: the same key from the same user
	// and project on the same instance within a day returns the first
	// action.
	IdempotencyKey string `json:"-"`
}

// ToActionCreateMap is the request's body.
func (o CreateOpts) ToActionCreateMap() (map[string]any, error) {
	return gophercloud.BuildRequestBody(o, "")
}

// ToActionCreateHeaders is the request's Idempotency-Key, if any.
func (o CreateOpts) ToActionCreateHeaders() map[string]string {
	if o.IdempotencyKey == "" {
		return nil
	}
	return map[string]string{"Idempotency-Key": o.IdempotencyKey}
}

// Create asks for an action on an instance (202: it is pending).
func Create(ctx context.Context, c *gophercloud.ServiceClient, instanceID string, opts CreateOptsBuilder) (r CreateResult) {
	body, err := opts.ToActionCreateMap()
	if err != nil {
		r.Err = err
		return
	}
	resp, err := c.Post(ctx, listURL(c, instanceID), body, &r.Body, &gophercloud.RequestOpts{
		OkCodes: []int{202}, MoreHeaders: opts.ToActionCreateHeaders()})
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// Get shows one action and its status.
func Get(ctx context.Context, c *gophercloud.ServiceClient, instanceID, id string) (r GetResult) {
	resp, err := c.Get(ctx, getURL(c, instanceID, id), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// ListOptsBuilder builds the query of List.
type ListOptsBuilder interface {
	ToActionListQuery() (string, error)
}

// ListOpts pages a listing.
type ListOpts struct {
	Limit  int    `q:"limit"`
	Marker string `q:"marker"`
}

// ToActionListQuery formats the options as a query string.
func (o ListOpts) ToActionListQuery() (string, error) {
	q, err := gophercloud.BuildQueryString(o)
	if err != nil {
		return "", err
	}
	return q.String(), nil
}

// List pages through an instance's actions, oldest first.
func List(c *gophercloud.ServiceClient, instanceID string, opts ListOptsBuilder) pagination.Pager {
	url := listURL(c, instanceID)
	if opts != nil {
		q, err := opts.ToActionListQuery()
		if err != nil {
			return pagination.Pager{Err: err}
		}
		url += q
	}
	return pagination.NewPager(c, url, func(r pagination.PageResult) pagination.Page {
		return ActionPage{pagination.LinkedPageBase{PageResult: r}}
	})
}
