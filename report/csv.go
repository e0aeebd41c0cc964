package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// csvWriter writes one row per flow under a header row, with the JSON
// field names as column names. It is a streamer: flows can be written as
// they finish (see NewStream).
type csvWriter struct{ w *csv.Writer }

func newCSV(w io.Writer) streamer { return &csvWriter{csv.NewWriter(w)} }

var csvHeader = []string{"id", "client", "server", "first_seen", "last_seen", "duration_ns",
	"handshake", "rtt_ns", "verdict", "reason", "active_closer", "reset_by",
	"client_state", "server_state", "conn_state", "history",
	"client_packets", "client_bytes", "server_packets", "server_bytes",
	"client_retransmits", "server_retransmits", "first_packet", "last_packet",
	"roles_inferred", "notes"}

// Begin writes the header row.
func (c *csvWriter) Begin(time.Time) error { return c.w.Write(csvHeader) }

// Flow writes one flow's row. Free text is neutralised for spreadsheets:
// control characters become escapes and a leading = + - @ gets a '.
func (c *csvWriter) Flow(f *reassembly.Flow) error {
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	cl, sv := f.Client(), f.Server()
	notes := make([]string, len(f.Notes))
	for i, n := range f.Notes {
		notes[i] = safe(n)
	}
	return c.w.Write([]string{
		u(f.ID), cl.Addr.String(), sv.Addr.String(),
		f.FirstSeen.UTC().Format(time.RFC3339Nano), f.LastSeen.UTC().Format(time.RFC3339Nano),
		strconv.FormatInt(int64(f.LastSeen.Sub(f.FirstSeen)), 10),
		f.Handshake.String(), strconv.FormatInt(int64(f.RTT), 10), f.Verdict.String(),
		csvFormula(safe(f.Reason)), f.ActiveCloser.String(), f.ResetBy.String(),
		cl.State.String(), sv.State.String(), csvFormula(safe(f.ConnState)), csvFormula(safe(f.History)),
		u(cl.Packets), u(cl.Bytes), u(sv.Packets), u(sv.Bytes),
		u(cl.Retransmits), u(sv.Retransmits), u(f.FirstIndex), u(f.LastIndex),
		strconv.FormatBool(f.RolesInferred), csvFormula(strings.Join(notes, "; ")),
	})
}

// End flushes and reports the first write error.
func (c *csvWriter) End(*Data) error {
	c.w.Flush()
	return c.w.Error()
}
