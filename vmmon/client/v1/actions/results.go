package actions

import (
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Action is a control action and how it went.
type Action struct {
	ID            string    `json:"id"`
	InstanceID    string    `json:"instance_id"`
	ProjectID     string    `json:"project_id"`
	UserID        string    `json:"user_id"`
	Action        string    `json:"action"`
	Params        string    `json:"params"` // JSON
	Status        string    `json:"status"` // pending, succeeded, failed, unknown
	RequestID     string    `json:"request_id"`
	NovaRequestID string    `json:"nova_request_id"`
	Message       string    `json:"message"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

type actionResult struct{ gophercloud.Result }

// Extract returns the action.
func (r actionResult) Extract() (*Action, error) {
	var s struct {
		Action Action `json:"action"`
	}
	err := r.ExtractInto(&s)
	return &s.Action, err
}

// CreateResult is the answer to Create; its Location header names the
// action.
type CreateResult struct{ actionResult }

// GetResult is the answer to Get.
type GetResult struct{ actionResult }

// ActionPage is one page of actions.
type ActionPage struct{ pagination.LinkedPageBase }

// ResourceKey names the list of a page's body.
func (p ActionPage) ResourceKey() string { return "actions" }

// IsEmpty reports whether the page holds no action.
func (p ActionPage) IsEmpty() (bool, error) {
	if p.StatusCode == 204 {
		return true, nil
	}
	as, err := ExtractActions(p)
	return len(as) == 0, err
}

// NextPageURL follows the rel=next link of actions_links.
func (p ActionPage) NextPageURL() (string, error) {
	var s struct {
		Links []gophercloud.Link `json:"actions_links"`
	}
	if err := p.ExtractInto(&s); err != nil {
		return "", err
	}
	return gophercloud.ExtractNextURL(s.Links)
}

// ExtractActions returns the actions of a page.
func ExtractActions(r pagination.Page) ([]Action, error) {
	var s struct {
		Actions []Action `json:"actions"`
	}
	err := (r.(ActionPage)).ExtractInto(&s)
	return s.Actions, err
}
