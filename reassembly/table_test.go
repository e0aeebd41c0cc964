package reassembly

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

var (
	testClient = netip.MustParseAddrPort("10.0.0.1:40000")
	testServer = netip.MustParseAddrPort("10.0.0.2:80")
	testEpoch  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
)

// script turns compact packet lines into segments. A line reads
//
//	[@SECONDS] C|S FLAGS SEQ[/ACK] [LEN] [wWINDOW]
//
// with tcpdump's flag spelling ("S", "S.", ".", "P.", "F.", "R", "R."):
// "C S 1000" is the client's SYN with ISN 1000, "S S. 5000/1001" the
// server's SYN-ACK. Without @, a line comes 1 ms after the previous one.
// Windows default to 1000 (no scaling is offered).
func script(t testing.TB, lines ...string) []capture.Segment {
	t.Helper()
	var segs []capture.Segment
	now := int64(0)
	for i, line := range lines {
		f := strings.Fields(line)
		if strings.HasPrefix(f[0], "@") {
			sec, err := strconv.ParseFloat(f[0][1:], 64)
			if err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			now = int64(math.Round(sec * 1e9))
			f = f[1:]
		} else if i > 0 {
			now += int64(time.Millisecond)
		}
		if len(f) < 3 {
			t.Fatalf("line %q: want SIDE FLAGS SEQ[/ACK]", line)
		}
		s := capture.Segment{Time: testEpoch + now, Index: uint64(i + 1), Window: 1000, WScale: -1, WireLen: 66}
		switch f[0] {
		case "C":
			s.Src, s.Dst = testClient, testServer
		case "S":
			s.Src, s.Dst = testServer, testClient
		default:
			t.Fatalf("line %q: side must be C or S", line)
		}
		for _, ch := range f[1] {
			s.Flags |= map[rune]capture.Flags{'S': capture.SYN, 'F': capture.FIN, 'R': capture.RST,
				'P': capture.PSH, '.': capture.ACK}[ch]
		}
		seq, ack, hasAck := strings.Cut(f[2], "/")
		s.Seq = parseU32(t, seq)
		if hasAck {
			s.Ack = parseU32(t, ack)
		}
		for _, x := range f[3:] {
			if w, ok := strings.CutPrefix(x, "w"); ok {
				s.Window = uint16(parseU32(t, w))
			} else {
				s.PayloadLen = parseU32(t, x)
			}
		}
		s.WireLen += s.PayloadLen
		segs = append(segs, s)
	}
	return segs
}

func parseU32(t testing.TB, s string) uint32 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return uint32(n)
}

// run feeds segments to a table with the default timers, closes it at end
// seconds (0: the last packet) and returns the flows in ID order.
func run(t testing.TB, segs []capture.Segment, end float64) []*Flow {
	t.Helper()
	var flows []*Flow
	tab := NewTable(DefaultConfig(), func(f *Flow) { flows = append(flows, f) })
	for i := range segs {
		tab.Add(&segs[i])
	}
	last := segs[len(segs)-1].Time
	if end > 0 {
		last = testEpoch + int64(end*1e9)
	}
	tab.Close(last)
	return flows
}

// Common openings.
var (
	handshake = []string{"C S 1000", "S S. 5000/1001", "C . 1001/5001"}
	exchange  = append(handshake[:3:3], "C P. 1001/5001 100", "S . 5001/1101", "S P. 5001/1101 200", "C . 1101/5201")
)

func with(prefix []string, more ...string) []string {
	return append(append([]string(nil), prefix...), more...)
}

func TestStateMachine(t *testing.T) {
	tests := []struct {
		name           string
		lines          []string
		end            float64 // seconds; 0 = the last packet
		client, server State
		verdict        Verdict
		conn, history  string
	}{
		// Clean endings.
		{"client closes", with(exchange, "C F. 1101/5201", "S . 5201/1102", "S F. 5201/1102", "C . 1102/5202"),
			0, TimeWait, Closed, Clean, "SF", "ShADadFf"},
		{"server closes", with(exchange, "S F. 5201/1101", "C . 1101/5202", "C F. 1101/5202", "S . 5202/1102"),
			0, Closed, TimeWait, Clean, "SF", "ShADadfF"},
		{"FIN+ACK piggyback", with(exchange, "C F. 1101/5201", "S F. 5201/1102", "C . 1102/5202"),
			0, TimeWait, Closed, Clean, "SF", "ShADadFf"},
		{"simultaneous close", with(exchange, "C F. 1101/5201", "S F. 5201/1101", "C . 1102/5202", "S . 5202/1102"),
			0, TimeWait, TimeWait, Clean, "SF", "ShADadFf"},
		{"FIN with data", with(handshake, "C FP. 1001/5001 100", "S F. 5001/1102", "C . 1102/5002"),
			0, TimeWait, Closed, Clean, "SF", "ShAFf"},
		{"TIME_WAIT expires", with(exchange, "C F. 1101/5201", "S F. 5201/1102", "C . 1102/5202"),
			70, Closed, Closed, Clean, "SF", "ShADadFf"},
		{"sequence numbers wrap", []string{"C S 4294967290", "S S. 5000/4294967291", "C . 4294967291/5001",
			"C P. 4294967291/5001 100", "S . 5001/95", "C F. 95/5001", "S F. 5001/96", "C . 96/5002"},
			0, TimeWait, Closed, Clean, "SF", "ShADaFf"},
		// Open, keepalives, probes, reordering: none of it is data or a close.
		{"open", exchange, 0, Established, Established, Open, "S1", "ShADad"},
		{"retransmitted SYN, same ISN", with([]string{"C S 1000", "@1 C S 1000", "@1.001 S S. 5000/1001", "@1.002 C . 1001/5001"}),
			0, Established, Established, Open, "S1", "ShA"},
		{"keepalive answered", with(exchange, "@60 C . 1100/5201", "@60.001 S . 5201/1101"),
			0, Established, Established, Open, "S1", "ShADad"},
		{"zero-window probe answered", with(exchange, "S . 5201/1101 w0", "@1 C . 1100/5201", "@1.001 S . 5201/1101 w0"),
			0, Established, Established, Open, "S1", "ShADadw"},
		{"out of order", with(handshake, "C P. 1101/5001 100", "C P. 1001/5001 100", "S . 5001/1201"),
			0, Established, Established, Open, "S1", "ShADTa"}, // Zeek counts reordering as retransmission
		{"duplicate capture", with(handshake, "C P. 1001/5001 100", "C P. 1001/5001 100", "S . 5001/1101"),
			0, Established, Established, Open, "S1", "ShADTa"},
		{"midstream", []string{"C P. 1001/5001 100", "S . 5001/1101", "S P. 5001/1101 10", "C . 1101/5011"},
			0, Established, Established, Open, "OTH", "DadA"},
		// Half closed and lingering.
		{"half closed", with(exchange, "C F. 1101/5201", "S . 5201/1102"),
			10, FinWait2, CloseWait, HalfClosed, "S2", "ShADadF"},
		{"lingering FIN_WAIT2", with(exchange, "C F. 1101/5201", "S . 5201/1102"),
			100, FinWait2, CloseWait, LingeringFinWait2, "S2", "ShADadF"},
		// FINs never acknowledged.
		{"unacked FIN in FIN_WAIT1", with(exchange, "C F. 1101/5201", "@0.3 C F. 1101/5201", "@0.9 C F. 1101/5201"),
			2, FinWait1, Established, UnackedFin, "S2", "ShADadF"},
		{"unacked FIN in LAST_ACK", with(exchange, "C F. 1101/5201", "S . 5201/1102", "S F. 5201/1102",
			"@1 S F. 5201/1102", "@3 S F. 5201/1102"),
			30, FinWait2, LastAck, UnackedFin, "SF", "ShADadFf"},
		// Handshake failures.
		{"SYN unanswered", []string{"C S 1000", "@1 C S 1000", "@3 C S 1000"},
			0, SynSent, Closed, SynUnanswered, "S0", "S"},
		{"refused", []string{"C S 1000", "S R. 0/1001"}, 0, Closed, Closed, Refused, "REJ", "Sr"},
		{"SYN-ACK unacked", []string{"C S 1000", "S S. 5000/1001", "@1 S S. 5000/1001", "@3 S S. 5000/1001"},
			0, SynSent, SynRecv, SynAckUnacked, "S1", "Sh"},
		// Resets.
		{"reset by server in window", with(exchange, "S R 5201"), 0, Closed, Closed, Reset, "RSTR", "ShADadr"},
		{"reset by client with data", with(exchange, "C R. 1101/5201 10"), 0, Closed, Closed, Reset, "RSTO", "ShADadRT"}, // Zeek: RST payload is a retransmission
		{"blind RST out of window ignored", with(exchange, "S R 99999"), 0, Established, Established, Open, "RSTR", "ShADadr"},
		{"half open answered by RST", with(handshake, "C P. 1001/5001 100", "@0.3 C P. 1001/5001 100",
			"@0.9 C P. 1001/5001 100", "@2.1 C P. 1001/5001 100", "@2.1002 S R 5001"),
			0, Closed, Closed, HalfOpen, "RSTR", "ShADTr"},
		{"half open, silent peer", with(exchange, "@1 C P. 1101/5201 100", "@1.3 C P. 1101/5201 100",
			"@2 C P. 1101/5201 100", "@5 C P. 1101/5201 100"),
			40, Established, Established, HalfOpen, "S1", "ShADadT"},
		{"half open until the end of the capture", with(exchange, "@1 C P. 1101/5201 100", "@1.3 C P. 1101/5201 100",
			"@2 C P. 1101/5201 100", "@3.5 C P. 1101/5201 100"),
			0, Established, Established, HalfOpen, "S1", "ShADadT"},
		{"one retransmission at the end is not a stall", with(exchange, "@1 C P. 1101/5201 100", "@1.3 C P. 1101/5201 100"),
			2, Established, Established, Open, "S1", "ShADadT"},
		// Hostile timing.
		{"timestamps going backwards", with(handshake, "@0.5 C P. 1001/5001 100", "@0.2 S . 5001/1101",
			"@0.6 C F. 1101/5001", "@0.601 S F. 5001/1102", "@0.602 C . 1102/5002"),
			0, TimeWait, Closed, Clean, "SF", "ShADaFf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flows := run(t, script(t, tt.lines...), tt.end)
			if len(flows) != 1 {
				t.Fatalf("%d flows, want 1: %v", len(flows), describe(flows))
			}
			f := flows[0]
			got := fmt.Sprintf("%v %v %v %s %q", f.Client().State, f.Server().State, f.Verdict, f.ConnState, f.History)
			want := fmt.Sprintf("%v %v %v %s %q", tt.client, tt.server, tt.verdict, tt.conn, tt.history)
			if got != want {
				t.Errorf("client server verdict conn_state history = %s, want %s\nreason: %s\nnotes: %q",
					got, want, f.Reason, f.Notes)
			}
			if f.Reason == "" {
				t.Error("empty Reason")
			}
			if testing.Verbose() {
				t.Logf("%s | %s | %q", f.Verdict, f.Reason, f.Notes)
			}
		})
	}
}

func describe(flows []*Flow) string {
	var b strings.Builder
	for _, f := range flows {
		fmt.Fprintf(&b, "[%d %v->%v %v %s] ", f.ID, f.Client().Addr, f.Server().Addr, f.Verdict, f.Reason)
	}
	return b.String()
}

func TestFlowBoundaries(t *testing.T) {
	closeLines := []string{"C F. 1101/5201", "S F. 5201/1102", "C . 1102/5202"}
	tests := []struct {
		name  string
		lines []string
		// want lists, per flow in ID order, "verdict client_state server_state".
		want []string
	}{
		{"port reuse with a new ISN after TIME_WAIT", with(with(exchange, closeLines...),
			"@120 C S 9000", "@120.001 S S. 7000/9001", "@120.002 C . 9001/7001"),
			[]string{"clean CLOSED CLOSED", "open ESTABLISHED ESTABLISHED"}},
		{"new SYN cuts TIME_WAIT short", with(with(exchange, closeLines...),
			"@2 C S 9000", "@2.001 S S. 7000/9001", "@2.002 C . 9001/7001"),
			[]string{"clean CLOSED CLOSED", "open ESTABLISHED ESTABLISHED"}},
		{"retried connect after a refusal", []string{"C S 1000", "S R. 0/1001", "@0.5 C S 1000", "@0.501 S R. 0/1001"},
			[]string{"refused CLOSED CLOSED", "refused CLOSED CLOSED"}},
		{"retransmitted SYN stays one flow", []string{"C S 1000", "@1 C S 1000", "@3 C S 1000", "@3.001 S S. 5000/1001", "@3.002 C . 1001/5001"},
			[]string{"open ESTABLISHED ESTABLISHED"}},
		{"SYN with a new ISN while waiting is a new attempt", []string{"C S 1000", "@1 C S 2000"},
			[]string{"syn_unanswered SYN_SENT CLOSED", "syn_unanswered SYN_SENT CLOSED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flows := run(t, script(t, tt.lines...), 0)
			var got []string
			for _, f := range flows {
				got = append(got, fmt.Sprintf("%v %v %v", f.Verdict, f.Client().State, f.Server().State))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("flows = %q, want %q\n%s", got, tt.want, describe(flows))
			}
			for i, f := range flows {
				if f.ID != uint64(i+1) {
					t.Errorf("flow %d has ID %d", i, f.ID)
				}
			}
		})
	}
}

// TestTimeline checks the transitions of a clean close, in order and with
// the times at which each end sent or acknowledged.
func TestTimeline(t *testing.T) {
	flows := run(t, script(t, with(exchange, "@1 C F. 1101/5201", "@1.001 S . 5201/1102",
		"@1.002 S F. 5201/1102", "@1.003 C . 1102/5202")...), 100)
	var got []string
	for _, tr := range flows[0].Timeline {
		got = append(got, fmt.Sprintf("%.3f %v %v", float64(tr.Time.UnixNano()-testEpoch)/1e9, tr.Side, tr.State))
	}
	want := []string{
		"0.000 client SYN_SENT", "0.001 server SYN_RECV", "0.002 client ESTABLISHED", "0.002 server ESTABLISHED",
		"1.000 client FIN_WAIT1", "1.001 server CLOSE_WAIT", "1.001 client FIN_WAIT2", "1.002 server LAST_ACK",
		"1.003 client TIME_WAIT", "1.003 server CLOSED", "61.003 client CLOSED",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("timeline:\n got %q\nwant %q", got, want)
	}
	if rtt := flows[0].RTT; rtt != 2*time.Millisecond {
		t.Errorf("RTT = %v, want 2ms", rtt)
	}
}

// TestCounters checks the per-endpoint counters that tell retransmissions,
// keepalives, probes, reordering and capture duplicates apart.
func TestCounters(t *testing.T) {
	flows := run(t, script(t, with(exchange,
		"C P. 1201/5201 100",      // jumps ahead: 1101-1201 is a hole
		"C P. 1101/5201 100",      // fills it: out of order
		"C P. 1101/5201 100",      // identical, 1 ms later: duplicate
		"@0.5 C P. 1101/5201 100", // same data 0.5 s later: retransmission
		"S . 5201/1301 w0",        // server's window closes
		"@1 C . 1300/5201",        // zero-window probe
		"@1.001 S . 5201/1301",    // window opens again
		"@60 C . 1300/5201",       // keepalive
		"@60.001 S . 5201/1301",   //
		"@61 S P. 5201/1301 10",   //
		"@61.001 C . 1301/5211")...), 0)
	c := flows[0].Client()
	got := fmt.Sprintf("rexmit %d keepalive %d zwp %d ooo %d dup %d packets %d bytes %d",
		c.Retransmits, c.KeepAlives, c.ZeroWindowProbes, c.OutOfOrder, c.Duplicates, c.Packets, c.Bytes)
	want := "rexmit 1 keepalive 1 zwp 1 ooo 1 dup 1 packets 11 bytes 500"
	if got != want {
		t.Errorf("client counters: %s, want %s", got, want)
	}
	if v := flows[0].Verdict; v != Open {
		t.Errorf("verdict %v (%s), want open", v, flows[0].Reason)
	}
}

// An end's counters are kept narrower in the conn than in the Flow
// (endCounts, flagCounts): past that they go on in the side data.
func TestCountersPastTheConn(t *testing.T) {
	lines := []string{}
	for range 300 {
		lines = append(lines, "C S 1000")
	}
	lines = append(lines, "S S. 5000/1001", "C . 1001/5001")
	for i := range uint64(3) {
		lines = append(lines, fmt.Sprintf("C P. %d/5001 %d", uint32(1001+i<<31), uint32(1<<31)))
	}
	flows := run(t, script(t, lines...), 0)
	c := flows[0].Client()
	got := fmt.Sprintf("SYNs %d packets %d bytes %d wire %d", c.SYNs, c.Packets, c.Bytes, c.WireBytes)
	want := fmt.Sprintf("SYNs 300 packets 304 bytes %d wire %d", uint64(3)<<31, uint64(3)<<31+304*66)
	if got != want {
		t.Errorf("client counters: %s, want %s", got, want)
	}

	// 2^32 packets would take too long to send: start one short.
	r := ref{conn: &conn{}, slotData: new(slotData)}
	r.ep[Server].Packets = math.MaxUint32
	for range 2 {
		if r.ep[Server].add(0, 0) {
			r.carry(Server, 0, 0)
		}
	}
	if n := r.packets(Server); n != 1<<32+1 {
		t.Errorf("packets %d, want %d", n, uint64(1)<<32+1)
	}
}

// TestAddDoesNotAllocate checks the per-packet path of an existing flow.
func TestAddDoesNotAllocate(t *testing.T) {
	tab := NewTable(DefaultConfig(), func(*Flow) {})
	segs := script(t, exchange...)
	for i := range segs {
		tab.Add(&segs[i])
	}
	data := script(t, "C P. 1101/5201 100", "S . 5201/1201")
	seq := uint32(1101)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		d, a := &data[0], &data[1]
		d.Seq, a.Ack = seq, seq+100
		d.Time += int64(time.Microsecond)
		a.Time = d.Time + 1
		tab.Add(d)
		tab.Add(a)
		seq += 100
		i++
	})
	if allocs != 0 {
		t.Errorf("Add on an existing flow: %v allocations per packet pair, want 0", allocs)
	}
}

// TestFinishedFlowAllocations pins what a clean connection costs in
// allocations from its SYN to its emission, as every flow of a capture
// does: its Flow (with its Timeline and Zeek record, see flowWithRoom) and
// its Zeek history's string. Its conn is a reused slab slot with its
// timeline inline (slab.go), and its Reason is a constant.
func TestFinishedFlowAllocations(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TimeWait, cfg.NoLadders = 0, true // emitted at the next flow's SYN
	emitted := 0
	tab := NewTable(cfg, func(f *Flow) {
		if f.Verdict != Clean || len(f.Timeline) != timelineRoom {
			t.Fatalf("flow %d: %v with %d transitions, want clean with %d", f.ID, f.Verdict, len(f.Timeline), timelineRoom)
		}
		emitted++
	})
	conn := script(t, with(exchange, "C F. 1101/5201", "S . 5201/1102", "S F. 5201/1102", "C . 1102/5202")...)
	runs := 0
	allocs := testing.AllocsPerRun(1000, func() {
		runs++
		addFromPort(tab, conn, uint16(1024+runs), int64(runs)*int64(time.Second))
	})
	if emitted != runs-1 {
		t.Fatalf("%d flows emitted, want %d", emitted, runs-1)
	}
	if allocs > 2 {
		t.Errorf("a clean connection: %v allocations, want 2 at most", allocs)
	}
}

// BenchmarkFinishFlow is what a flow costs when it ends, without its
// packets: the table's bookkeeping and finalize, which builds the Flow,
// for clean connections whose TIME_WAIT ran out, as most flows of a
// capture end. One op is one flow.
func BenchmarkFinishFlow(b *testing.B) {
	cfg := DefaultConfig()
	cfg.TimeWait, cfg.NoLadders = time.Hour, true
	conn := script(b, with(exchange, "C F. 1101/5201", "S . 5201/1102", "S F. 5201/1102", "C . 1102/5202")...)
	const chunk = 10_000
	emitted := 0
	b.ReportAllocs()
	for done := 0; done < b.N; done += chunk {
		b.StopTimer()
		tab := NewTable(cfg, func(*Flow) { emitted++ })
		var last int64
		for i := range min(chunk, b.N-done) {
			last = addFromPort(tab, conn, uint16(1024+i), int64(i)*int64(20*time.Millisecond))
		}
		b.StartTimer()
		tab.Close(last + int64(cfg.TimeWait))
	}
	if emitted != b.N {
		b.Fatalf("%d flows emitted, want %d", emitted, b.N)
	}
}

// addFromPort adds segs, a connection of testClient, to tab as if from
// port of testClient's address and shift nanoseconds later, and returns
// the last one's time.
func addFromPort(tab *Table, segs []capture.Segment, port uint16, shift int64) (last int64) {
	client := netip.AddrPortFrom(testClient.Addr(), port)
	for _, seg := range segs {
		if seg.Src == testClient {
			seg.Src = client
		} else {
			seg.Dst = client
		}
		seg.Time += shift
		tab.Add(&seg)
		last = seg.Time
	}
	return last
}

var sinkFlows int

func BenchmarkTableAdd(b *testing.B) {
	// 1000 concurrent flows, each sending data and acks.
	const nflows = 1000
	segs := make([]capture.Segment, 0, 2*nflows)
	for i := 0; i < nflows; i++ {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 40000)
		d := capture.Segment{Src: cli, Dst: testServer, Flags: capture.ACK | capture.PSH, Seq: 1, Ack: 1,
			PayloadLen: 100, Window: 1000, WScale: -1, WireLen: 166}
		a := capture.Segment{Src: testServer, Dst: cli, Flags: capture.ACK, Seq: 1, Ack: 101,
			Window: 1000, WScale: -1, WireLen: 66}
		segs = append(segs, d, a)
	}
	tab := NewTable(DefaultConfig(), func(*Flow) { sinkFlows++ })
	b.ReportAllocs()
	b.ResetTimer()
	now := testEpoch
	for n := 0; n < b.N; n++ {
		s := &segs[n%len(segs)]
		now += 1000
		s.Time = now
		if s.Flags.Has(capture.PSH) {
			s.Seq += 100
		} else {
			s.Ack += 100
		}
		tab.Add(s)
	}
	b.StopTimer()
	tab.Close(now)
}

// TestMaxFlowsBoundsTheTable floods the table with SYNs from distinct
// sources: it never tracks more than MaxFlows, evicts the oldest, counts
// the evictions, and still emits every flow exactly once.
func TestMaxFlowsBoundsTheTable(t *testing.T) {
	const sources, maxFlows = 20000, 500
	cfg := DefaultConfig()
	cfg.MaxFlows = maxFlows
	emitted := 0
	tab := NewTable(cfg, func(f *Flow) {
		emitted++
		if f.Verdict != SynUnanswered {
			t.Fatalf("flow %d: %v, want syn_unanswered", f.ID, f.Verdict)
		}
	})
	seg := capture.Segment{Dst: testServer, Flags: capture.SYN, Seq: 1, WScale: -1, WireLen: 60}
	for i := 0; i < sources; i++ {
		seg.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), uint16(1024+i%60000))
		seg.Time = testEpoch + int64(i)*int64(time.Microsecond)
		seg.Index = uint64(i + 1)
		tab.Add(&seg)
		if n := tab.Stats().Active; n > maxFlows {
			t.Fatalf("%d flows tracked, MaxFlows is %d", n, maxFlows)
		}
	}
	tab.Close(seg.Time)
	st := tab.Stats()
	if st.Evicted != sources-maxFlows || emitted != sources || st.Total != sources {
		t.Errorf("evicted %d, emitted %d, total %d; want %d, %d, %d", st.Evicted, emitted, st.Total,
			sources-maxFlows, sources, sources)
	}
}
