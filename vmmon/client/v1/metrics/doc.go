/*
Package metrics lists an instance's metrics with their latest values.

Example:

	ms, err := metrics.List(ctx, client, instanceID).Extract()
	for _, m := range ms {
		fmt.Println(m.Name, m.Device, m.LastValue, m.Unit)
	}
*/
package metrics
