// Package catalog registers vmmon in the Keystone catalog: the service of
// type vm-monitor and its public, internal and admin endpoints, idempotently.
package catalog

import (
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/endpoints"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/services"
)

// ServiceType and ServiceName are how vmmon appears in the catalog.
const (
	ServiceType = "vm-monitor"
	ServiceName = "vmmon"
)

// Registration is what to register.
type Registration struct {
	Region string
	// URLs by interface: public, internal, admin. Empty ones are skipped.
	URLs map[gophercloud.Availability]string
}

// Result says what Register did.
type Result struct {
	ServiceID string
	Created   []string // "service", "public", ...
	Updated   []string
	Unchanged []string
}

// Register creates the service and endpoints that are missing and corrects
// endpoint URLs that differ; running it again changes nothing.
func Register(ctx context.Context, identity *gophercloud.ServiceClient, r Registration) (Result, error) {
	var res Result
	pages, err := services.List(identity, services.ListOpts{ServiceType: ServiceType}).AllPages(ctx)
	if err != nil {
		return res, fmt.Errorf("listing services of type %s: %w", ServiceType, err)
	}
	svcs, err := services.ExtractServices(pages)
	if err != nil {
		return res, err
	}
	if len(svcs) > 0 {
		res.ServiceID = svcs[0].ID
		res.Unchanged = append(res.Unchanged, "service")
	} else {
		s, err := services.Create(ctx, identity, services.CreateOpts{Type: ServiceType, Name: ServiceName,
			Description: "vmmon: monitoring and control of virtual machines"}).Extract()
		if err != nil {
			return res, fmt.Errorf("creating the %s service: %w", ServiceType, err)
		}
		res.ServiceID = s.ID
		res.Created = append(res.Created, "service")
	}
	for _, iface := range []gophercloud.Availability{gophercloud.AvailabilityPublic, gophercloud.AvailabilityInternal, gophercloud.AvailabilityAdmin} {
		url := r.URLs[iface]
		if url == "" {
			continue
		}
		pages, err := endpoints.List(identity, endpoints.ListOpts{ServiceID: res.ServiceID, Availability: iface}).AllPages(ctx)
		if err != nil {
			return res, fmt.Errorf("listing %s endpoints: %w", iface, err)
		}
		eps, err := endpoints.ExtractEndpoints(pages)
		if err != nil {
			return res, err
		}
		var found *endpoints.Endpoint
		for i := range eps {
			if r.Region == "" || eps[i].Region == r.Region {
				found = &eps[i]
				break
			}
		}
		switch {
		case found == nil:
			if _, err := endpoints.Create(ctx, identity, endpoints.CreateOpts{Availability: iface, Region: r.Region, URL: url,
				ServiceID: res.ServiceID}).Extract(); err != nil {
				return res, fmt.Errorf("creating the %s endpoint: %w", iface, err)
			}
			res.Created = append(res.Created, string(iface))
		case found.URL != url:
			if _, err := endpoints.Update(ctx, identity, found.ID, endpoints.UpdateOpts{URL: url}).Extract(); err != nil {
				return res, fmt.Errorf("updating the %s endpoint: %w", iface, err)
			}
			res.Updated = append(res.Updated, string(iface))
		default:
			res.Unchanged = append(res.Unchanged, string(iface))
		}
	}
	return res, nil
}
