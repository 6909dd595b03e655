package testing

import (
	"context"
	"net/http"
	"reflect"
	"testing"

	"github.com/gophercloud/gophercloud/v2"

	th "opendev.org/openstack/vmmon/vmmon/client/v1/testhelper"
	"opendev.org/openstack/vmmon/vmmon/client/v1/versions"
)

// Bodies as vmmon-api writes them.
const (
	listBody = `{"versions":[{"id":"v1.0","links":[{"href":"%s/v1/","rel":"self"}],"max_version":"1.0","media-types":[{"base":"application/json","type":"application/vnd.openstack.vm-monitor-v1+json"}],"min_version":"1.0","status":"CURRENT","updated":"2026-11-28T00:00:00Z"}]}
`
	getBody = `{"version":{"id":"v1.0","links":[{"href":"%s/v1/","rel":"self"}],"max_version":"1.0","media-types":[{"base":"application/json","type":"application/vnd.openstack.vm-monitor-v1+json"}],"min_version":"1.0","status":"CURRENT","updated":"2026-11-28T00:00:00Z"}}
`
)

func expected(base string) versions.Version {
	return versions.Version{ID: "v1.0", Status: "CURRENT", MinVersion: "1.0", MaxVersion: "1.0", Updated: "2026-11-28T00:00:00Z",
		Links:      []gophercloud.Link{{Href: base + "/v1/", Rel: "self"}},
		MediaTypes: []versions.MediaType{{Base: "application/json", Type: "application/vnd.openstack.vm-monitor-v1+json"}}}
}

func TestListAndGet(t *testing.T) {
	s := th.Setup(t)
	s.Handle(t, http.MethodGet, "/{$}", http.StatusOK, listBody)
	s.Handle(t, http.MethodGet, "/v1", http.StatusOK, getBody)
	all, err := versions.List(context.Background(), s.Client()).Extract()
	if err != nil || !reflect.DeepEqual(all, []versions.Version{expected(s.URL)}) {
		t.Errorf("versions: %+v, %v", all, err)
	}
	v, err := versions.Get(context.Background(), s.Client()).Extract()
	if err != nil || !reflect.DeepEqual(*v, expected(s.URL)) {
		t.Errorf("v1: %+v, %v", v, err)
	}
}
