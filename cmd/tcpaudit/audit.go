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
// table, whose finished flows are handed to the report as they are
// emitted, so that memory does not grow with the length of the capture
// (issue 5):
//   - json, csv and zeek write each flow to the output at once (a Stream)
//     and keep none;
//   - text, md and html keep the flows they show in detail (retention) and
//     count the rest;
//   - totals, the table's state census and the evidence selection are
//     counted for every flow.
type audit struct {
	o   *options
	src *capture.Source
	// table spreads the flows over one worker per core, with Table's
	// results in Table's order (a plain Table on one core).
	table *reassembly.Sharded
	// flows are the flows kept for the report, totals count them all.
	flows  []*reassembly.Flow
	totals *report.Totals
	keep   retention
	// save copies each segment's packet for -w in file mode (live mode
	// tees in the reader instead); saveErr stops the copy at its first
	// write error.
	save    *capture.Writer
	saveErr error
	// out is the streamed report, nil for the formats that need the flows
	// first; outErr is its first write error. writer, when set, writes
	// its flows on a goroutine of its own.
	out    *output
	outErr error
	writer *flowWriter
	// recycler gives back the flows nothing holds once emitted.
	recycler reassembly.Recycler
	// evidence collects the flows --evidence asks for; nil without it.
	evidence *report.Evidence

	first, last int64 // capture time bounds, Unix ns
	segs        int64
	// onFlow, when set, sees each finished flow as it is emitted (the live
	// view uses it for "abnormal endings since the last tick").
	onFlow func(*reassembly.Flow)
}

// Retention bounds of the formats for a person. Alike abnormal flows are
// grouped into one finding whatever their number, so a thousand of each
// verdict are examples enough; normal flows are kept up to the rows the
// HTML flow table shows.
const (
	keepPerVerdict = 1000
	keepNormal     = 5000
)

// retention decides which flows a report for a person keeps in detail.
type retention struct {
	all    bool // a streamed format keeps none; a Data for tests keeps all
	byVerd map[reassembly.Verdict]int
	normal int
}

// take reports whether f is kept, counting it if so.
func (r *retention) take(f *reassembly.Flow) bool {
	if r.all {
		return true
	}
	if f.Verdict.Abnormal() {
		if r.byVerd[f.Verdict] >= keepPerVerdict {
			return false
		}
		r.byVerd[f.Verdict]++
		return true
	}
	if r.normal >= keepNormal {
		return false
	}
	r.normal++
	return true
}

// newAudit prepares a run: it parses the evidence selection and, for a
// streamable format, opens the output, so that no flow has to wait for
// the end of the capture.
func newAudit(o *options, src *capture.Source, stdout io.Writer) (*audit, error) {
	a := &audit{o: o, src: src, totals: report.NewTotals(), keep: retention{byVerd: make(map[reassembly.Verdict]int)}}
	if o.evidence != "" {
		e, err := evidenceSelection(o)
		if err != nil {
			return nil, err
		}
		a.evidence = e
	}
	a.table = reassembly.NewSharded(o.cfg, 0, a.emitted)
	if o.at != "" {
		// checkReportOptions rejected a bad --at before the capture.
		if at, ok := censusInstant(o.at); ok {
			a.table.SetCensusAt(at)
		}
	}
	if report.Streamable(o.format) {
		out, err := openOutput(o, stdout)
		if err != nil {
			return nil, err
		}
		a.out = out
		a.writer = newFlowWriter(a)
	}
	return a, nil
}

// emitted takes each flow the table finishes.
func (a *audit) emitted(f *reassembly.Flow) {
	kept := a.out != nil // written whole
	if !kept && a.keep.take(f) {
		a.flows = append(a.flows, f)
		kept = true
	}
	a.totals.Add(f, kept)
	if a.evidence != nil {
		a.evidence.Add(f)
	}
	if a.onFlow != nil {
		a.onFlow(f)
	}
	// Written or counted, and held by nothing: its memory can serve a
	// later flow.
	recycle := (a.out != nil || !kept) && a.evidence == nil && a.onFlow == nil
	switch {
	case a.out == nil:
	case a.writer != nil:
		// The report begins here, at the first flow, with the capture's
		// start as known now; the writer writes f, then recycles it.
		if a.outErr == nil {
			a.outErr = a.beginStream(time.Unix(0, a.first).UTC())
		}
		a.writer.add(f, recycle)
		return
	case a.outErr == nil:
		a.outErr = a.streamFlow(f)
	}
	if recycle {
		a.recycler.Put(f)
	}
}

// streamFlow writes f to the streamed report, beginning it if need be.
func (a *audit) streamFlow(f *reassembly.Flow) error {
	if err := a.beginStream(time.Unix(0, a.first).UTC()); err != nil {
		return err
	}
	return a.out.stream.Flow(f)
}

// beginStream begins the streamed report once, at the capture's start.
func (a *audit) beginStream(start time.Time) error {
	if a.out.stream != nil {
		return nil
	}
	s, err := report.NewStream(a.out.w, a.o.format, start)
	if err != nil {
		return err
	}
	a.out.stream = s
	return nil
}

// finished is the number of flows the table has emitted.
func (a *audit) finished() int { return a.totals.Flows }

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
		if a.save != nil && a.saveErr == nil {
			data, ts, origLen, link := a.src.Raw()
			a.saveErr = a.save.WritePacket(data, ts, origLen, link)
		}
	}
}

// data closes the table at the end of the capture and assembles what the
// writers need.
func (a *audit) data(inputs []string) *report.Data {
	a.table.Close(a.last)
	if a.writer != nil {
		if err := a.writer.close(); a.outErr == nil {
			a.outErr = err
		}
		a.writer = nil
	}
	sort.Slice(a.flows, func(i, j int) bool { return a.flows[i].ID < a.flows[j].ID })
	st := a.src.Stats()
	d := &report.Data{
		Inputs: inputs,
		Flows:  a.flows,
		Census: a.table.Census(),
		Totals: a.totals,
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

	src, err := capture.OpenFiles(o.inputs, capture.Options{Filter: o.filter, Stdin: stdin})
	if err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	defer src.Close()

	// Checked before any flow is written: a streamed report has begun
	// before finish could reject them.
	if err := checkReportOptions(o); err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	a, err := newAudit(o, src, stdout)
	if err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	// -w with files keeps what tcpdump -r IN -w OUT -f EXPR keeps: the
	// packets that passed the filter (TCP only: the rest is skipped
	// before the audit sees it), unchanged.
	save, saveOut, err := openRaw(o, stdout)
	if err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	a.save = save
	bar := newProgress(o, src, stderr)
	readErr := a.feed(bar.tick)
	bar.finish()
	d := a.data(inputs)
	if save != nil {
		if err := save.Close(); err != nil {
			d.Warnings = append(d.Warnings, fmt.Sprintf("-w %s: %v", o.writeRaw, err))
		} else if a.saveErr != nil {
			d.Warnings = append(d.Warnings, fmt.Sprintf("-w %s: %v (the copy stops there)", o.writeRaw, a.saveErr))
		}
		saveOut.Close()
	}
	if readErr != nil {
		// Nothing read is lost: the report covers every packet before the
		// damage, and says where the damage is.
		d.Warnings = append(d.Warnings, "input damaged, report covers packets before it: "+readErr.Error())
	}
	code := a.finish(d, stdout, stderr)
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
func (a *audit) finish(d *report.Data, stdout, stderr io.Writer) int {
	o := a.o
	fail := func(format string, args ...any) int {
		a.out.discard()
		complain(stderr, format, args...)
		return exitBadInput
	}
	// validate() already checked the range.
	d.Ephemeral, _ = report.ParsePortRange(o.ephemeral)
	if o.at != "" {
		at, err := parseAt(o.at, d.Start)
		if err != nil {
			return fail("--at: %v", err)
		}
		d.At = at
	}
	var gate report.Gate
	if o.failOn != "" {
		g, err := report.ParseGate(o.failOn)
		if err != nil {
			return fail("--fail-on: %v", err)
		}
		gate = g
	}
	if o.evidence != "" {
		d.EvidenceFile = o.evidence
		if err := writeEvidence(o, a.evidence); err != nil {
			return fail("%v", err)
		}
	}
	if err := a.writeReport(d, stdout); err != nil {
		return fail("%v", err)
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

// writeReport ends the streamed report, or writes the whole report of a
// format that needed the flows first.
func (a *audit) writeReport(d *report.Data, stdout io.Writer) error {
	if a.out != nil {
		if a.outErr != nil {
			return fmt.Errorf("writing report %s: %w", a.out.name(), a.outErr)
		}
		if err := a.beginStream(d.Start); err != nil {
			return fmt.Errorf("writing report %s: %w", a.out.name(), err)
		}
		if err := a.out.stream.Finish(d); err != nil {
			return fmt.Errorf("writing report %s: %w", a.out.name(), err)
		}
		return a.out.commit()
	}
	out, err := openOutput(a.o, stdout)
	if err != nil {
		return err
	}
	if err := report.Write(out.w, a.o.format, d); err != nil {
		out.discard()
		return fmt.Errorf("writing report %s: %w", out.name(), err)
	}
	return out.commit()
}

// output is where the report goes: standard output, or beside the target
// file (FILE.tmp) until commit renames it into place, so that an
// interrupted run never leaves half a report where a whole one is
// expected.
type output struct {
	w      io.Writer
	file   *os.File // the temporary file renamed to target; nil otherwise
	target string
	dev    *os.File // a device or pipe written in place (-o /dev/null)
	// stream is the streamed report, begun at the first flow, when the
	// capture's start (Zeek's #open) is known.
	stream *report.Stream
}

func openOutput(o *options, stdout io.Writer) (*output, error) {
	out := &output{w: stdout}
	if o.output != "" && o.output != "-" {
		if st, err := os.Stat(o.output); err == nil && !st.Mode().IsRegular() {
			// A device or a pipe (-o /dev/null, -o /dev/stdout) is
			// written in place: renaming over it would replace it.
			f, err := os.OpenFile(o.output, os.O_WRONLY, 0)
			if err != nil {
				return nil, fmt.Errorf("writing report: %w", err)
			}
			out.w, out.dev = f, f
			return out, nil
		}
		f, err := os.Create(o.output + ".tmp")
		if err != nil {
			return nil, fmt.Errorf("writing report: %w", err)
		}
		out.w, out.file, out.target = f, f, o.output
	}
	return out, nil
}

func (out *output) name() string {
	if out.file == nil {
		return "to standard output"
	}
	return out.target
}

// commit puts a whole report in place.
func (out *output) commit() error {
	if out.dev != nil {
		return out.dev.Close()
	}
	if out.file == nil {
		return nil
	}
	if err := out.file.Close(); err != nil {
		os.Remove(out.file.Name())
		return fmt.Errorf("writing report %s: %w", out.target, err)
	}
	return os.Rename(out.file.Name(), out.target)
}

// discard removes a report that will not be whole. It does nothing for
// standard output or a nil output.
func (out *output) discard() {
	if out != nil && out.dev != nil {
		out.dev.Close()
		return
	}
	if out == nil || out.file == nil {
		return
	}
	out.file.Close()
	os.Remove(out.file.Name())
}

// parseAt accepts an RFC 3339 time or an offset from the capture start
// ("12.5s", "2m").
func parseAt(s string, start time.Time) (time.Time, error) {
	at, ok := censusInstant(s)
	if !ok {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor an offset like 12.5s", s)
	}
	if at.Relative {
		return start.Add(at.Offset), nil
	}
	return at.Time, nil
}

// censusInstant reads --at as the census takes it: an absolute time, or an
// offset from the first packet.
func censusInstant(s string) (reassembly.Instant, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return reassembly.Instant{Time: t}, true
	}
	if d, err := time.ParseDuration(s); err == nil {
		return reassembly.Instant{Offset: d, Relative: true}, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return reassembly.Instant{Offset: time.Duration(f * float64(time.Second)), Relative: true}, true
	}
	return reassembly.Instant{}, false
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
