/*
Package instances lists and shows the instances vmmon knows.

Example to list the instances of every project (admin):

	pages, err := instances.List(client, instances.ListOpts{AllProjects: true}).AllPages(ctx)
	if err != nil {
		panic(err)
	}
	all, err := instances.ExtractInstances(pages)

Example to show one instance with its agent's freshness and latest values:

	inst, err := instances.Get(ctx, client, "6a3b...").Extract()
*/
package instances
