package report

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// sameAsEncodingJSON fails unless appendJSONFlow writes exactly what
// encoding/json writes for NewJSONFlow(f).
func sameAsEncodingJSON(t *testing.T, where string, f *reassembly.Flow) {
	t.Helper()
	want, err := json.MarshalIndent(NewJSONFlow(f), "    ", "  ")
	if err != nil {
		t.Fatalf("%s: flow %d: %v", where, f.ID, err)
	}
	if got := appendJSONFlow(nil, f, new(jsonDate)); string(got) != string(want) {
		t.Fatalf("%s: flow %d:\n got: %s\nwant: %s", where, f.ID, got, want)
	}
}

// The fixture holds a flow of every verdict, IPv6 endpoints and hostile
// strings; the extra flows cover what it does not: every escape encoding/json
// makes, invalid UTF-8, empty and nil lists, a role reason, zero times.
func TestAppendJSONFlowMatchesEncodingJSON(t *testing.T) {
	for _, f := range fixture().Flows {
		sameAsEncodingJSON(t, "fixture", f)
	}
	odd := &reassembly.Flow{
		ID:            7,
		RolesInferred: true,
		RoleReason:    "ports",
		Reason:        "quote \" backslash \\ <tag> & \b\f\n\r\t \x00\x01\x1f\x7f é \u2028\u2029 \xff\xfe 😀",
		Notes:         []string{hostile, "", "\xc3"},
		ConnState:     "S0",
		History:       "^ShR",
		FirstSeen:     time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 3600)),
		LastSeen:      time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Timeline: []reassembly.Transition{
			{Time: time.Unix(1, 0), Side: reassembly.Server, State: reassembly.State(99)},
		},
	}
	odd.Ends[reassembly.Client].Addr = netip.MustParseAddrPort("[fe80::1%eth0]:1")
	odd.Ends[reassembly.Server].Addr = netip.MustParseAddrPort("[2001:db8::1]:443")
	odd.Ends[reassembly.Server].Packets = 1<<64 - 1
	sameAsEncodingJSON(t, "odd", odd)
	sameAsEncodingJSON(t, "zero", &reassembly.Flow{})
}

// Every flow of every capture in testdata/ encodes the same both ways.
func TestAppendJSONFlowMatchesOnTestdata(t *testing.T) {
	eachTestdataFlow(t, func(path string, f *reassembly.Flow) { sameAsEncodingJSON(t, path, f) })
}

// eachTestdataFlow calls fn with every flow of every readable capture in
// testdata/, as a Table emits them.
func eachTestdataFlow(t *testing.T, fn func(path string, f *reassembly.Flow)) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "*.pcap*"))
	if len(paths) == 0 {
		t.Fatal("no captures in ../testdata")
	}
	n := 0
	for _, p := range paths {
		src, err := capture.OpenFiles([]string{p}, capture.Options{})
		if err != nil {
			continue // damaged on purpose; the hostile tests cover them
		}
		table := reassembly.NewTable(reassembly.DefaultConfig(), func(f *reassembly.Flow) {
			fn(p, f)
			n++
		})
		// Up to the end or the damage: the table sees what the reader
		// delivered.
		var seg capture.Segment
		var end int64
		for src.Next(&seg) == nil {
			table.Add(&seg)
			end = max(end, seg.Time)
		}
		table.Close(end)
		src.Close()
	}
	if n == 0 {
		t.Fatal("no flows in testdata")
	}
}

func BenchmarkJSONFlow(b *testing.B) {
	flows := fixture().Flows
	b.Run("append", func(b *testing.B) {
		var buf []byte
		var day jsonDate
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			buf = appendJSONFlow(buf[:0], flows[i%len(flows)], &day)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := json.MarshalIndent(NewJSONFlow(flows[i%len(flows)]), "    ", "  "); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestJSONTimes checks the JSON time writer against time's own formatting,
// with one jsonDate throughout as a stream has: calendar edges (leap days,
// centuries, the last four-digit year), fractions with trailing zeros,
// times it leaves to AppendFormat, runs of times on one day and within a
// second or two, and random instants.
func TestJSONTimes(t *testing.T) {
	times := []time.Time{
		time.Unix(0, 0), time.Unix(0, 1), time.Unix(-1, 999_999_999), time.Unix(-86400*400, 0), time.Unix(86399, 0),
		time.Date(2000, 2, 29, 23, 59, 59, 100_000_000, time.UTC),
		time.Date(2000, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2100, 2, 28, 12, 0, 0, 120_000, time.UTC),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(2026, 11, 25, 23, 30, 0, 0, time.FixedZone("CET", 3600)),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		times = append(times, time.Unix(r.Int64N(lastFourDigitYear+1), r.Int64N(1e9)))
		for at := time.Unix(1_764_000_000+r.Int64N(86400*3), 0); r.IntN(4) > 0; {
			at = at.Add(time.Duration(r.Int64N(int64(time.Hour))))
			times = append(times, at)
			// Then times within a second or two of it, as a flow's are,
			// with fractions of every length.
			for range r.IntN(4) {
				step := r.Int64N(int64(1500 * time.Millisecond))
				round := []int64{1, 10, 1000, 100_000, 1e6, 1e8}[r.IntN(6)]
				times = append(times, at.Add(time.Duration(step/round*round)))
			}
		}
	}
	var day jsonDate
	for _, tm := range times {
		want := tm.UTC().AppendFormat(nil, time.RFC3339Nano)
		if got := day.appendRFC3339Nano(nil, tm); !bytes.Equal(got, want) {
			t.Fatalf("%v (Unix %d.%09d): %s, want %s", tm, tm.Unix(), tm.Nanosecond(), got, want)
		}
	}
}

// TestJSONNamesNeedNoEscaping checks what jsonName relies on: every name
// (and every out-of-range fallback) of the enums it writes is quoted by
// jsonString as it is.
func TestJSONNamesNeedNoEscaping(t *testing.T) {
	for v := range 256 {
		for _, name := range []string{
			reassembly.State(v).String(), reassembly.Verdict(v).String(), reassembly.Handshake(v).String(),
			reassembly.Side(v).String(), reassembly.Party(v).String(),
		} {
			if got, want := string(jsonName(nil, name)), string(jsonString(nil, name)); got != want {
				t.Errorf("jsonName(%q) = %s, jsonString gives %s", name, got, want)
			}
		}
	}
	for _, a := range []netip.AddrPort{{},
		netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("[2001:db8::1]:443"),
		netip.MustParseAddrPort("[::ffff:10.0.0.1]:8080"), netip.MustParseAddrPort("[fe80::1%eth0]:22"),
	} {
		if got, want := string(jsonAddr(nil, a)), string(jsonString(nil, a.String())); got != want {
			t.Errorf("jsonAddr(%s) = %s, want %s", a, got, want)
		}
	}
}
