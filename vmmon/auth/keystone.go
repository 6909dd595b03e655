package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
)

// KeystoneOptions say how the vmmon service user reaches Keystone.
type KeystoneOptions struct {
	AuthURL           string // identity v3, e.g. http://keystone:5000/v3
	Username          string
	Password          string
	UserDomainName    string
	ProjectName       string
	ProjectDomainName string
	CAFile            string
	Insecure          bool
	// Region picks the caller's compute endpoint; empty takes any.
	Region string
	// CacheTime bounds how long a validated token is trusted without asking
	// Keystone again; never past the token's own expiry.
	CacheTime time.Duration
	Now       func() time.Time
}

type cached struct {
	caller *Caller
	until  time.Time
}

// Keystone validates tokens with GET /v3/auth/tokens as the service user.
type Keystone struct {
	opts     KeystoneOptions
	provider *gophercloud.ProviderClient
	identity *gophercloud.ServiceClient

	mu    sync.Mutex
	cache map[string]cached
}

// renewBefore is how long before its expiry the service user's token is renewed.
const renewBefore = 2 * time.Minute

// NewKeystone authenticates the service user.
func NewKeystone(ctx context.Context, o KeystoneOptions) (*Keystone, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	provider, err := openstack.NewClient(o.AuthURL)
	if err != nil {
		return nil, fmt.Errorf("[keystone_authtoken] auth_url %q: %w", o.AuthURL, err)
	}
	if o.CAFile != "" || o.Insecure {
		cfg := &tls.Config{InsecureSkipVerify: o.Insecure} //nolint:gosec // the operator asked for it
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("[keystone_authtoken] cafile: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			cfg.RootCAs.AppendCertsFromPEM(pem)
		}
		provider.HTTPClient = http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
	} else {
		provider.HTTPClient = http.Client{Timeout: 30 * time.Second}
	}
	ao := gophercloud.AuthOptions{
		IdentityEndpoint: o.AuthURL, Username: o.Username, Password: o.Password, DomainName: o.UserDomainName,
		Scope:       &gophercloud.AuthScope{ProjectName: o.ProjectName, DomainName: o.ProjectDomainName},
		AllowReauth: true,
	}
	if err := openstack.Authenticate(ctx, provider, ao); err != nil {
		if isUnreachable(err) {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return nil, fmt.Errorf("authenticating the vmmon service user %q at %s: %w", o.Username, o.AuthURL, err)
	}
	identity, err := openstack.NewIdentityV3(provider, gophercloud.EndpointOpts{})
	if err != nil {
		return nil, err
	}
	identity.Endpoint = gophercloud.NormalizeURL(o.AuthURL)
	return &Keystone{opts: o, provider: provider, identity: identity, cache: map[string]cached{}}, nil
}

func isUnreachable(err error) bool {
	var ue gophercloud.ErrUnexpectedResponseCode
	return !errors.As(err, &ue) || ue.Actual >= 500
}

// renew re-authenticates the service user before its token expires.
func (k *Keystone) renew(ctx context.Context) {
	res, ok := k.provider.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return
	}
	tok, err := res.ExtractToken()
	if err != nil || k.opts.Now().Add(renewBefore).Before(tok.ExpiresAt) {
		return
	}
	_ = k.provider.Reauthenticate(ctx, k.provider.Token())
}

// Validate returns the caller of a token, from the cache when it is fresh.
func (k *Keystone) Validate(ctx context.Context, token string) (*Caller, error) {
	if token == "" {
		return nil, ErrInvalidToken
	}
	now := k.opts.Now()
	k.mu.Lock()
	if c, ok := k.cache[token]; ok && now.Before(c.until) {
		k.mu.Unlock()
		return c.caller, nil
	}
	k.mu.Unlock()
	k.renew(ctx)
	res := tokens.Get(ctx, k.identity, token)
	if res.Err != nil {
		var ue gophercloud.ErrUnexpectedResponseCode
		switch {
		case gophercloud.ResponseCodeIs(res.Err, http.StatusNotFound), gophercloud.ResponseCodeIs(res.Err, http.StatusUnauthorized):
			return nil, ErrInvalidToken
		case errors.As(res.Err, &ue) && ue.Actual < 500:
			return nil, fmt.Errorf("%w: Keystone refused to validate a token for the vmmon service user (%d): give it the service role", ErrUnavailable, ue.Actual)
		default:
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, res.Err)
		}
	}
	tok, err := res.ExtractToken()
	if err != nil {
		return nil, fmt.Errorf("%w: reading Keystone's answer: %w", ErrUnavailable, err)
	}
	if !now.Before(tok.ExpiresAt) {
		return nil, ErrInvalidToken
	}
	user, _ := res.ExtractUser()
	roles, _ := res.ExtractRoles()
	c := &Caller{ExpiresAt: tok.ExpiresAt, Token: token}
	if user != nil {
		c.UserID, c.UserName, c.DomainID = user.ID, user.Name, user.Domain.ID
	}
	if project, err := res.ExtractProject(); err == nil && project != nil {
		c.ProjectID, c.ProjectName = project.ID, project.Name
	}
	var body struct {
		Token struct {
			System map[string]any `json:"system"`
		} `json:"token"`
	}
	if res.ExtractInto(&body) == nil && body.Token.System["all"] == true {
		c.SystemScope = "all"
	}
	for _, r := range roles {
		c.Roles = append(c.Roles, r.Name)
	}
	if cat, err := res.ExtractServiceCatalog(); err == nil && cat != nil {
		for _, e := range cat.Entries {
			if e.Type != "compute" {
				continue
			}
			for _, ep := range e.Endpoints {
				if ep.Interface == "public" && (k.opts.Region == "" || ep.Region == k.opts.Region) {
					c.ComputeURL = ep.URL
				}
			}
		}
	}
	until := now.Add(k.opts.CacheTime)
	if tok.ExpiresAt.Before(until) {
		until = tok.ExpiresAt
	}
	k.mu.Lock()
	if len(k.cache) > 10000 {
		for t, e := range k.cache {
			if !now.Before(e.until) {
				delete(k.cache, t)
			}
		}
	}
	k.cache[token] = cached{caller: c, until: until}
	k.mu.Unlock()
	return c, nil
}

// RedirectForTest points token validation at another URL (tests simulate an
// unreachable Keystone with it).
func RedirectForTest(k *Keystone, url string) { k.identity.Endpoint = url }

// ServiceToken returns the vmmon service user's current token.
func (k *Keystone) ServiceToken() string { return k.provider.Token() }
