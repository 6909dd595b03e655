/*
Package events reads an instance's lifecycle timeline (Nova, libvirt and
vmmon events), newest first.

Example to read a day of events, page after page:

	pages, err := events.List(client, instanceID, events.ListOpts{Start: time.Now().Add(-24 * time.Hour)}).AllPages(ctx)
	if err != nil {
		panic(err)
	}
	all, err := events.ExtractEvents(pages)
*/
package events
