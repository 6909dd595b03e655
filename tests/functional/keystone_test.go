//go:build functional

package functional

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"opendev.org/openstack/vmmon/tests/bedenv"
)

func keystoneLogin(t *testing.T, env bedenv.Env, user, project string) *gophercloud.ProviderClient {
	t.Helper()
	p, err := openstack.AuthenticatedClient(context.Background(), gophercloud.AuthOptions{
		IdentityEndpoint: env.Get(t, "VMMON_KEYSTONE_URL"),
		Username:         user,
		Password:         env.Get(t, "VMMON_TEST_PASSWORD"),
		DomainName:       "Default",
		Scope:            &gophercloud.AuthScope{ProjectName: project, DomainName: "Default"},
	})
	if err != nil {
		t.Fatalf("login as %s in %s: %v", user, project, err)
	}
	return p
}

// gophercloud gets a token for the vmmon service user and, with it, validates a
// project member's token (GET /v3/auth/tokens with X-Subject-Token), seeing
// the member's project and roles; a bogus token is refused with 404.
func TestKeystoneValidateToken(t *testing.T) {
	env := bedenv.Load(t)
	ctx := context.Background()
	service := keystoneLogin(t, env, "vmmon", "service")
	member := keystoneLogin(t, env, "demo-member", "demo")
	reader := keystoneLogin(t, env, "demo-reader", "demo")

	ident, err := openstack.NewIdentityV3(service, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		token     string
		user      string
		wantRoles []string
	}{
		{member.Token(), "demo-member", []string{"member", "reader"}},
		{reader.Token(), "demo-reader", []string{"reader"}},
	}
	for _, c := range cases {
		res := tokens.Get(ctx, ident, c.token)
		user, err := res.ExtractUser()
		if err != nil {
			t.Fatalf("validating %s's token: %v", c.user, err)
		}
		project, err := res.ExtractProject()
		if err != nil {
			t.Fatal(err)
		}
		roles, err := res.ExtractRoles()
		if err != nil {
			t.Fatal(err)
		}
		tok, err := res.ExtractToken()
		if err != nil {
			t.Fatal(err)
		}
		if user.Name != c.user || project.ID != env.Get(t, "VMMON_PROJECT_DEMO_ID") || tok.ExpiresAt.IsZero() {
			t.Errorf("%s: user %q project %q expires %v", c.user, user.Name, project.ID, tok.ExpiresAt)
		}
		have := map[string]bool{}
		for _, r := range roles {
			have[r.Name] = true
		}
		for _, r := range c.wantRoles {
			if !have[r] {
				t.Errorf("%s: roles %v lack %s (implied roles)", c.user, roles, r)
			}
		}
	}
	err = tokens.Get(ctx, ident, "gAAAAABbogus").Err
	if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("bogus token: %v; want 404", err)
	}
	// A member may not validate someone else's token.
	identAsMember, _ := openstack.NewIdentityV3(member, gophercloud.EndpointOpts{})
	err = tokens.Get(ctx, identAsMember, reader.Token()).Err
	var unexpected gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &unexpected) || unexpected.Actual != http.StatusForbidden {
		t.Errorf("member validating another's token: %v; want 403", err)
	}
}
