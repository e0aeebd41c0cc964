package report

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// zeekLinesByFmt is the conn.log lines of f as zeekWriter wrote them
// through fmt, one string per column, before it appended them itself: the
// reference appendZeekLine must match byte for byte.
func zeekLinesByFmt(f *reassembly.Flow) string {
	var out strings.Builder
	recs := f.Zeek
	if len(recs) == 0 {
		recs = []reassembly.ZeekRecord{{FirstIndex: f.FirstIndex, Orig: f.Client().Addr, Resp: f.Server().Addr,
			ConnState: f.ConnState, History: f.History}}
	}
	field := func(s string) string {
		switch s {
		case "":
			return "(empty)"
		case "-":
			return `\x2d`
		}
		return strings.ReplaceAll(safe(s), ",", `\x2c`)
	}
	for i, rec := range recs {
		o, r := f.Client(), f.Server()
		if rec.Orig == r.Addr && rec.Resp == o.Addr {
			o, r = r, o
		}
		ts, dur, ob, rb := "-", "-", "-", "-"
		op, oip, rp, rip := "-", "-", "-", "-"
		if i == 0 {
			us := f.FirstSeen.UnixMicro()
			ts = fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
		}
		if len(recs) == 1 {
			op, oip = fmt.Sprint(o.Packets), fmt.Sprint(o.WireBytes)
			rp, rip = fmt.Sprint(r.Packets), fmt.Sprint(r.WireBytes)
			if d := f.LastSeen.Sub(f.FirstSeen); d > 0 {
				dur = fmt.Sprintf("%.6f", d.Seconds())
				ob, rb = fmt.Sprint(o.Bytes), fmt.Sprint(r.Bytes)
			}
		}
		fmt.Fprintf(&out, "%s\t%s\t%s\t%d\t%s\t%d\ttcp\t-\t%s\t%s\t%s\t%s\t-\t-\t0\t%s\t%s\t%s\t%s\t%s\t-\t6\n",
			ts, zeekUID(f.ID, i),
			rec.Orig.Addr().WithZone(""), rec.Orig.Port(), rec.Resp.Addr().WithZone(""), rec.Resp.Port(),
			dur, ob, rb, field(rec.ConnState), field(rec.History), op, oip, rp, rip)
	}
	return out.String()
}

// sameAsFmt fails unless the zeek writer writes f's lines as fmt did.
func sameAsFmt(t *testing.T, where string, f *reassembly.Flow) {
	t.Helper()
	var b strings.Builder
	z := &zeekWriter{rows{w: &b}}
	if err := z.Flow(f); err != nil {
		t.Fatal(err)
	}
	if err := z.flush(); err != nil {
		t.Fatal(err)
	}
	if want := zeekLinesByFmt(f); b.String() != want {
		t.Fatalf("%s: flow %d:\n got: %q\nwant: %q", where, f.ID, b.String(), want)
	}
}

// TestZeekLinesMatchFmt checks the appended conn.log lines against the
// fmt-built ones: on the fixture's flows (every verdict, IPv6, hostile
// strings), on flows of what it lacks (records split or seen from the
// other side, history and states that need escaping, zero and negative
// times, zoned and missing addresses, counters at their limit), and on
// every flow of the test captures.
func TestZeekLinesMatchFmt(t *testing.T) {
	for _, f := range fixture().Flows {
		sameAsFmt(t, "fixture", f)
	}
	cl, sv := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("[fe80::1%eth0]:443")
	odd := func(id uint64, first, last time.Time, recs ...reassembly.ZeekRecord) *reassembly.Flow {
		f := &reassembly.Flow{ID: id, FirstSeen: first, LastSeen: last, ConnState: "SF", History: "ShADadFf", Zeek: recs}
		f.Ends[reassembly.Client].Addr, f.Ends[reassembly.Server].Addr = cl, sv
		f.Ends[reassembly.Client].Packets, f.Ends[reassembly.Server].WireBytes = 1<<64-1, 7
		return f
	}
	t0 := time.Date(2026, 11, 26, 5, 0, 0, 123_456_789, time.UTC)
	for name, f := range map[string]*reassembly.Flow{
		"lasted":        odd(1, t0, t0.Add(1500*time.Millisecond)),
		"instant":       odd(2, t0, t0),
		"zero":          {},
		"before 1970":   odd(3, time.Unix(-2, 500_000), time.Unix(-1, 0)),
		"on the second": odd(4, time.Unix(1_764_000_000, 0), time.Unix(1_764_000_001, 999_999_999)),
		"swapped": odd(5, t0, t0.Add(time.Second),
			reassembly.ZeekRecord{Orig: sv, Resp: cl, ConnState: "RSTRH", History: "^dAr"}),
		"split": odd(6, t0, t0.Add(time.Minute),
			reassembly.ZeekRecord{Orig: cl, Resp: sv, ConnState: "S0", History: "S"},
			reassembly.ZeekRecord{Orig: cl, Resp: sv, ConnState: "", History: "-"}),
		"escapes": odd(7, t0, t0.Add(time.Second),
			reassembly.ZeekRecord{Orig: cl, Resp: sv, ConnState: "S,F", History: "a\tb\x1b[2J\xff\u202e,"}),
	} {
		sameAsFmt(t, name, f)
	}
	eachTestdataFlow(t, func(path string, f *reassembly.Flow) { sameAsFmt(t, path, f) })
}

func BenchmarkZeekLine(b *testing.B) {
	flows := fixture().Flows
	var buf []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := flows[i%len(flows)]
		recs := f.Zeek
		if len(recs) == 0 {
			recs = []reassembly.ZeekRecord{{Orig: f.Client().Addr, Resp: f.Server().Addr, ConnState: f.ConnState, History: f.History}}
		}
		buf = appendZeekLine(buf[:0], f, recs, 0)
	}
}
