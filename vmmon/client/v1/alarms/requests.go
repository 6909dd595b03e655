package alarms

import (
	"context"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Action is one thing an alarm does on a transition: a webhook (URL,
// optional Secret to sign with), a notification, or an instance_action
// (Action pause, stop, suspend, shelve or reboot with RebootType).
type Action struct {
	Type       string `json:"type"`
	URL        string `json:"url,omitempty"`
	Secret     string `json:"secret,omitempty"`
	Action     string `json:"action,omitempty"`
	RebootType string `json:"reboot_type,omitempty"`
}

// CreateOptsBuilder builds the body of Create.
type CreateOptsBuilder interface {
	ToAlarmCreateMap() (map[string]any, error)
}

// CreateOpts is a new alarm. Exactly one of InstanceID, ProjectID and Host
// names what it watches; zero Window, EvaluationPeriods, Aggregation and
// Severity take vmmon's defaults (60 s, 1, mean, low).
type CreateOpts struct {
	Name              string   `json:"name" required:"true"`
	Description       string   `json:"description,omitempty"`
	Metric            string   `json:"metric" required:"true"`
	InstanceID        string   `json:"instance_id,omitempty"`
	ProjectID         string   `json:"project_id,omitempty"`
	Host              string   `json:"host,omitempty"`
	Aggregation       string   `json:"aggregation,omitempty"`
	Window            int      `json:"window,omitempty"`
	Comparison        string   `json:"comparison" required:"true"`
	Threshold         float64  `json:"threshold"`
	EvaluationPeriods int      `json:"evaluation_periods,omitempty"`
	Severity          string   `json:"severity,omitempty"`
	Enabled           *bool    `json:"enabled,omitempty"`
	RepeatActions     bool     `json:"repeat_actions,omitempty"`
	Actions           []Action `json:"actions,omitempty"`
}

// ToAlarmCreateMap is the request's body.
func (o CreateOpts) ToAlarmCreateMap() (map[string]any, error) {
	return gophercloud.BuildRequestBody(o, "")
}

// Create makes an alarm; it starts in insufficient_data.
func Create(ctx context.Context, c *gophercloud.ServiceClient, opts CreateOptsBuilder) (r CreateResult) {
	body, err := opts.ToAlarmCreateMap()
	if err != nil {
		r.Err = err
		return
	}
	resp, err := c.Post(ctx, rootURL(c), body, &r.Body, &gophercloud.RequestOpts{OkCodes: []int{201}})
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// Get shows an alarm with its state.
func Get(ctx context.Context, c *gophercloud.ServiceClient, id string) (r GetResult) {
	resp, err := c.Get(ctx, resourceURL(c, id), &r.Body, nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// UpdateOptsBuilder builds the body of Update.
type UpdateOptsBuilder interface {
	ToAlarmUpdateMap() (map[string]any, error)
}

// UpdateOpts changes the fields that are set; Actions, when set, replace
// the alarm's (webhook secrets must be given again). The target cannot
// change.
type UpdateOpts struct {
	Name              *string   `json:"name,omitempty"`
	Description       *string   `json:"description,omitempty"`
	Metric            *string   `json:"metric,omitempty"`
	Aggregation       *string   `json:"aggregation,omitempty"`
	Window            *int      `json:"window,omitempty"`
	Comparison        *string   `json:"comparison,omitempty"`
	Threshold         *float64  `json:"threshold,omitempty"`
	EvaluationPeriods *int      `json:"evaluation_periods,omitempty"`
	Severity          *string   `json:"severity,omitempty"`
	Enabled           *bool     `json:"enabled,omitempty"`
	RepeatActions     *bool     `json:"repeat_actions,omitempty"`
	Actions           *[]Action `json:"actions,omitempty"`
}

// ToAlarmUpdateMap is the request's body.
func (o UpdateOpts) ToAlarmUpdateMap() (map[string]any, error) {
	return gophercloud.BuildRequestBody(o, "")
}

// Update changes an alarm (PATCH).
func Update(ctx context.Context, c *gophercloud.ServiceClient, id string, opts UpdateOptsBuilder) (r UpdateResult) {
	body, err := opts.ToAlarmUpdateMap()
	if err != nil {
		r.Err = err
		return
	}
	resp, err := c.Patch(ctx, resourceURL(c, id), body, &r.Body, &gophercloud.RequestOpts{OkCodes: []int{200}})
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// Delete deletes an alarm and its history.
func Delete(ctx context.Context, c *gophercloud.ServiceClient, id string) (r DeleteResult) {
	resp, err := c.Delete(ctx, resourceURL(c, id), nil)
	_, r.Header, r.Err = gophercloud.ParseResponse(resp, err)
	return
}

// ListOptsBuilder builds the query of List.
type ListOptsBuilder interface {
	ToAlarmListQuery() (string, error)
}

// ListOpts filters and pages a listing (ProjectID and AllProjects for
// cloud readers).
type ListOpts struct {
	ProjectID   string `q:"project_id"`
	AllProjects bool   `q:"all_projects"`
	InstanceID  string `q:"instance_id"`
	Limit       int    `q:"limit"`
	Marker      string `q:"marker"`
}

// ToAlarmListQuery formats the options as a query string.
func (o ListOpts) ToAlarmListQuery() (string, error) {
	q, err := gophercloud.BuildQueryString(o)
	if err != nil {
		return "", err
	}
	return q.String(), nil
}

// List pages through alarms, by id.
func List(c *gophercloud.ServiceClient, opts ListOptsBuilder) pagination.Pager {
	url := rootURL(c)
	if opts != nil {
		q, err := opts.ToAlarmListQuery()
		if err != nil {
			return pagination.Pager{Err: err}
		}
		url += q
	}
	return pagination.NewPager(c, url, func(r pagination.PageResult) pagination.Page {
		return AlarmPage{pagination.LinkedPageBase{PageResult: r}}
	})
}

// HistoryOpts pages an alarm's history.
type HistoryOpts struct {
	Limit  int    `q:"limit"`
	Marker string `q:"marker"`
}

// History pages through an alarm's history, newest first.
func History(c *gophercloud.ServiceClient, id string, opts *HistoryOpts) pagination.Pager {
	url := historyURL(c, id)
	if opts != nil {
		q, err := gophercloud.BuildQueryString(*opts)
		if err != nil {
			return pagination.Pager{Err: err}
		}
		url += q.String()
	}
	return pagination.NewPager(c, url, func(r pagination.PageResult) pagination.Page {
		return HistoryPage{pagination.LinkedPageBase{PageResult: r}}
	})
}
