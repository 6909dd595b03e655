package alarms

import (
	"context"
	"errors"
	"fmt"

	novaactions "opendev.org/openstack/vmmon/vmmon/actions"
	"opendev.org/openstack/vmmon/vmmon/messaging"
	"opendev.org/openstack/vmmon/vmmon/storage"
	"opendev.org/openstack/vmmon/vmmon/trusts"
)

// TrustUser turns an alarm's trust into a session acting as its creator.
type TrustUser interface {
	Use(ctx context.Context, trustID string) (trusts.Session, error)
}

// InstanceActions carries out an alarm's instance actions through Nova with
// a token of the alarm's Keystone trust, recording each among the
// instance's actions like one asked for through the API (the collector
// settles it when Nova's notification arrives).
type InstanceActions struct {
	Trusts  TrustUser
	Actions *novaactions.Runner
	// Instances finds the instance acted on.
	Instances interface {
		GetInstance(ctx context.Context, id string) (storage.Instance, error)
	}
}

// Run carries out one instance action. Every attempt has an idempotency key
// of its own: an attempt made again after a crash finds the first one's
// action instead of calling Nova twice.
func (x *InstanceActions) Run(ctx context.Context, a storage.Alarm, p storage.PendingAction) error {
	if a.TrustID == "" {
		return fmt.Errorf("the alarm has no Keystone trust to act with: %w", ErrPermanent)
	}
	id := p.InstanceID
	if id == "" {
		id = a.InstanceID
	}
	inst, err := x.Instances.GetInstance(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("instance %s not found: %w", id, ErrPermanent)
	}
	if err != nil {
		return err
	}
	req := novaactions.Request{Action: p.Action.Action, Type: p.Action.RebootType}
	if err := novaactions.Validate(&req); err != nil {
		return fmt.Errorf("%w: %w", err, ErrPermanent)
	}
	sess, err := x.Trusts.Use(ctx, a.TrustID)
	if errors.Is(err, trusts.ErrInvalid) {
		return fmt.Errorf("%w: %w", err, ErrPermanent)
	}
	if err != nil {
		return err
	}
	o := novaactions.Origin{ComputeURL: sess.ComputeURL, Token: sess.Token, RequestID: "req-" + messaging.NewUUID(),
		UserID: a.UserID, ProjectID: a.ProjectID}
	key := fmt.Sprintf("alarm-%s-%s-%d", a.ID, p.ID, p.Attempts)
	act, err := x.Actions.Do(ctx, o, inst, req, key)
	var nova *novaactions.NovaError
	switch {
	case errors.Is(err, storage.ErrConflict) && act.Status == "failed":
		return fmt.Errorf("%s %s: %s", req.Action, inst.ID, act.Message)
	case errors.Is(err, storage.ErrConflict):
		return nil // made by this attempt before a restart
	case errors.As(err, &nova):
		return fmt.Errorf("%s %s: %w: %w", req.Action, inst.ID, err, ErrPermanent)
	case err != nil:
		return fmt.Errorf("%s %s: %w", req.Action, inst.ID, err)
	}
	return nil
}
