/*
Package aggregates reads fleet views: a metric folded per instance, host or
project, as one value per group (top-N) or one series per group.

Example to show the ten instances of one's project with the highest latest
cpu_util (one request: the first page):

	top, err := aggregates.Top(ctx, client, aggregates.ListOpts{Metric: "cpu_util", Limit: 10}).Extract()
	if err != nil {
		panic(err)
	}
	for _, a := range top {
		fmt.Printf("%s %s %.1f %s\n", a.InstanceID, a.Name, a.Value, a.Unit)
	}

Example to chart the sum of cpu_util of every host over a day at 1 minute
(admin), page after page:

	pages, err := aggregates.ListMeasures(client, aggregates.MeasuresOpts{
		ListOpts:    aggregates.ListOpts{Metric: "cpu_util", GroupBy: "host", Aggregation: "sum", Start: time.Now().Add(-24 * time.Hour)},
		Granularity: 60,
	}).AllPages(ctx)
	if err != nil {
		panic(err)
	}
	series, err := aggregates.ExtractSeries(pages)
*/
package aggregates
