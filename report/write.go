package report

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// writer renders a whole report. Each format is one file with one
// constructor; Write is the only place that maps names to them.
type writer interface {
	Write(d *Data) error
}

// streamer is a format that can be written flow by flow, as flows finish,
// without holding them (issue 5): Begin, Flow for each flow, End. End gets
// the Data of the whole capture for what follows the flows (JSON's
// summary, Zeek's #close); its Flows are not written again.
type streamer interface {
	Begin(start time.Time) error
	Flow(f *reassembly.Flow) error
	End(d *Data) error
}

// streamed adapts a streamer to a writer of a whole report.
type streamed struct{ s streamer }

func (s streamed) Write(d *Data) error {
	if err := s.s.Begin(d.Start); err != nil {
		return err
	}
	for _, f := range d.Flows {
		if err := s.s.Flow(f); err != nil {
			return err
		}
	}
	return s.s.End(d)
}

// formats is the name → constructor table, in the order Formats lists them;
// the first is the default. stream is set for the formats that can be
// written flow by flow.
var formats = []struct {
	name   string
	new    func(w io.Writer) writer
	stream func(w io.Writer) streamer
}{
	{"text", newText, nil},
	{"json", func(w io.Writer) writer { return streamed{newJSON(w)} }, newJSON},
	{"md", newMarkdown, nil},
	{"html", newHTML, nil},
	{"csv", func(w io.Writer) writer { return streamed{newCSV(w)} }, newCSV},
	{"zeek", func(w io.Writer) writer { return streamed{newZeek(w)} }, newZeek},
}

// DrawsLadders reports whether the named format draws packet ladders
// (Flow.Ladder): when it does not, the flow table need not record them
// (reassembly.Config.NoLadders).
func DrawsLadders(format string) bool { return format == "md" || format == "html" }

// Formats lists the format names Write accepts, the default first.
func Formats() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.name
	}
	return names
}

// outBufSize is the size of the buffer in front of a report's output.
const outBufSize = 64 << 10

// rows gathers a streamed report's rows (flows, lines) and writes them on
// in bulk, once they are more than the bufio.Writer in front of the
// output holds: one Write per 64 KB rather than one per row. (bufio still
// copies them unless its buffer happens to be empty; flushing it first,
// so that it never copies, measured the same.) Writers append rows to buf
// and call rowDone after each, and flush before they write anything else.
type rows struct {
	w   io.Writer
	buf []byte // rows not yet written
}

// rowDone writes the rows gathered when they are enough.
func (r *rows) rowDone() error {
	if len(r.buf) > outBufSize {
		return r.flush()
	}
	return nil
}

// flush writes the rows gathered.
func (r *rows) flush() error {
	_, err := r.w.Write(r.buf)
	r.buf = r.buf[:0]
	return err
}

// Write renders d to w in the named format. Output is buffered; w is never
// closed. Flows must be ordered by ID.
func Write(w io.Writer, format string, d *Data) error {
	for _, f := range formats {
		if f.name != format {
			continue
		}
		bw := bufio.NewWriterSize(w, outBufSize)
		if err := f.new(bw).Write(d); err != nil {
			return fmt.Errorf("%s report: %w", format, err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("%s report: %w", format, err)
		}
		return nil
	}
	return fmt.Errorf("unknown format %q (want one of %s)", format, strings.Join(Formats(), ", "))
}

// Stream writes a report flow by flow, so that a long capture of short
// connections runs in flat memory: the caller hands each flow over as the
// flow table finishes it and forgets it. Flows appear in the order given.
type Stream struct {
	s streamer
	w *bufio.Writer
}

// Streamable reports whether format can be written by a Stream. The
// formats for a person (text, md, html) group and order flows, so they
// need the flows first; JSON's summary comes after its flows.
func Streamable(format string) bool {
	for _, f := range formats {
		if f.name == format {
			return f.stream != nil
		}
	}
	return false
}

// NewStream starts a report in a streamable format; start is the capture's
// first packet (Zeek's #open line). Output is buffered until Close.
func NewStream(w io.Writer, format string, start time.Time) (*Stream, error) {
	for _, f := range formats {
		if f.name == format && f.stream != nil {
			bw := bufio.NewWriterSize(w, outBufSize)
			s := &Stream{f.stream(bw), bw}
			if err := s.s.Begin(start); err != nil {
				return nil, fmt.Errorf("%s report: %w", format, err)
			}
			return s, nil
		}
	}
	return nil, fmt.Errorf("format %q cannot be streamed (streamable: json, csv, zeek)", format)
}

// Flow writes one finished flow.
func (s *Stream) Flow(f *reassembly.Flow) error {
	if err := s.s.Flow(f); err != nil {
		return fmt.Errorf("flow %d: %w", f.ID, err)
	}
	return nil
}

// Close ends a CSV or Zeek report at the capture's last packet end and
// flushes it. It does not close the underlying writer. A JSON report needs
// Finish.
func (s *Stream) Close(end time.Time) error { return s.Finish(&Data{End: end}) }

// Finish ends the report with what follows the flows, computed from d
// (whose Flows are not written again: JSON's summary reads d.Totals and
// d.Census, or d.Flows when they are absent), and flushes it. It does not
// close the underlying writer.
func (s *Stream) Finish(d *Data) error {
	if err := s.s.End(d); err != nil {
		return err
	}
	return s.w.Flush()
}

// Helpers shared by the formats for a person (text, md, html).

// stamp prints an absolute instant, always in UTC, to the microsecond.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05.000000 UTC")
}

// clock prints the time of day of an instant, for places where the date is
// already given by the capture's span.
func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05.000000")
}

// human rounds a duration to what a person needs: about three digits.
func human(d time.Duration) string {
	switch {
	case d >= 100*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d >= time.Microsecond:
		return d.Round(time.Microsecond).String()
	}
	return d.String()
}

// arrowed prints "client → server".
func arrowed(f *reassembly.Flow) string {
	return f.Client().Addr.String() + " → " + f.Server().Addr.String()
}

// verdictDetail is the verdict plus who did it, when the verdict has a doer:
// "reset by server", "half_open (RST from client)",
// "lingering_fin_wait2 (closed first: server)".
func verdictDetail(f *reassembly.Flow) string {
	s := f.Verdict.String()
	switch {
	case f.ResetBy != reassembly.Nobody && (f.Verdict == reassembly.Reset || f.Verdict == reassembly.Refused):
		s += " by " + f.ResetBy.String()
	case f.ResetBy != reassembly.Nobody:
		s += " (RST from " + f.ResetBy.String() + ")"
	case f.ActiveCloser != reassembly.Nobody && f.Verdict == reassembly.LingeringFinWait2:
		s += " (closed first: " + f.ActiveCloser.String() + ")"
	}
	return s
}

// endStates prints "client FIN_WAIT2, server CLOSE_WAIT".
func endStates(f *reassembly.Flow) string {
	return "client " + f.Client().State.String() + ", server " + f.Server().State.String()
}

// packetRange names where a flow's packets are in the capture, by the
// frame numbers Wireshark shows.
func packetRange(f *reassembly.Flow) string {
	if f.FirstIndex == f.LastIndex {
		return fmt.Sprintf("packet %d", f.FirstIndex)
	}
	return fmt.Sprintf("packets %d-%d", f.FirstIndex, f.LastIndex)
}

// displayFilter is a Wireshark/tshark display filter that isolates the
// flow's 4-tuple, in the original capture or in the evidence file.
func displayFilter(f *reassembly.Flow) string {
	c, s := f.Client().Addr, f.Server().Addr
	return fmt.Sprintf("%s==%s && tcp.port==%d && %s==%s && tcp.port==%d",
		ipField(c.Addr()), c.Addr().WithZone(""), c.Port(), ipField(s.Addr()), s.Addr().WithZone(""), s.Port())
}

func ipField(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return "ip.addr"
	}
	return "ipv6.addr"
}

// roleNote says how the roles were chosen when no SYN told us.
func roleNote(f *reassembly.Flow) string {
	if !f.RolesInferred {
		return ""
	}
	if f.RoleReason == "" {
		return "roles inferred"
	}
	return "roles inferred from " + f.RoleReason
}

// plural returns "1 flow", "2 flows".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
