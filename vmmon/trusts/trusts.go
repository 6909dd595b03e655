// Package trusts makes, uses and removes the Keystone trusts that let
// vmmon act on an instance on an alarm creator's behalf, as Aodh's trust
// actions do: vmmon-api makes a trust from the creator to the vmmon
// service user with the creator's own token when an alarm with an instance
// action is created; a collector later authenticates as the service user
// scoped to that trust (impersonating the creator) to call Nova; the trust
// is deleted with the alarm.
package trusts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/trusts"
)

// ErrRefused is Keystone refusing to make a trust for the caller (an
// application credential's token, a token that came from a trust, roles
// the caller does not hold).
var ErrRefused = errors.New("Keystone refused to make a trust")

// ErrInvalid is a trust Keystone no longer honours: deleted (revoked),
// expired, or its trustor gone or stripped of the delegated roles.
var ErrInvalid = errors.New("the alarm's Keystone trust is no longer valid")

// ErrUnavailable is Keystone out of reach or failing.
var ErrUnavailable = errors.New("Keystone is unavailable")

// Trustor is who delegates: a user with a token scoped to the project the
// trust is for.
type Trustor struct {
	UserID    string
	ProjectID string
	Roles     []string // role names to delegate
	Token     string   // the trustor's own token, which makes the trust
}

// Maker makes and deletes trusts with the trustor's own token.
type Maker struct {
	// IdentityURL is Keystone's identity v3 endpoint.
	IdentityURL string
	// Trustee returns the vmmon service user's id.
	Trustee func(ctx context.Context) (string, error)
	// HTTP carries the requests; nil is a client with a 30 s timeout.
	HTTP *http.Client
}

func (m *Maker) client(token string) *gophercloud.ServiceClient {
	p := &gophercloud.ProviderClient{}
	p.SetToken(token)
	if m.HTTP != nil {
		p.HTTPClient = *m.HTTP
	} else {
		p.HTTPClient = http.Client{Timeout: 30 * time.Second}
	}
	return &gophercloud.ServiceClient{ProviderClient: p, Endpoint: gophercloud.NormalizeURL(m.IdentityURL)}
}

// Create makes a trust from t to the service user on t's project with t's
// roles, impersonating t, without expiry (it lives as long as its alarm).
func (m *Maker) Create(ctx context.Context, t Trustor) (string, error) {
	if t.UserID == "" || t.ProjectID == "" || t.Token == "" {
		return "", fmt.Errorf("%w: a trust needs a user's token scoped to a project", ErrRefused)
	}
	trustee, err := m.Trustee(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: the vmmon service user's id: %w", ErrUnavailable, err)
	}
	opts := trusts.CreateOpts{TrustorUserID: t.UserID, TrusteeUserID: trustee, ProjectID: t.ProjectID, Impersonation: true}
	for _, r := range t.Roles {
		opts.Roles = append(opts.Roles, trusts.Role{Name: r})
	}
	tr, err := trusts.Create(ctx, m.client(t.Token), opts).Extract()
	if err != nil {
		return "", keystoneError(err, ErrRefused)
	}
	return tr.ID, nil
}

// Delete removes a trust with token (its trustor's, or an administrator's);
// a trust already gone is no error.
func (m *Maker) Delete(ctx context.Context, token, id string) error {
	err := trusts.Delete(ctx, m.client(token), id).ExtractErr()
	if err == nil || gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return nil
	}
	return keystoneError(err, ErrRefused)
}

// keystoneError sorts Keystone's answer: a refusal (4xx) wraps refused,
// anything else is ErrUnavailable.
func keystoneError(err error, refused error) error {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) && ue.Actual < 500 {
		return fmt.Errorf("%w (%d): %s", refused, ue.Actual, keystoneMessage(ue.Body))
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// keystoneMessage is the message of Keystone's error body, or the body.
func keystoneMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return strings.TrimSpace(string(body))
}

// Credentials are the vmmon service user's, which consume trusts.
type Credentials struct {
	AuthURL        string
	Username       string
	Password       string
	UserDomainName string
	// Region and Interface pick Nova's endpoint from the trust token's catalog.
	Region    string
	Interface string // public, internal or admin
	HTTP      *http.Client
}

// Session is what a trust gives: a token acting as the trustor, and Nova's
// endpoint from its catalog.
type Session struct {
	Token      string
	ComputeURL string
}

// Use authenticates the service user scoped to trust id: a token that acts
// as the trust's trustor on its project.
func (c *Credentials) Use(ctx context.Context, id string) (Session, error) {
	provider, err := openstack.NewClient(c.AuthURL)
	if err != nil {
		return Session{}, fmt.Errorf("[keystone_authtoken] auth_url %q: %w", c.AuthURL, err)
	}
	if c.HTTP != nil {
		provider.HTTPClient = *c.HTTP
	} else {
		provider.HTTPClient = http.Client{Timeout: 30 * time.Second}
	}
	err = openstack.Authenticate(ctx, provider, gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL, Username: c.Username,
		Password: c.Password, DomainName: c.UserDomainName, Scope: &gophercloud.AuthScope{TrustID: id}})
	if err != nil {
		return Session{}, keystoneError(err, ErrInvalid)
	}
	avail := gophercloud.Availability(c.Interface)
	if avail == "" {
		avail = gophercloud.AvailabilityPublic
	}
	compute, err := openstack.NewComputeV2(provider, gophercloud.EndpointOpts{Region: c.Region, Availability: avail})
	if err != nil {
		return Session{}, fmt.Errorf("Nova's %s endpoint in the trust's catalog: %w", avail, err)
	}
	return Session{Token: provider.Token(), ComputeURL: compute.Endpoint}, nil
}
