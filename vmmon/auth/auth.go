// Package auth says who is calling: a Validator turns a token into a Caller.
// The Keystone validator asks Keystone as the vmmon service user; the noauth
// one, for the all-in-one on loopback only, trusts every caller as an admin.
package auth

import (
	"context"
	"errors"
	"time"
)

// Caller is the identity behind a request.
type Caller struct {
	UserID      string
	UserName    string
	ProjectID   string
	ProjectName string
	DomainID    string
	Roles       []string
	ExpiresAt   time.Time
	// SystemScope is "all" for system-scoped tokens.
	SystemScope string
	// Token is the caller's own token, for calls made on its behalf (Nova).
	Token string
	// ComputeURL is Nova's public endpoint in the caller's catalog.
	ComputeURL string
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

// NoAuth trusts every caller as an admin of project "admin". Only for the
// all-in-one bound to loopback.
type NoAuth struct{}

// Validate returns an admin caller.
func (NoAuth) Validate(_ context.Context, token string) (*Caller, error) {
	return &Caller{UserID: "noauth", UserName: "noauth", ProjectID: "admin", ProjectName: "admin",
		Roles: []string{"admin", "member", "reader"}, ExpiresAt: time.Now().Add(time.Hour), Token: token}, nil
}
