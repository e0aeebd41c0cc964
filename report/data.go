// Package report turns the result of an audit into text, JSON, Markdown,
// HTML, CSV and Zeek conn.log. It sees only reassembly's result model and
// the plain statistics in Data; it never reads packets.
package report

import (
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// Data is everything a writer may show.
type Data struct {
	// Inputs names the capture files read ("-" for standard input) or the
	// live interface ("iface:eth0").
	Inputs []string
	// Flows are all flows, ordered by ID.
	Flows []*reassembly.Flow
	// Config is the timer set the verdicts were computed with.
	Config reassembly.Config
	// Start and End bound the capture (first and last packet).
	Start, End time.Time
	Capture    CaptureStats
	// Warnings are things the reader skipped or could not know, one line
	// each (a truncated tail, packets skipped, kernel drops).
	Warnings []string
}

// CaptureStats counts what the reader saw.
type CaptureStats struct {
	Packets     uint64 // every packet read
	TCP         uint64 // packets decoded as TCP segments
	NonTCP      uint64 // packets that were not TCP, skipped
	Undecodable uint64 // packets too short or malformed to decode, skipped
	Filtered    uint64 // packets rejected by the -f BPF filter
	// Live-capture drop counters from libpcap; Dropped > 0 means the report
	// is incomplete.
	KernelDropped, IfaceDropped uint64
	Live                        bool
	// Evicted counts flows dropped from a full flow table (--max-flows).
	Evicted uint64
}
