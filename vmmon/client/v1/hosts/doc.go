/*
Package hosts shows compute hosts and their agents (administrators).

Example to list every host:

	pages, err := hosts.List(client, nil).AllPages(ctx)
	if err != nil {
		panic(err)
	}
	all, err := hosts.ExtractHosts(pages)

Example to show one host with its agent's last heartbeat:

	h, err := hosts.Get(ctx, client, "compute-1").Extract()
*/
package hosts
