package reassembly

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tcpaudit/tcpaudit/capture"
)

// wantLadder is what Flow.Ladder and Flow.LadderOmitted must say of a flow
// whose packets were steps, computed the simple way.
func wantLadder(steps []LadderStep) ([]LadderStep, uint64) {
	if len(steps) <= LadderHead+LadderTail {
		return steps, 0
	}
	return append(steps[:LadderHead:LadderHead], steps[len(steps)-LadderTail:]...),
		uint64(len(steps) - LadderHead - LadderTail)
}

// trackLadder records steps as a tracked flow does, each with the time and
// index of the one before it, and returns the Flow that gets the ladder.
func trackLadder(steps []LadderStep) *Flow {
	var l ladder
	var prev lrec
	for i := range steps {
		r := recOf(&steps[i])
		l.add(&r, prev.t, prev.index)
		prev = r
	}
	f := new(Flow)
	f.ladder, f.LadderOmitted = l.flow(uint64(len(steps)))
	return f
}

// checkLadder checks that steps come back whole from a tracked flow's
// ladder and from SetLadder.
func checkLadder(t *testing.T, steps []LadderStep) {
	t.Helper()
	want, omitted := wantLadder(steps)
	f := trackLadder(steps)
	if got := f.Ladder(); !slices.Equal(got, want) || f.LadderOmitted != omitted {
		t.Fatalf("tracked ladder of %d steps:\n got %v, %d omitted\nwant %v, %d omitted",
			len(steps), got, f.LadderOmitted, want, omitted)
	}
	f = new(Flow)
	f.SetLadder(want, omitted)
	if got := f.Ladder(); !slices.Equal(got, want) || f.LadderOmitted != omitted {
		t.Fatalf("SetLadder of %d steps:\n got %v, %d omitted\nwant %v, %d omitted",
			len(steps), got, f.LadderOmitted, want, omitted)
	}
}

// realistic is a flow of n packets: a handshake, then data from the client
// each acknowledged by the server, 100 µs apart, among other flows' packets.
func realistic(n int) []LadderStep {
	const t0, cISN, sISN = 1_773_480_413_000_000_000, 3_000_000_000, 4_294_967_000
	steps := make([]LadderStep, n)
	for i := range steps {
		st := &steps[i]
		st.Time, st.Index, st.Window = nanoTime(t0+int64(i)*100_000), uint64(1000+7*i), 502
		switch {
		case i == 0:
			st.Flags, st.Seq, st.Window = capture.SYN, cISN, 64240
		case i == 1:
			st.From, st.Flags, st.Seq, st.Ack, st.Window = Server, capture.SYN|capture.ACK, sISN, cISN+1, 65160
		case i%2 == 0:
			st.Flags, st.Seq, st.Ack, st.Len = capture.PSH|capture.ACK, cISN+1+uint32(i/2-1)*1448, sISN+1, 1448
		default:
			st.From, st.Flags, st.Seq, st.Ack = Server, capture.ACK, sISN+1, cISN+1+uint32(i/2)*1448
		}
	}
	return steps
}

// steps builds n steps from one function of the step's number.
func steps(n int, f func(i int) lrec) []LadderStep {
	out := make([]LadderStep, n)
	for i := range out {
		r := f(i)
		out[i] = r.step()
	}
	return out
}

func TestLadderRoundTrip(t *testing.T) {
	const h, tl = LadderHead, LadderTail
	rnd := rand.New(rand.NewPCG(5, 5))
	cases := map[string][]LadderStep{
		"no packet": nil,
		"one SYN":   realistic(1),
		"wrapping seq and ack": steps(3*h, func(i int) lrec {
			return lrec{t: int64(i), index: uint64(i), from: Side(i % 2),
				seq: math.MaxUint32 - 3 + uint32(i), ack: uint32(i) - 5}
		}),
		"time deltas of 0, over 2^32 ns and backwards": steps(3*h, func(i int) lrec {
			ts := []int64{0, 0, 1 << 40, 1<<40 + 1<<33, 5, math.MaxInt64, math.MinInt64, -1}
			return lrec{t: ts[i%len(ts)], index: uint64(i)}
		}),
		"index jumps": steps(3*h, func(i int) lrec {
			ix := []uint64{0, math.MaxUint64, 1, 1 << 63, 1<<63 - 1, 42, 42}
			return lrec{index: ix[i%len(ix)], from: Side(i % 3 % 2)}
		}),
		"windows and lengths at their limits": steps(3*h, func(i int) lrec {
			return lrec{window: []uint16{0, math.MaxUint16}[i%2], length: []uint32{0, math.MaxUint32, 1448}[i%3]}
		}),
		"every flags value": steps(256, func(i int) lrec {
			return lrec{t: int64(i) * 1000, index: uint64(i), flags: capture.Flags(i), from: Side(i / 7 % 2)}
		}),
		"any values, either side": steps(5*h+3, func(int) lrec {
			return lrec{t: int64(rnd.Uint64()), index: rnd.Uint64(), seq: rnd.Uint32(), ack: rnd.Uint32(),
				length: rnd.Uint32(), window: uint16(rnd.Uint32()), from: Side(rnd.IntN(2)), flags: capture.Flags(rnd.Uint32())}
		}),
	}
	for _, n := range []int{2, 3, h - 1, h, h + 1, h + tl - 1, h + tl, h + tl + 1, h + 2*tl - 1, h + 2*tl,
		h + 2*tl + 1, h + 3*tl + 5, 1000} {
		cases[fmt.Sprintf("%d packets", n)] = realistic(n)
	}
	for name, steps := range cases {
		t.Run(name, func(t *testing.T) { checkLadder(t, steps) })
	}
}

// TestLadderIsCompact pins what the encoding is for (issue 5): a few bytes
// a packet, where a LadderStep is 56.
func TestLadderIsCompact(t *testing.T) {
	const n, most = LadderHead + LadderTail, 10
	if f := trackLadder(realistic(n)); len(f.ladder) > n*most {
		t.Errorf("a ladder of %d packets takes %d bytes, want at most %d a packet", n, len(f.ladder), most)
	}
	var l ladder
	steps := realistic(4 * LadderTail)
	for i := range steps {
		r := recOf(&steps[i])
		l.add(&r, 0, 0)
	}
	r := recOf(&steps[len(steps)-1])
	if a := testing.AllocsPerRun(100, func() { l.add(&r, r.t, r.index) }); a != 0 {
		t.Errorf("recording a packet past the first ones: %v allocations, want 0", a)
	}
}

// TestTableLadder checks the ladder a flow gets through the table, which
// encodes each packet against the flow's previous one.
func TestTableLadder(t *testing.T) {
	for _, n := range []int{3, LadderHead + LadderTail, 3*LadderTail + 7} {
		want := realistic(n)
		segs := make([]capture.Segment, n)
		for i, st := range want {
			src, dst := testClient, testServer
			if st.From == Server {
				src, dst = dst, src
			}
			segs[i] = capture.Segment{Time: st.Time.UnixNano(), Index: st.Index, Src: src, Dst: dst, Flags: st.Flags,
				Seq: st.Seq, Ack: st.Ack, PayloadLen: st.Len, Window: st.Window, WScale: -1, WireLen: 66 + st.Len}
		}
		flows := run(t, segs, 0)
		if len(flows) != 1 {
			t.Fatalf("%d packets: %d flows, want 1", n, len(flows))
		}
		want, omitted := wantLadder(want)
		if got := flows[0].Ladder(); !slices.Equal(got, want) || flows[0].LadderOmitted != omitted {
			t.Errorf("%d packets:\n got %v, %d omitted\nwant %v, %d omitted", n, got, flows[0].LadderOmitted, want, omitted)
		}
	}
}

// FuzzLadderRoundTrip records arbitrary packets in a ladder and checks
// that the Flow's ladder is their first LadderHead and last LadderTail.
// Each packet takes a control byte from data, read cyclically, that says
// field by field whether the field moves a little from the packet before
// or takes any value (read from data too): deltas small and large, wraps
// and extremes all come up.
func FuzzLadderRoundTrip(f *testing.F) {
	f.Add(uint16(40), []byte{0})
	f.Add(uint16(33), []byte{0x7f, 1, 2, 3, 0xff, 0xfe, 0x80, 0, 0})
	f.Add(uint16(100), []byte{0x41, 0xff, 0x13, 0x02, 0x80, 0x11})
	f.Fuzz(func(t *testing.T, n uint16, data []byte) {
		checkLadder(t, fuzzSteps(int(n%300), data))
	})
}

// fuzzSteps builds FuzzLadderRoundTrip's n packets from data.
func fuzzSteps(n int, data []byte) []LadderStep {
	pos := 0
	next := func(k int) uint64 { // k bytes of data, cyclically (zeros if none)
		var b [8]byte
		for i := range k {
			if len(data) > 0 {
				b[i] = data[pos%len(data)]
				pos++
			}
		}
		return binary.LittleEndian.Uint64(b[:])
	}
	var r lrec
	out := make([]LadderStep, n)
	for i := range out {
		ctl := next(1)
		// Bits 0 to 5 choose, field by field, any value over a small step.
		field := func(bit uint, size int, old uint64) uint64 {
			if ctl&(1<<bit) != 0 {
				return next(size)
			}
			return old + uint64(int64(int8(next(1))))
		}
		r.t = int64(field(0, 8, uint64(r.t)))
		r.index = field(1, 8, r.index)
		r.seq = uint32(field(2, 4, uint64(r.seq)))
		r.ack = uint32(field(3, 4, uint64(r.ack)))
		r.length = uint32(field(4, 4, uint64(r.length)))
		r.window = uint16(field(5, 2, uint64(r.window)))
		r.from, r.flags = Side(ctl>>6&1), capture.Flags(next(1))
		out[i] = r.step()
	}
	return out
}

// BenchmarkLadderAdd is the cost per packet of keeping a long flow's
// ladder, past its first packets.
func BenchmarkLadderAdd(b *testing.B) {
	steps := realistic(1024)
	recs := make([]lrec, len(steps))
	for i := range steps {
		recs[i] = recOf(&steps[i])
	}
	var l ladder
	prev := &recs[len(recs)-1]
	for i := 0; b.Loop(); i++ {
		r := &recs[i%len(recs)]
		l.add(r, prev.t, prev.index)
		prev = r
	}
}
