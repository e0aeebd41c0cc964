package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/reassembly"
	"github.com/tcpaudit/tcpaudit/report"
)

// audit is one run of the pipeline: a source of segments feeding the flow
// table, whose finished flows are collected for the writers.
type audit struct {
	o     *options
	src   *capture.Source
	table *reassembly.Table
	flows []*reassembly.Flow

	first, last int64 // capture time bounds, Unix ns
	segs        int64
	// onFlow, when set, sees each finished flow as it is emitted (the live
	// view uses it for "abnormal endings since the last tick").
	onFlow func(*reassembly.Flow)
}

func newAudit(o *options, src *capture.Source) *audit {
	a := &audit{o: o, src: src}
	a.table = reassembly.NewTable(o.cfg, func(f *reassembly.Flow) {
		a.flows = append(a.flows, f)
		if a.onFlow != nil {
			a.onFlow(f)
		}
	})
	return a
}

// feed reads segments until the source ends, the -c count is reached or
// stop returns true. It returns the source's error, if any, other than EOF.
func (a *audit) feed(stop func() bool) error {
	var seg capture.Segment
	for {
		if a.o.count > 0 && int64(a.src.Stats().Packets) >= a.o.count {
			return nil
		}
		if stop != nil && stop() {
			return nil
		}
		err := a.src.Next(&seg)
		if err == io.EOF {
			return nil
		}
		if err == capture.ErrNoPacket {
			continue // a quiet live link: check stop again
		}
		if err != nil {
			return err
		}
		if a.segs == 0 || seg.Time < a.first {
			a.first = seg.Time
		}
		if seg.Time > a.last {
			a.last = seg.Time
		}
		a.segs++
		a.table.Add(&seg)
	}
}

// data closes the table at the end of the capture and assembles what the
// writers need.
func (a *audit) data(inputs []string) *report.Data {
	a.table.Close(a.last)
	sort.Slice(a.flows, func(i, j int) bool { return a.flows[i].ID < a.flows[j].ID })
	st := a.src.Stats()
	d := &report.Data{
		Inputs: inputs,
		Flows:  a.flows,
		Config: a.o.cfg,
		Capture: report.CaptureStats{
			Packets:     st.Packets,
			TCP:         st.TCP,
			NonTCP:      st.NonTCP,
			Undecodable: st.Undecodable,
			Filtered:    st.Filtered,
			Evicted:     a.table.Stats().Evicted,
		},
		Warnings: a.src.Warnings(),
	}
	if a.segs > 0 {
		d.Start, d.End = time.Unix(0, a.first).UTC(), time.Unix(0, a.last).UTC()
	}
	return d
}

func runFiles(o *options, stdin io.Reader, stdout, stderr io.Writer) int {
	inputs := o.inputs
	cleanup, err := spoolStdinIfNeeded(o, stdin)
	if err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	defer cleanup()

	src, err := capture.OpenFiles(o.inputs, capture.Options{Filter: o.filter})
	if err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	defer src.Close()

	a := newAudit(o, src)
	bar := newProgress(o, src, stderr)
	readErr := a.feed(bar.tick)
	bar.finish()
	d := a.data(inputs)
	if readErr != nil {
		// Nothing read is lost: the report covers every packet before the
		// damage, and says where the damage is.
		d.Warnings = append(d.Warnings, "input damaged, report covers packets before it: "+readErr.Error())
	}
	code := finish(o, d, stdout, stderr)
	if readErr != nil {
		complain(stderr, "%v", readErr)
		return exitBadInput
	}
	return code
}

// spoolStdinIfNeeded copies standard input to a temporary file when the
// evidence writer will need a second pass over the packets, which a pipe
// cannot give. It rewrites o.inputs to name the spool file.
func spoolStdinIfNeeded(o *options, stdin io.Reader) (cleanup func(), err error) {
	cleanup = func() {}
	if o.evidence == "" {
		return cleanup, nil
	}
	for i, in := range o.inputs {
		if in != "-" {
			continue
		}
		f, err := os.CreateTemp("", "tcpaudit-stdin-*.cap")
		if err != nil {
			return cleanup, fmt.Errorf("spooling standard input for --evidence: %w", err)
		}
		if _, err := io.Copy(f, stdin); err != nil {
			f.Close()
			os.Remove(f.Name())
			return cleanup, fmt.Errorf("spooling standard input for --evidence: %w", err)
		}
		f.Close()
		o.inputs = append([]string(nil), o.inputs...)
		o.inputs[i] = f.Name()
		return func() { os.Remove(f.Name()) }, nil
	}
	return cleanup, nil
}

// finish writes the report, the evidence file and applies the --fail-on
// gate. It is shared by file and live mode so that both end the same way.
func finish(o *options, d *report.Data, stdout, stderr io.Writer) int {
	// validate() already checked the range.
	d.Ephemeral, _ = report.ParsePortRange(o.ephemeral)
	if o.at != "" {
		at, err := parseAt(o.at, d.Start)
		if err != nil {
			complain(stderr, "--at: %v", err)
			return exitBadInput
		}
		d.At = at
	}
	var gate report.Gate
	if o.failOn != "" {
		g, err := report.ParseGate(o.failOn)
		if err != nil {
			complain(stderr, "--fail-on: %v", err)
			return exitBadInput
		}
		gate = g
	}
	if o.evidence != "" {
		d.EvidenceFile = o.evidence
		if err := writeEvidence(o, d); err != nil {
			complain(stderr, "%v", err)
			return exitBadInput
		}
	}
	if err := writeReport(o, d, stdout); err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	if o.failOn != "" {
		if failed, why := gate.Check(d); failed {
			for _, w := range why {
				complain(stderr, "--fail-on: %s", w)
			}
			return exitGate
		}
	}
	return exitOK
}

func writeReport(o *options, d *report.Data, stdout io.Writer) error {
	if o.output == "" || o.output == "-" {
		return report.Write(stdout, o.format, d)
	}
	// Write beside the target and rename, so that an interrupted run never
	// leaves half a report where a whole one is expected.
	tmp := o.output + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if err := report.Write(f, o.format, d); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("writing report %s: %w", o.output, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing report %s: %w", o.output, err)
	}
	return os.Rename(tmp, o.output)
}

// parseAt accepts an RFC 3339 time or an offset from the capture start
// ("12.5s", "2m").
func parseAt(s string, start time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return start.Add(d), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return start.Add(time.Duration(f * float64(time.Second))), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor an offset like 12.5s", s)
}

// parseList splits a comma-separated flag value, dropping empty items.
func parseList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
