// Package report turns the result of an audit into text, JSON, Markdown,
// HTML, CSV and Zeek conn.log. It sees only reassembly's result model and
// the plain statistics in Data; it never reads packets.
package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// Data is everything a writer may show.
type Data struct {
	// Inputs names the capture files read ("-" for standard input) or the
	// live interface ("iface:eth0").
	Inputs []string
	// Flows are all flows, ordered by ID; or, when Totals is set, the
	// flows shown in detail, in any order.
	Flows []*reassembly.Flow
	// Census, when set, is the flow table's online state census: states
	// per host, their peaks, TIME_WAIT pressure and the states-over-time
	// chart are read from it rather than replayed from the Timelines of
	// Flows. Its At overrides At.
	Census *reassembly.Census
	// Totals, when set, counts every flow of the capture, Flows holding
	// only some of them; verdict totals, the RTT histogram and abnormal
	// groups' sizes are read from it (per-host verdicts from Census).
	Totals *Totals
	// Config is the timer set the verdicts were computed with.
	Config reassembly.Config
	// Start and End bound the capture (first and last packet).
	Start, End time.Time
	Capture    CaptureStats
	// Warnings are things the reader skipped or could not know, one line
	// each (a truncated tail, packets skipped, kernel drops).
	Warnings []string

	// At is the instant of the states-per-host table (--at). The zero value
	// means the end of the capture (End).
	At time.Time
	// Ephemeral is the client port range TIME_WAIT pressure is measured
	// against. The zero value means DefaultEphemeral (Linux's
	// net.ipv4.ip_local_port_range).
	Ephemeral PortRange
	// EvidenceFile names the evidence capture written beside the report
	// (--evidence), so the report can tell a reader where the packets of
	// each abnormal flow are; "" when none was written.
	EvidenceFile string
}

// PortRange is an inclusive range of TCP ports. Port 0 is never part of a
// range, so the zero value is empty.
type PortRange struct{ Low, High uint16 }

// DefaultEphemeral is Linux's default net.ipv4.ip_local_port_range.
var DefaultEphemeral = PortRange{32768, 60999}

// Size is the number of ports in the range.
func (r PortRange) Size() int {
	if r.Low == 0 || r.High < r.Low {
		return 0
	}
	return int(r.High) - int(r.Low) + 1
}

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Low, r.High) }

// ParsePortRange parses "LOW-HIGH", as --ephemeral-ports takes it.
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return PortRange{}, fmt.Errorf("port range %q: want LOW-HIGH", s)
	}
	l, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	if err != nil {
		return PortRange{}, fmt.Errorf("port range %q: low port: %w", s, err)
	}
	h, err := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err != nil {
		return PortRange{}, fmt.Errorf("port range %q: high port: %w", s, err)
	}
	if l == 0 || h < l {
		return PortRange{}, fmt.Errorf("port range %q: want 1 <= LOW <= HIGH", s)
	}
	return PortRange{uint16(l), uint16(h)}, nil
}

// at returns the instant of the states table: At, or the end of the capture.
func (d *Data) at() time.Time {
	if !d.At.IsZero() {
		return d.At
	}
	return d.End
}

// ephemeral returns the port range in effect.
func (d *Data) ephemeral() PortRange {
	if d.Ephemeral.Size() == 0 {
		return DefaultEphemeral
	}
	return d.Ephemeral
}

// Incomplete reports whether packets were lost before tcpaudit saw them, so
// that every count in the report is a lower bound.
func (d *Data) Incomplete() bool {
	return d.Capture.KernelDropped > 0 || d.Capture.IfaceDropped > 0
}

// CaptureStats counts what the reader saw.
type CaptureStats struct {
	Packets     uint64 `json:"packets"`     // every packet read
	TCP         uint64 `json:"tcp"`         // packets decoded as TCP segments
	NonTCP      uint64 `json:"non_tcp"`     // packets that were not TCP, skipped
	Undecodable uint64 `json:"undecodable"` // packets too short or malformed to decode, skipped
	Filtered    uint64 `json:"filtered"`    // packets rejected by the -f BPF filter
	// Live-capture drop counters from libpcap; Dropped > 0 means the report
	// is incomplete.
	KernelDropped uint64 `json:"kernel_dropped"`
	IfaceDropped  uint64 `json:"iface_dropped"`
	Live          bool   `json:"live"`
	// Evicted counts flows dropped from a full flow table (--max-flows).
	Evicted uint64 `json:"evicted"`
}
