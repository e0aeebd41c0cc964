package reassembly

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/internal/segsynth"
)

// Relative sequence numbers are kept in 32 bits until one does not fit;
// then all of them move to 64 bits, unchanged.
func TestZeekRelWide(t *testing.T) {
	var r zRecord
	e := &r.ep[1]
	r.setRel(e, relDelivered, 1)
	r.setRel(e, relHistSYN, ^uint64(0)) // an underflow: -1, still compact
	if r.more != nil {
		t.Fatal("compact values allocated")
	}
	big := uint64(1)<<32 + 5 // after a wrap
	r.setRel(e, relTrim, big)
	want := map[zRel]uint64{relDelivered: 1, relHistSYN: ^uint64(0), relTrim: big, relFIN: 0}
	for i, v := range want {
		if got := r.rel(e, i); got != v {
			t.Errorf("rel %d = %#x, want %#x", i, got, v)
		}
	}
}

// Histories longer than zeekHistInline move out of the record whole, and
// stay bounded by zeekHistMax.
func TestZeekLongHistory(t *testing.T) {
	var r zRecord
	r.push('^')
	var want strings.Builder
	want.WriteByte('^')
	for i := 0; i < 2*zeekHistMax; i++ {
		c := byte('A' + i%26)
		r.addHistory(true, c)
		if want.Len() < zeekHistMax {
			want.WriteByte(c)
		}
	}
	if got := string(r.history()); got != want.String() {
		t.Errorf("history %q, want %q", got, want.String())
	}
	r.begin(&capture.Segment{Flags: capture.SYN}, Client, 0)
	if len(r.history()) != 0 {
		t.Errorf("a new record starts with history %q", r.history())
	}
}

// plain must leave a record exactly as process would on every packet it
// takes, and take most packets of ordinary connections (or it saves
// nothing): packets of the test captures, of synthetic connections of
// every ending (random flags and numbers among them) and of FuzzTable's
// input (wraps, zero windows, retransmissions).
func TestZeekPlainIsProcess(t *testing.T) {
	paths, err := filepath.Glob("../testdata/*.pcap")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test captures: %v", err)
	}
	for _, path := range paths {
		src, err := capture.OpenFiles([]string{path}, capture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var segs []capture.Segment
		for seg := (capture.Segment{}); src.Next(&seg) == nil; {
			segs = append(segs, seg)
		}
		src.Close()
		checkZeekPlain(t, path, segs)
	}
	s := segsynth.New(segsynth.Config{Conns: 3000, Concurrency: 40, GapNanos: 1_000_000, Seed: 7,
		Mix: []int{4, 2, 1, 1, 1, 1, 1, 4}, Clients: 500})
	var segs []capture.Segment
	for seg := (capture.Segment{}); s.Next(&seg); {
		segs = append(segs, seg)
	}
	if taken := checkZeekPlain(t, "synthetic", segs); taken < len(segs)/2 {
		t.Errorf("plain took %d of %d synthetic packets", taken, len(segs))
	}
	// Numbers that wrap while no zEndMore is allocated yet: the peer
	// acknowledges, then the client sends, past a wrap it was not seen to
	// cross.
	checkZeekPlain(t, "wraps", script(t, "C S 4294967200", "S S. 5000/4294967201", "C . 4294967201/5001",
		"C P. 4294967201/5001 50", "S . 5001/4294967251", "S . 5001/55", "C P. 55/5001 10", "S . 5001/65"))
	var data []byte
	for i := range 1 << 14 {
		data = append(data, byte(i*0x9e37>>7), byte(i*31))
	}
	checkZeekPlain(t, "fuzz", fuzzSegments(data))
}

// FuzzZeekPlain checks plain against process on FuzzTable's input.
func FuzzZeekPlain(f *testing.F) {
	f.Add(seed([8]int{0, 0, fS, 0, 0, 0, 1, 4}, [8]int{1, 0, fSA, 0, 0, 0, 1, 4}, [8]int{0, 0, fA, 0, 0, 0, 1, 4},
		[8]int{0, 0, fPA, 0, 0, 200, 1, 4}, [8]int{1, 0, fA, 0, 0, 0, 1, 4}, [8]int{1, 0, fPA, 0, 0, 100, 1, 4},
		[8]int{0, 0, fPA, 0, 0, 200, 1, 4}, [8]int{1, 0, fA, 0, 0, 0, 1, 4}))
	f.Fuzz(func(t *testing.T, data []byte) { checkZeekPlain(t, "fuzz", fuzzSegments(data)) })
}

// checkZeekPlain follows segs with one zeekTracker per 4-tuple, as a table
// does, and compares plain with process on every packet plain takes. It
// returns how many it took.
func checkZeekPlain(t *testing.T, name string, segs []capture.Segment) (taken int) {
	t.Helper()
	type tuple struct{ client, server netip.AddrPort }
	trackers := map[tuple]*zeekTracker{}
	var now int64
	for i := range segs {
		seg := &segs[i]
		now = max(now, seg.Time)
		from, z := Client, trackers[tuple{seg.Src, seg.Dst}]
		if z == nil {
			if z = trackers[tuple{seg.Dst, seg.Src}]; z != nil {
				from = Server
			} else {
				z = new(zeekTracker)
				trackers[tuple{seg.Src, seg.Dst}] = z
			}
		}
		r := &z.cur
		if r.active && (r.expired(now) || r.isReuse(seg)) {
			r.active = false
		}
		if !r.active {
			r.begin(seg, from, now)
		}
		got := r.clone()
		if !got.plain(seg, from, now) {
			r.process(seg, from, now)
			continue
		}
		taken++
		r.process(seg, from, now)
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%s packet %d (%+v):\nplain   %+v\nprocess %+v", name, i, *seg, *got, *r)
		}
	}
	return taken
}

// clone returns a copy of r that shares nothing with it.
func (r *zRecord) clone() *zRecord {
	c := *r
	if r.more == nil {
		return &c
	}
	m := *r.more
	m.done, m.hist = slices.Clone(m.done), slices.Clone(m.hist)
	c.more = &m
	for i, e := range m.ep {
		if e == nil {
			continue
		}
		x := *e
		if x.wide != nil {
			w := *x.wide
			x.wide = &w
		}
		if x.blocks != nil {
			b := *x.blocks
			x.blocks = &b
		}
		m.ep[i] = &x
	}
	return &c
}
