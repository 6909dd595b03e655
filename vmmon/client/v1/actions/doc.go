/*
Package actions runs control actions on an instance through vmmon (which
calls Nova with the caller's own token) and follows them.

Example to reboot an instance hard, safely retried with an idempotency key:

	a, err := actions.Create(ctx, client, instanceID, actions.CreateOpts{
		Action: "reboot", Type: "HARD", IdempotencyKey: "reboot-web-1-2026-11-28"}).Extract()
	if err != nil {
		panic(err)
	}
	// Later: pending, then succeeded or failed once Nova says so.
	a, err = actions.Get(ctx, client, instanceID, a.ID).Extract()

Example to list an instance's actions:

	pages, err := actions.List(client, instanceID, nil).AllPages(ctx)
	all, err := actions.ExtractActions(pages)
*/
package actions
