/*
Package versions discovers vmmon's API versions (API-SIG format; no token
needed, though a client's token does no harm).

Example:

	all, err := versions.List(ctx, client).Extract()
	for _, v := range all {
		fmt.Println(v.ID, v.Status, v.MinVersion, v.MaxVersion)
	}
	v1, err := versions.Get(ctx, client).Extract()
*/
package versions
