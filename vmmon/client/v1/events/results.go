package events

import (
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// Event is one entry of the timeline.
type Event struct {
	InstanceID string    `json:"instance_id"`
	ID         string    `json:"id"`
	Time       time.Time `json:"timestamp"`
	Source     string    `json:"source"` // nova, libvirt, vmmon
	Type       string    `json:"event_type"`
	RequestID  string    `json:"request_id"`
	UserID     string    `json:"user_id"`
	ProjectID  string    `json:"project_id"`
	Host       string    `json:"host"` // for administrators
	Detail     string    `json:"detail"`
	Fault      string    `json:"fault"`
}

// EventPage is one page of events.
type EventPage struct{ pagination.LinkedPageBase }

// ResourceKey names the list of a page's body.
func (p EventPage) ResourceKey() string { return "events" }

// IsEmpty reports whether the page holds no event.
func (p EventPage) IsEmpty() (bool, error) {
	if p.StatusCode == 204 {
		return true, nil
	}
	es, err := ExtractEvents(p)
	return len(es) == 0, err
}

// NextPageURL follows the rel=next link of events_links.
func (p EventPage) NextPageURL() (string, error) {
	var s struct {
		Links []gophercloud.Link `json:"events_links"`
	}
	if err := p.ExtractInto(&s); err != nil {
		return "", err
	}
	return gophercloud.ExtractNextURL(s.Links)
}

// ExtractEvents returns the events of a page.
func ExtractEvents(r pagination.Page) ([]Event, error) {
	var s struct {
		Events []Event `json:"events"`
	}
	err := (r.(EventPage)).ExtractInto(&s)
	return s.Events, err
}
