package report

import (
	"bytes"
	"encoding/csv"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// csvRowByEncodingCSV is f's row as csvWriter wrote it through
// encoding/csv, one string per column, before it appended rows itself:
// the reference the appended rows must match byte for byte.
func csvRowByEncodingCSV(t *testing.T, w *csv.Writer, f *reassembly.Flow) {
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	cl, sv := f.Client(), f.Server()
	notes := make([]string, len(f.Notes))
	for i, n := range f.Notes {
		notes[i] = safe(n)
	}
	err := w.Write([]string{
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
	if err != nil {
		t.Fatal(err)
	}
}

// TestCSVRowsMatchEncodingCSV writes the header and flows both ways, one
// writer each throughout, as a stream does: the fixture's flows (every
// verdict, IPv6, hostile strings), flows with what needs quoting (commas,
// quotes, line breaks, leading space, a lone \., formula prefixes, notes),
// zero and zoned ends and zero times, and every flow of the test captures.
func TestCSVRowsMatchEncodingCSV(t *testing.T) {
	var got, want bytes.Buffer
	c := &csvWriter{rows: rows{w: &got}}
	ref := csv.NewWriter(&want)
	if err := c.Begin(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := ref.Write(csvHeader); err != nil {
		t.Fatal(err)
	}
	check := func(where string, f *reassembly.Flow) {
		t.Helper()
		if err := c.Flow(f); err != nil {
			t.Fatal(err)
		}
		csvRowByEncodingCSV(t, ref, f)
		if err := c.flush(); err != nil {
			t.Fatal(err)
		}
		ref.Flush()
		if got.String() != want.String() {
			t.Fatalf("%s: flow %d:\n got: %q\nwant: %q", where, f.ID, got.String(), want.String())
		}
	}
	for _, f := range fixture().Flows {
		check("fixture", f)
	}
	t0 := time.Date(2026, 11, 26, 6, 0, 0, 120_000, time.FixedZone("X", 7200))
	for i, text := range []string{`say "hi", then`, "two\nlines\r\n", " leading space", "\tleading tab",
		`\.`, "=1+1", "-x", "@home", "plain", "", "é,ü", "\u00a0nbsp"} {
		f := &reassembly.Flow{ID: uint64(i + 1), Reason: text, ConnState: text, History: text,
			Notes: []string{text, text}, FirstSeen: t0, LastSeen: t0.Add(time.Duration(i) * time.Millisecond),
			RolesInferred: i%2 == 0, RTT: time.Duration(i)}
		f.Ends[reassembly.Client].Addr = netip.MustParseAddrPort("[fe80::1%eth,0]:1")
		f.Ends[reassembly.Server].Packets = 1<<64 - 1
		check(strconv.Quote(text), f)
	}
	check("zero", &reassembly.Flow{})
	eachTestdataFlow(t, check)
}

func BenchmarkCSVRow(b *testing.B) {
	flows := fixture().Flows
	c := &csvWriter{rows: rows{w: discard{}}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.buf = c.buf[:0]
		if err := c.Flow(flows[i%len(flows)]); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
