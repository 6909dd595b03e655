// Package actions carries out control actions on instances through Nova,
// with the caller's own token, so that Nova stays the authority. It records
// each action (pending) with Nova's request id; the collector marks it done
// or failed when Nova's notification with that request id arrives.
package actions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"

	"opendev.org/openstack/vmmon/vmmon/storage"
)

// Request is the body of POST /v1/instances/{id}/actions.
type Request struct {
	Action string `json:"action"`
	Type   string `json:"type,omitempty"`   // reboot: SOFT or HARD
	Reason string `json:"reason,omitempty"` // lock
}

type runner func(ctx context.Context, c *gophercloud.ServiceClient, id string, r Request) (http.Header, error)

// simple adapts a gophercloud server action without options; its result
// embeds gophercloud.Result, whose Header the reflection reads.
func simple[T interface{ ExtractErr() error }](f func(context.Context, *gophercloud.ServiceClient, string) T) runner {
	return func(ctx context.Context, c *gophercloud.ServiceClient, id string, _ Request) (http.Header, error) {
		res := f(ctx, c, id)
		h, _ := reflect.ValueOf(res).FieldByName("Header").Interface().(http.Header)
		return h, res.ExtractErr()
	}
}

var runners = map[string]runner{
	"start":   simple(servers.Start),
	"stop":    simple(servers.Stop),
	"pause":   simple(servers.Pause),
	"unpause": simple(servers.Unpause),
	"suspend": simple(servers.Suspend),
	"resume":  simple(servers.Resume),
	"unlock":  simple(servers.Unlock),
	"shelve":  simple(servers.Shelve),
	"unshelve": func(ctx context.Context, c *gophercloud.ServiceClient, id string, _ Request) (http.Header, error) {
		res := servers.Unshelve(ctx, c, id, servers.UnshelveOpts{})
		return res.Header, res.ExtractErr()
	},
	"reboot": func(ctx context.Context, c *gophercloud.ServiceClient, id string, r Request) (http.Header, error) {
		res := servers.Reboot(ctx, c, id, servers.RebootOpts{Type: servers.RebootMethod(r.Type)})
		return res.Header, res.ExtractErr()
	},
	"lock": func(ctx context.Context, c *gophercloud.ServiceClient, id string, r Request) (http.Header, error) {
		body := map[string]any{"lock": nil}
		opts := &gophercloud.RequestOpts{OkCodes: []int{202}}
		if r.Reason != "" {
			// A reason needs compute microversion 2.73.
			body["lock"] = map[string]string{"locked_reason": r.Reason}
			opts.MoreHeaders = map[string]string{"X-OpenStack-Nova-API-Version": "2.73"}
		}
		resp, err := c.Post(ctx, c.ServiceURL("servers", id, "action"), body, nil, opts)
		var h http.Header
		if resp != nil {
			h = resp.Header
		}
		return h, err
	},
}

// Names lists the actions vmmon knows, sorted.
func Names() []string {
	var out []string
	for n := range runners {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ErrBadRequest is an action vmmon refuses before calling Nova.
var ErrBadRequest = errors.New("bad action request")

// Validate checks a request and normalises it.
func Validate(r *Request) error {
	if _, ok := runners[r.Action]; !ok {
		return fmt.Errorf("%w: action %q is not one of %s", ErrBadRequest, r.Action, strings.Join(Names(), ", "))
	}
	switch {
	case r.Action == "reboot":
		r.Type = strings.ToUpper(r.Type)
		if r.Type == "" {
			r.Type = "SOFT"
		}
		if r.Type != "SOFT" && r.Type != "HARD" {
			return fmt.Errorf("%w: reboot type %q is not SOFT or HARD", ErrBadRequest, r.Type)
		}
	case r.Type != "":
		return fmt.Errorf("%w: type is for reboot only", ErrBadRequest)
	}
	if r.Reason != "" && r.Action != "lock" {
		return fmt.Errorf("%w: reason is for lock only", ErrBadRequest)
	}
	return nil
}

// NovaError is Nova's refusal, to be passed on with its status.
type NovaError struct {
	Status  int
	Message string
}

func (e *NovaError) Error() string { return fmt.Sprintf("Nova answered %d: %s", e.Status, e.Message) }

// ErrNovaUnavailable means Nova could not be reached.
var ErrNovaUnavailable = errors.New("compute service unavailable")

func novaError(err error) error {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		msg := string(ue.Body)
		var body map[string]struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(ue.Body, &body) == nil {
			for _, v := range body {
				if v.Message != "" {
					msg = v.Message
				}
			}
		}
		if ue.Actual >= 500 {
			return fmt.Errorf("%w: %d", ErrNovaUnavailable, ue.Actual)
		}
		return &NovaError{Status: ue.Actual, Message: msg}
	}
	// No answer from Nova (refused, timed out, reset).
	return fmt.Errorf("%w: %w", ErrNovaUnavailable, err)
}

// Idempotency keys: at most MaxKeyLength printable ASCII characters,
// remembered for storage.IdempotencyTTL, and scoped to the project, user
// and instance of the request.
const MaxKeyLength = 255

// ErrBadKey is an Idempotency-Key vmmon cannot take.
var ErrBadKey = errors.New("bad Idempotency-Key")

// ErrKeyReused is an Idempotency-Key used before with another request.
var ErrKeyReused = errors.New("Idempotency-Key reused with a different request")

// ValidateKey checks an Idempotency-Key header ("" is none).
func ValidateKey(key string) error {
	if len(key) > MaxKeyLength {
		return fmt.Errorf("%w: it has %d characters; at most %d", ErrBadKey, len(key), MaxKeyLength)
	}
	for _, c := range key {
		if c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: only printable ASCII characters without spaces are allowed", ErrBadKey)
		}
	}
	return nil
}

// scopedKey is what storage keeps of a key: its hash with the project,
// user and instance, so that one caller's key never finds another's action.
func scopedKey(projectID, userID, instanceID, key string) string {
	if key == "" {
		return ""
	}
	h := sha256.New()
	for _, part := range []string{projectID, userID, instanceID, key} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return "v2-" + hex.EncodeToString(h.Sum(nil))
}

// Origin is who asks for an action, and how Nova is reached for them.
type Origin struct {
	ComputeURL string // Nova's public endpoint in the caller's catalog
	Token      string // the caller's own token
	RequestID  string // vmmon's request id, passed to Nova as the global one
	UserID     string
	ProjectID  string // the caller's project
}

// Runner performs actions.
type Runner struct {
	Store storage.Store
	Now   func() time.Time
	// Timeout after which a pending action without news becomes unknown.
	Timeout time.Duration
}

// Do calls Nova for inst with the caller's token and records the action.
// An Idempotency-Key the same caller used before on the same instance
// returns the first action and storage.ErrConflict, or ErrKeyReused when
// the request differs.
func (rn *Runner) Do(ctx context.Context, o Origin, inst storage.Instance, r Request, key string) (storage.Action, error) {
	if err := ValidateKey(key); err != nil {
		return storage.Action{}, err
	}
	params, _ := json.Marshal(r)
	now := rn.Now().UTC()
	a := storage.Action{ID: strings.TrimPrefix(o.RequestID, "req-"), InstanceID: inst.ID, ProjectID: inst.ProjectID, UserID: o.UserID,
		Action: r.Action, Params: string(params), Status: "pending", RequestID: o.RequestID,
		IdempotencyKey: scopedKey(o.ProjectID, o.UserID, inst.ID, key), CreatedAt: now, UpdatedAt: now}
	// Recorded before Nova is called: Nova may notify the end before it answers.
	stored, err := rn.Store.PutAction(ctx, a)
	if errors.Is(err, storage.ErrConflict) {
		if stored.Action != a.Action || stored.Params != a.Params {
			return stored, fmt.Errorf("%w: it was used for %s %s", ErrKeyReused, stored.Action, stored.Params)
		}
		return stored, err
	}
	if err != nil {
		return a, err
	}
	provider := &gophercloud.ProviderClient{}
	provider.SetToken(o.Token)
	provider.HTTPClient = http.Client{Timeout: 30 * time.Second}
	c := &gophercloud.ServiceClient{ProviderClient: provider, Endpoint: strings.TrimSuffix(o.ComputeURL, "/") + "/",
		MoreHeaders: map[string]string{"X-OpenStack-Request-ID": o.RequestID}}
	h, err := runners[r.Action](ctx, c, inst.ID, r)
	if err != nil {
		err = novaError(err)
		a.Status, a.Message, a.UpdatedAt = "failed", err.Error(), rn.Now().UTC()
		_ = rn.Store.UpdateAction(ctx, a)
		return a, err
	}
	if h != nil {
		a.NovaRequestID = h.Get("X-Openstack-Request-Id")
		if a.NovaRequestID == "" {
			a.NovaRequestID = h.Get("X-Compute-Request-Id")
		}
	}
	if err := rn.Store.SetNovaRequestID(ctx, inst.ID, a.ID, a.NovaRequestID); err != nil {
		return a, err
	}
	if got, err := rn.Store.GetAction(ctx, inst.ID, a.ID); err == nil {
		a = got
	}
	return a, nil
}

// Expire marks a pending action older than the timeout as unknown.
func (rn *Runner) Expire(ctx context.Context, a storage.Action) storage.Action {
	if a.Status == "pending" && rn.Timeout > 0 && rn.Now().Sub(a.CreatedAt) > rn.Timeout {
		a.Status, a.Message, a.UpdatedAt = "unknown", "no word from Nova within the action timeout", rn.Now().UTC()
		_ = rn.Store.UpdateAction(ctx, a)
	}
	return a
}
