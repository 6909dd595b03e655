package versions

import "github.com/gophercloud/gophercloud/v2"

// MediaType is one media type a version speaks.
type MediaType struct {
	Base string `json:"base"`
	Type string `json:"type"`
}

// Version is one version of the API; microversions run from MinVersion to
// MaxVersion (send "OpenStack-API-Version: vm-monitor <x.y>").
type Version struct {
	ID         string             `json:"id"`
	Status     string             `json:"status"` // CURRENT, SUPPORTED, DEPRECATED
	MinVersion string             `json:"min_version"`
	MaxVersion string             `json:"max_version"`
	Updated    string             `json:"updated"`
	Links      []gophercloud.Link `json:"links"`
	MediaTypes []MediaType        `json:"media-types"`
}

// ListResult is the answer to List.
type ListResult struct{ gophercloud.Result }

// Extract returns the versions.
func (r ListResult) Extract() ([]Version, error) {
	var s struct {
		Versions []Version `json:"versions"`
	}
	err := r.ExtractInto(&s)
	return s.Versions, err
}

// GetResult is the answer to Get.
type GetResult struct{ gophercloud.Result }

// Extract returns the version.
func (r GetResult) Extract() (*Version, error) {
	var s struct {
		Version Version `json:"version"`
	}
	err := r.ExtractInto(&s)
	return &s.Version, err
}
