package report

import (
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// csvWriter writes one row per flow under a header row, with the JSON
// field names as column names. It is a streamer: flows can be written as
// they finish (see NewStream). Rows are appended to a buffer as
// encoding/csv would write them (TestCSVRowsMatchEncodingCSV), and written
// on in bulk (rows): through encoding/csv, with
// a string made for every column, writing the rows took 14% of the CPU
// time of an audit on two cores (issue 5).
type csvWriter struct {
	rows
	day jsonDate
}

func newCSV(w io.Writer) streamer { return &csvWriter{rows: rows{w: w}} }

var csvHeader = []string{"id", "client", "server", "first_seen", "last_seen", "duration_ns",
	"handshake", "rtt_ns", "verdict", "reason", "active_closer", "reset_by",
	"client_state", "server_state", "conn_state", "history",
	"client_packets", "client_bytes", "server_packets", "server_bytes",
	"client_retransmits", "server_retransmits", "first_packet", "last_packet",
	"roles_inferred", "notes"}

// Begin writes the header row.
func (c *csvWriter) Begin(time.Time) error {
	for i, h := range csvHeader {
		if i > 0 {
			c.buf = append(c.buf, ',')
		}
		c.buf = appendCSVField(c.buf, h)
	}
	c.buf = append(c.buf, '\n')
	return nil
}

// Flow writes one flow's row. Free text is neutralised for spreadsheets:
// control characters become escapes and a leading = + - @ gets a '.
func (c *csvWriter) Flow(f *reassembly.Flow) error {
	cl, sv := f.Client(), f.Server()
	b := strconv.AppendUint(c.buf, f.ID, 10)
	b = appendCSVAddr(append(b, ','), cl.Addr)
	b = appendCSVAddr(append(b, ','), sv.Addr)
	b = c.day.appendRFC3339Nano(append(b, ','), f.FirstSeen)
	b = c.day.appendRFC3339Nano(append(b, ','), f.LastSeen)
	b = strconv.AppendInt(append(b, ','), int64(f.LastSeen.Sub(f.FirstSeen)), 10)
	b = appendCSVField(append(b, ','), f.Handshake.String())
	b = strconv.AppendInt(append(b, ','), int64(f.RTT), 10)
	b = appendCSVField(append(b, ','), f.Verdict.String())
	b = appendCSVField(append(b, ','), csvFormula(safe(f.Reason)))
	b = appendCSVField(append(b, ','), f.ActiveCloser.String())
	b = appendCSVField(append(b, ','), f.ResetBy.String())
	b = appendCSVField(append(b, ','), cl.State.String())
	b = appendCSVField(append(b, ','), sv.State.String())
	b = appendCSVField(append(b, ','), csvFormula(safe(f.ConnState)))
	b = appendCSVField(append(b, ','), csvFormula(safe(f.History)))
	for _, n := range [...]uint64{cl.Packets, cl.Bytes, sv.Packets, sv.Bytes,
		cl.Retransmits, sv.Retransmits, f.FirstIndex, f.LastIndex} {
		b = strconv.AppendUint(append(b, ','), n, 10)
	}
	b = strconv.AppendBool(append(b, ','), f.RolesInferred)
	b = append(b, ',')
	if len(f.Notes) > 0 {
		notes := make([]string, len(f.Notes))
		for i, n := range f.Notes {
			notes[i] = safe(n)
		}
		b = appendCSVField(b, csvFormula(strings.Join(notes, "; ")))
	}
	c.buf = append(b, '\n')
	return c.rowDone()
}

// End writes what is left and reports the first write error.
func (c *csvWriter) End(*Data) error { return c.flush() }

// appendCSVAddr appends an endpoint as appendCSVField(b, ap.String())
// would, without building the string: the digits, dots, colons and
// brackets of an address need no quoting.
func appendCSVAddr(b []byte, ap netip.AddrPort) []byte {
	if !ap.IsValid() || ap.Addr().Zone() != "" {
		return appendCSVField(b, ap.String())
	}
	return ap.AppendTo(b)
}

// appendCSVField appends a field as encoding/csv's Writer writes it with
// its defaults: quoted when it holds a comma, a quote or a line break,
// begins with white space, or is \. (which some readers take for the end
// of data), with quotes doubled inside.
func appendCSVField(b []byte, s string) []byte {
	if !csvNeedsQuotes(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

func csvNeedsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s == `\.` || strings.ContainsAny(s, ",\"\r\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}
