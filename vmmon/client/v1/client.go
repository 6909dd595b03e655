// Package v1 is the Go client of vmmon's /v1 API, in gophercloud's shape:
// NewMonitorV1 finds vmmon in the Keystone catalog (service type
// vm-monitor), and one package per resource holds its requests, results and
// URLs: instances, metrics, measures, events, actions, hosts, aggregates
// (fleet views), stream (live samples) and versions (discovery). Each has a
// testing package of fixtures; testhelper is their fake API.
//
// Example to list one's instances:
//
//	provider, err := openstack.AuthenticatedClient(ctx, authOpts)
//	client, err := v1.NewMonitorV1(provider, gophercloud.EndpointOpts{Region: "RegionOne"})
//	pages, err := instances.List(client, instances.ListOpts{}).AllPages(ctx)
//	all, err := instances.ExtractInstances(pages)
package v1

import (
	"strings"

	"github.com/gophercloud/gophercloud/v2"
)

// ServiceType is vmmon's type in the catalog.
const ServiceType = "vm-monitor"

// NewMonitorV1 returns a client of vmmon's v1 API found in the catalog.
func NewMonitorV1(provider *gophercloud.ProviderClient, eo gophercloud.EndpointOpts) (*gophercloud.ServiceClient, error) {
	eo.ApplyDefaults(ServiceType)
	url, err := provider.EndpointLocator(eo)
	if err != nil {
		return nil, err
	}
	url = strings.TrimSuffix(url, "/")
	if !strings.HasSuffix(url, "/v1") {
		url += "/v1"
	}
	return &gophercloud.ServiceClient{ProviderClient: provider, Endpoint: url + "/", ResourceBase: url + "/", Type: ServiceType}, nil
}
