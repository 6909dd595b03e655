// Package auth says who is calling: a Validator turns a token into a Caller.
// The Keystone validator asks Keystone as the vmmon service user; the noauth
// one, for the all-in-one on loopback only, trusts every caller as a
// system-scoped administrator.
package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
)

// Token scopes, as Keystone issues them.
const (
	ScopeProject  = "project"
	ScopeDomain   = "domain"
	ScopeSystem   = "system"
	ScopeUnscoped = "unscoped"
)

// Caller is the identity behind a request.
type Caller struct {
	UserID       string
	UserName     string
	UserDomainID string
	// ProjectID is set for project-scoped tokens only.
	ProjectID   string
	ProjectName string
	// DomainID is set for domain-scoped tokens only.
	DomainID string
	Roles    []string
	// ExpiresAt is the token's own expiry.
	ExpiresAt time.Time
	// SystemScope is "all" for system-scoped tokens.
	SystemScope string
	// Token is the caller's own token, for calls made on its behalf (Nova).
	Token string
	// ComputeURL is Nova's public endpoint in the caller's catalog.
	ComputeURL string
	// AppCredID names the application credential the token came from.
	AppCredID string
	// AccessRules restrict an application credential's token to the
	// requests they name; nil means no restriction.
	AccessRules []AccessRule
}

// AccessRule is one request an application credential allows.
type AccessRule struct {
	Service string `json:"service"`
	Method  string `json:"method"`
	Path    string `json:"path"`
}

// Scope says what the token is scoped to: project, domain, system or unscoped.
func (c *Caller) Scope() string {
	switch {
	case c.SystemScope != "":
		return ScopeSystem
	case c.ProjectID != "":
		return ScopeProject
	case c.DomainID != "":
		return ScopeDomain
	}
	return ScopeUnscoped
}

// HasRole reports whether the caller holds role.
func (c *Caller) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Permits reports whether the caller's access rules allow method on path of
// serviceType, as keystonemiddleware decides: a token without access rules
// may do anything its roles allow; one with rules only what a rule names
// ("*" matches one path segment, "**" any number, "{name}" one segment).
func (c *Caller) Permits(serviceType, method, path string) bool {
	if c.AccessRules == nil {
		return true
	}
	for _, r := range c.AccessRules {
		if r.Service == serviceType && strings.EqualFold(r.Method, method) && pathMatches(path, r.Path) {
			return true
		}
	}
	return false
}

var ruleToken = regexp.MustCompile(`\{[^}]*\}|\*\*|\*|[^{}*]+`)

func pathMatches(path, pattern string) bool {
	var b strings.Builder
	b.WriteString("^")
	for _, tok := range ruleToken.FindAllString(pattern, -1) {
		switch {
		case tok == "**":
			b.WriteString(".*")
		case tok == "*" || strings.HasPrefix(tok, "{"):
			b.WriteString(`[^/]+`)
		default:
			b.WriteString(regexp.QuoteMeta(tok))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	return err == nil && re.MatchString(path)
}

// Errors a Validator returns.
var (
	// ErrInvalidToken: the token is unknown, expired or revoked (401).
	ErrInvalidToken = errors.New("invalid or expired token")
	// ErrUnavailable: the identity service cannot be reached (503).
	ErrUnavailable = errors.New("identity service unavailable")
)

// Validator checks a token.
type Validator interface {
	Validate(ctx context.Context, token string) (*Caller, error)
}

// NoAuth trusts every caller as a system-scoped administrator, who sees
// every project. Only for the all-in-one bound to loopback.
type NoAuth struct{}

// Validate returns an administrator of the whole system.
func (NoAuth) Validate(_ context.Context, token string) (*Caller, error) {
	return &Caller{UserID: "noauth", UserName: "noauth", SystemScope: "all",
		Roles: []string{"admin", "member", "reader"}, ExpiresAt: time.Now().Add(time.Hour), Token: token}, nil
}
