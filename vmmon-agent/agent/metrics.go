package agent

import (
	"context"
	"fmt"
	"io"

	"opendev.org/openstack/vmmon/vmmon-agent/scrape"
)

// WriteMetrics writes the agent's own figures (those of its heartbeat) as
// Prometheus text. The agent writes them itself rather than link a metrics
// library: a compute node's agent stays small.
func (a *Agent) WriteMetrics(ctx context.Context, w io.Writer) error {
	hb := a.Heartbeat(ctx)
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	free := -1.0
	if hb.SpoolFreeBytes != nil {
		free = float64(*hb.SpoolFreeBytes)
	}
	for _, m := range []struct {
		name, kind, help string
		value            float64
	}{
		{"vmmon_agent_domains", "gauge", "Domains read in the last collection.", float64(hb.Domains)},
		{"vmmon_agent_domains_timed_out", "gauge", "Domains whose libvirt calls timed out in the last collection.", float64(hb.TimedOut)},
		{"vmmon_agent_collection_seconds", "gauge", "Duration of the last collection.", hb.LastDurationMS / 1000},
		{"vmmon_agent_batches_total", "counter", "Batches collected since the agent started (its last sequence number).", float64(hb.LastSeq)},
		{"vmmon_agent_libvirt_connected", "gauge", "1 while libvirt answers.", b(hb.LibvirtConnected)},
		{"vmmon_agent_spool_messages", "gauge", "Messages waiting in the spool for the broker.", float64(hb.SpoolMessages)},
		{"vmmon_agent_spool_bytes", "gauge", "Bytes waiting in the spool.", float64(hb.SpoolBytes)},
		{"vmmon_agent_spool_free_bytes", "gauge", "Bytes free for the agent on the spool's file system (-1 when unknown); the spool is written only while the broker does not take messages.", free},
		{"vmmon_agent_spool_dropped_total", "counter", "Spooled messages dropped because the spool was full.", float64(hb.SpoolDropped)},
		{"vmmon_agent_spool_written_total", "counter", "Messages written to the spool: those the broker did not confirm, and those sent while others waited there.", float64(hb.SpoolWritten)},
		{"vmmon_agent_spool_errors_total", "counter", "Messages the spool could not store (disk full, read-only).", float64(hb.SpoolErrors)},
		{"vmmon_agent_spool_moved_aside_total", "counter", "Unreadable spooled messages moved aside.", float64(hb.SpoolMovedAside)},
		{"vmmon_agent_published_unspooled_total", "counter", "Messages published directly because the spool refused them.", float64(hb.PublishedDirect)},
		{"vmmon_agent_unroutable_total", "counter", "Messages the broker returned because no queue was bound for them.", float64(hb.Unroutable)},
	} {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %g\n", m.name, m.help, m.name, m.kind, m.name, m.value); err != nil {
			return err
		}
	}
	return nil
}

// ServeMetrics serves WriteMetrics at /metrics on addr until ctx ends.
func (a *Agent) ServeMetrics(ctx context.Context, addr string) error {
	srv := &scrape.Server{Path: "/metrics", Write: a.WriteMetrics}
	if err := srv.ListenAndServe(ctx, addr); err != nil {
		return fmt.Errorf("[agent] metrics_bind %s: %w", addr, err)
	}
	return nil
}
