package auth

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"golang.org/x/sync/singleflight"
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
	// InvalidCacheTime is how long a token Keystone refused is refused
	// without asking again (default 10 s, at most CacheTime).
	InvalidCacheTime time.Duration
	// CacheSize bounds the number of tokens remembered (default 10,000).
	CacheSize int
	// Transport carries the requests to Keystone; nil is Go's default (or
	// one with CAFile/Insecure applied).
	Transport http.RoundTripper
	Now       func() time.Time
}

type cached struct {
	caller *Caller // nil: the token is invalid
	until  time.Time
}

// Keystone validates tokens with GET /v3/auth/tokens as the service user.
// Validated and refused tokens are cached (by their SHA-256), and
// concurrent validations of one token reach Keystone once.
type Keystone struct {
	opts     KeystoneOptions
	provider *gophercloud.ProviderClient
	identity *gophercloud.ServiceClient
	flight   singleflight.Group

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cached

	asked, hits, refused, failed atomic.Uint64
}

// KeystoneStats count the validator's work since it started.
type KeystoneStats struct {
	Asked     uint64 // validations Keystone answered or failed to
	CacheHits uint64 // answered from the cache (valid or refused tokens)
	Refused   uint64 // tokens found invalid (by Keystone or from the cache)
	Failed    uint64 // validations that failed for want of Keystone
}

// Stats returns the counts so far.
func (k *Keystone) Stats() KeystoneStats {
	return KeystoneStats{Asked: k.asked.Load(), CacheHits: k.hits.Load(), Refused: k.refused.Load(), Failed: k.failed.Load()}
}

// renewBefore is how long before its expiry the service user's token is renewed.
const renewBefore = 2 * time.Minute

// accessRulesVersion tells Keystone that vmmon enforces application
// credentials' access rules (without it Keystone refuses such tokens).
const accessRulesVersion = "1"

// NewKeystone authenticates the service user.
func NewKeystone(ctx context.Context, o KeystoneOptions) (*Keystone, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.InvalidCacheTime <= 0 {
		o.InvalidCacheTime = 10 * time.Second
	}
	o.InvalidCacheTime = min(o.InvalidCacheTime, max(o.CacheTime, time.Second))
	if o.CacheSize <= 0 {
		o.CacheSize = 10000
	}
	provider, err := openstack.NewClient(o.AuthURL)
	if err != nil {
		return nil, fmt.Errorf("[keystone_authtoken] auth_url %q: %w", o.AuthURL, err)
	}
	transport := o.Transport
	if transport == nil && (o.CAFile != "" || o.Insecure) {
		cfg := &tls.Config{InsecureSkipVerify: o.Insecure} //nolint:gosec // the operator asked for it
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("[keystone_authtoken] cafile: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			cfg.RootCAs.AppendCertsFromPEM(pem)
		}
		transport = &http.Transport{TLSClientConfig: cfg}
	}
	provider.HTTPClient = http.Client{Transport: transport, Timeout: 30 * time.Second}
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
	return &Keystone{opts: o, provider: provider, identity: identity, cache: map[[sha256.Size]byte]cached{}}, nil
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
	key := sha256.Sum256([]byte(token))
	if c, ok := k.lookup(key); ok {
		k.hits.Add(1)
		if c.caller == nil {
			k.refused.Add(1)
			return nil, ErrInvalidToken
		}
		return c.caller, nil
	}
	ch := k.flight.DoChan(string(key[:]), func() (any, error) {
		// Detached from the first caller's request: the others wait for it too.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		k.asked.Add(1)
		c, err := k.ask(ctx, token)
		switch {
		case err == nil:
			k.remember(key, c, k.opts.CacheTime)
		case errors.Is(err, ErrInvalidToken):
			k.refused.Add(1)
			k.remember(key, nil, k.opts.InvalidCacheTime)
		default:
			k.failed.Add(1)
		}
		return c, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Caller), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}

func (k *Keystone) lookup(key [sha256.Size]byte) (cached, bool) {
	now := k.opts.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.cache[key]
	if !ok || !now.Before(c.until) || (c.caller != nil && !now.Before(c.caller.ExpiresAt)) {
		return cached{}, false
	}
	return c, true
}

func (k *Keystone) remember(key [sha256.Size]byte, c *Caller, ttl time.Duration) {
	now := k.opts.Now()
	until := now.Add(ttl)
	if c != nil && c.ExpiresAt.Before(until) {
		until = c.ExpiresAt
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.cache) >= k.opts.CacheSize {
		for t, e := range k.cache {
			if !now.Before(e.until) {
				delete(k.cache, t)
			}
		}
		// Still full: forget arbitrary entries (Go's map order) to make room.
		for t := range k.cache {
			if len(k.cache) < k.opts.CacheSize {
				break
			}
			delete(k.cache, t)
		}
	}
	k.cache[key] = cached{caller: c, until: until}
}

// CacheLen is how many tokens are remembered, valid or not.
func (k *Keystone) CacheLen() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.cache)
}

// tokenBody is what vmmon reads of Keystone's token beyond gophercloud's
// extractors (ExtractInto reads inside "token").
type tokenBody struct {
	System map[string]any `json:"system"`
	Domain *struct {
		ID string `json:"id"`
	} `json:"domain"`
	AppCred *struct {
		ID          string       `json:"id"`
		AccessRules []AccessRule `json:"access_rules"`
	} `json:"application_credential"`
}

// ask validates token with Keystone.
func (k *Keystone) ask(ctx context.Context, token string) (*Caller, error) {
	k.renew(ctx)
	var res tokens.GetResult
	resp, err := k.identity.Get(ctx, k.identity.ServiceURL("auth", "tokens"), &res.Body, &gophercloud.RequestOpts{
		MoreHeaders: map[string]string{"X-Subject-Token": token, "OpenStack-Identity-Access-Rules": accessRulesVersion},
		OkCodes:     []int{200, 203},
	})
	_, res.Header, res.Err = gophercloud.ParseResponse(resp, err)
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
	if !k.opts.Now().Before(tok.ExpiresAt) {
		return nil, ErrInvalidToken
	}
	user, _ := res.ExtractUser()
	roles, _ := res.ExtractRoles()
	c := &Caller{ExpiresAt: tok.ExpiresAt, Token: token}
	if user != nil {
		c.UserID, c.UserName, c.UserDomainID = user.ID, user.Name, user.Domain.ID
	}
	if project, err := res.ExtractProject(); err == nil && project != nil {
		c.ProjectID, c.ProjectName = project.ID, project.Name
	}
	var body tokenBody
	if err := res.ExtractInto(&body); err != nil {
		return nil, fmt.Errorf("%w: reading Keystone's answer: %w", ErrUnavailable, err)
	}
	if body.System["all"] == true {
		c.SystemScope = "all"
	}
	if body.Domain != nil {
		c.DomainID = body.Domain.ID
	}
	if ac := body.AppCred; ac != nil {
		c.AppCredID = ac.ID
		if ac.AccessRules != nil {
			c.AccessRules = append([]AccessRule{}, ac.AccessRules...)
		}
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
	return c, nil
}

// ServiceToken returns the vmmon service user's current token.
func (k *Keystone) ServiceToken() string { return k.provider.Token() }

// ServiceUserID returns the vmmon service user's id, from its token.
func (k *Keystone) ServiceUserID(ctx context.Context) (string, error) {
	k.renew(ctx)
	res, ok := k.provider.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return "", fmt.Errorf("%w: the service user has no token", ErrUnavailable)
	}
	u, err := res.ExtractUser()
	if err != nil {
		return "", fmt.Errorf("%w: reading the service user's token: %w", ErrUnavailable, err)
	}
	return u.ID, nil
}

// IdentityURL is Keystone's identity v3 endpoint the validator calls.
func (k *Keystone) IdentityURL() string { return k.identity.Endpoint }
