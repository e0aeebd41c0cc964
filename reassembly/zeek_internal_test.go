package reassembly

import (
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/internal/segsynth"
)

// Relative sequence numbers are kept in 32 bits until one does not fit;
// then all of them move to 64 bits, unchanged. relHistSYN and relFIN are
// kept only there, and implied until then: 0 and relHistFIN+1.
func TestZeekRelWide(t *testing.T) {
	for _, wide := range []struct {
		i zRel
		v uint64
	}{
		{relTrim, 1<<32 + 5}, // after a wrap
		{relHistSYN, 7},      // a SYN after a RST
		{relFIN, 9},          // a FIN with a RST
	} {
		var r zRecord
		e := &r.ep[1]
		r.setRel(e, relDelivered, 1)
		r.setRel(e, relHistRST, ^uint64(0)) // an underflow: -1, still compact
		r.setRel(e, relHistSYN, 0)
		r.setRel(e, relHistFIN, 41)
		r.setRel(e, relFIN, 42)
		if r.more != nil {
			t.Fatal("compact values allocated")
		}
		r.setRel(e, wide.i, wide.v)
		if r.x(e) == nil || r.x(e).wide == nil {
			t.Errorf("rel %d = %#x kept in 32 bits", wide.i, wide.v)
		}
		want := map[zRel]uint64{relDelivered: 1, relHistRST: ^uint64(0), relHistSYN: 0, relHistFIN: 41, relFIN: 42,
			wide.i: wide.v}
		for i, v := range want {
			if got := r.rel(e, i); got != v {
				t.Errorf("rel %d = %#x, want %#x", i, got, v)
			}
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

// checkZeekPlain follows segs as a table does (followZeek), and compares
// plain with process on every packet plain takes, and expired with nothing
// on every packet quiet takes. It returns how many plain took.
func checkZeekPlain(t *testing.T, name string, segs []capture.Segment) (taken int) {
	t.Helper()
	followZeek(segs, 0, func(z *zeekFlow, i int, from Side, now int64) {
		seg, r := &segs[i], &z.cur
		if r.active && r.quiet(now) {
			if c := r.clone(); c.expired(now) || !reflect.DeepEqual(c, r) {
				t.Fatalf("%s packet %d: quiet at %d, but a timer fired:\n%+v\n%+v", name, i, now, *r, *c)
			}
		}
		if r.active && (r.expired(now) || r.isReuse(seg)) {
			r.active = false
		}
		if !r.active {
			r.begin(seg, from, now)
		}
		got := r.clone()
		if !got.plain(seg, from, now) {
			r.process(seg, from, now)
			return
		}
		taken++
		r.process(seg, from, now)
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%s packet %d (%+v):\nplain   %+v\nprocess %+v", name, i, *seg, *got, *r)
		}
	})
	return taken
}

// zeekFlow is a zeekTracker with what its conn keeps for it.
type zeekFlow struct {
	zeekTracker
	first      int64 // the time of the flow's first packet
	firstIndex uint64
	addrs      slotAddrs
}

// slotOf returns the endpoints client and server as a slot of a table of
// their own keeps them.
func slotOf(client, server netip.AddrPort) slotAddrs {
	var s slabs
	h := s.alloc()
	s.setAddrs(h, client, server)
	return s.addrs(h)
}

// followZeek follows segs with one zeekFlow per 4-tuple, as a table does:
// it calls step with each packet's flow, its index in segs, its sender and
// its time (made monotonic) since the flow's first packet plus shift. It
// returns the flows by their first packet.
func followZeek(segs []capture.Segment, shift int64, step func(z *zeekFlow, i int, from Side, t int64)) []*zeekFlow {
	type tuple struct{ client, server netip.AddrPort }
	byTuple := map[tuple]*zeekFlow{}
	var flows []*zeekFlow
	var clock int64
	for i := range segs {
		seg := &segs[i]
		clock = max(clock, seg.Time)
		from, z := Client, byTuple[tuple{seg.Src, seg.Dst}]
		if z == nil {
			if z = byTuple[tuple{seg.Dst, seg.Src}]; z != nil {
				from = Server
			} else {
				z = &zeekFlow{first: clock, firstIndex: seg.Index, addrs: slotOf(seg.Src, seg.Dst)}
				byTuple[tuple{seg.Src, seg.Dst}] = z
				flows = append(flows, z)
			}
		}
		step(z, i, from, clock-z.first+shift)
	}
	return flows
}

// Times round-trip exactly; only those that do not fit in 42 bits (past
// timeLimit, or negative, which the table's times never are) allocate.
func TestZeekTimes(t *testing.T) {
	for _, v := range []int64{0, 1, 1023, 1024, 5_000_000_123, timeLimit - 3, timeLimit, 1 << 62, -1} {
		var r zRecord
		for i := range zTimes {
			r.setTime(i, v+int64(i))
		}
		for i := range zTimes {
			if got := r.time(i); got != v+int64(i) {
				t.Errorf("time %d set to %d reads %d", i, v+int64(i), got)
			}
		}
		if wide := r.more != nil; wide != (v < 0 || v+2 >= timeLimit) {
			t.Errorf("times from %d: allocated %v", v, wide)
		}
	}
}

// quiet must never take a packet for which expired would end the record or
// change it: records with their times, states and flags at random (each
// time possibly past timeLimit), packets on and next to the edges of their
// times and of the inactivity timeout.
func TestZeekQuiet(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var r zRecord
		last := rng.Int64N(timeLimit + int64(time.Hour))
		r.setTime(timeLast, last)
		at := int64(0)
		if rng.IntN(2) == 0 {
			// Set at a lastTime then, as every delete or attempt timer.
			at = last - rng.Int64N(min(last, 2*zeekAttemptDelay)+1) + zeekAttemptDelay
		}
		r.setTime(timeAt, at)
		expire := max(0, last+rng.Int64N(4*zeekSessionTimer)-2*zeekSessionTimer)
		r.setTime(timeExpire, expire)
		r.isActive, r.closing = rng.IntN(2) == 0, rng.IntN(2) == 0
		for i := range r.ep {
			r.ep[i].state, r.ep[i].didClose = zState(rng.IntN(int(zReset)+1)), rng.IntN(2) == 0
		}
		for _, edge := range []int64{last, at, expire, last + zeekInactivity} {
			for range 20 {
				now := edge + rng.Int64N(4096) - 2048
				if now < last || !r.quiet(now) {
					continue
				}
				if c := r.clone(); c.expired(now) || !reflect.DeepEqual(c, &r) {
					t.Fatalf("quiet at %d, but a timer fired:\n%+v\n%+v", now, r, *c)
				}
			}
		}
	}
}

// Past timeLimit, a record's times are in more.times, still exact: the
// records of the same packets are the same whether their times fit, cross
// the limit or never fit (no timer of Zeek's depends on where the times
// start), and only times past the limit allocate. The scripts put packets
// 1 ns before and on the edge of each timer that ends a record, at odd
// nanoseconds, and the fuzz input has timers fire at random.
func TestZeekTimesPastLimit(t *testing.T) {
	hs := []string{"@0.000000123 C S 100", "S S. 300/101", "C . 101/301"}
	scripts := map[string][]capture.Segment{
		// The AttemptTimer, at 5 s after the SYN.
		"attempt": script(t, "@0.000000123 C S 100", "@5.000000122 C S 100", "@5.000000123 C S 100"),
		// The delete timer, 5 s after the second FIN.
		"close": script(t, append(hs, "C F. 101/301", "@1.000000777 S F. 301/102", "C . 102/302",
			"@6.000000776 C . 102/302", "@6.000000777 C . 102/302")...),
		// tcp_inactivity_timeout, 5 minutes after the latest packet.
		"inactivity": script(t, append(hs, "@2.000000001 C P. 101/301 10", "@302.000000001 S . 301/111",
			"@602.000000002 C P. 111/301 10")...),
	}
	// Random segments, in steps of up to 6.35 s (50 times fuzzSegments'),
	// at odd nanoseconds.
	data := make([]byte, 1<<15)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	fuzz := fuzzSegments(data)
	for i := range fuzz {
		fuzz[i].Time = testEpoch + (fuzz[i].Time-testEpoch)*50 + int64(i)*7
	}
	scripts["fuzz"] = fuzz
	records := func(segs []capture.Segment, shift int64) (recs []ZeekRecord, wide bool) {
		for _, z := range followZeek(segs, shift, func(z *zeekFlow, i int, from Side, now int64) {
			z.add(&segs[i], from, now, z.firstIndex, z.addrs)
		}) {
			wide = wide || z.cur.more != nil && z.cur.more.times != nil
			recs = append(recs, z.records(z.firstIndex, z.addrs, nil)...)
		}
		return recs, wide
	}
	for name, segs := range scripts {
		want, wide := records(segs, 0)
		if wide {
			t.Errorf("%s: times that fit allocated", name)
		}
		if name != "fuzz" && len(want) != 2 {
			t.Errorf("%s: %d records, want 2 (the timer ended the first)", name, len(want))
		}
		span := segs[len(segs)-1].Time - segs[0].Time
		for _, shift := range []int64{timeLimit - span/2, timeLimit, 1 << 50} {
			got, wide := records(segs, shift)
			if !wide {
				t.Errorf("%s shifted by %d: no time in more.times", name, shift)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s shifted by %d:\n%v, want\n%v", name, shift, got, want)
			}
		}
	}
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
	if m.times != nil {
		ts := *m.times
		m.times = &ts
	}
	return &c
}
