/*
Package alarms manages vmmon alarms: rules on a metric of an instance, of
all the instances of a project or of a compute host, and what to do when
their state (ok, alarm, insufficient_data) changes.

Example to create an alarm that calls a webhook when an instance's CPU stays busy:

	enabled := true
	a, err := alarms.Create(ctx, client, alarms.CreateOpts{
		Name: "busy", Metric: "cpu_util", InstanceID: instanceID,
		Comparison: "gt", Threshold: 90, Window: 60, EvaluationPeriods: 3, Enabled: &enabled,
		Actions: []alarms.Action{{Type: "webhook", URL: "https://hooks.example/vmmon", Secret: "k"},
			{Type: "notification"}},
	}).Extract()

Example to raise its threshold, then read its history:

	threshold := 95.0
	a, err = alarms.Update(ctx, client, a.ID, alarms.UpdateOpts{Threshold: &threshold}).Extract()
	pages, err := alarms.History(client, a.ID, nil).AllPages(ctx)
	entries, err := alarms.ExtractHistory(pages)
*/
package alarms
