package report

import (
	"net/netip"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// The golden tests render one hand-built audit: flows of every verdict,
// IPv4 and IPv6, with ladders computed from a packet script, and hostile
// strings where a capture could plant them (file name, warning, note).

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// sec is an instant t0 + s seconds.
func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// hostile is what a pcapng comment or interface name could carry: HTML,
// Markdown table and emphasis syntax, and a terminal "clear screen".
const hostile = "<script>alert(1)</script> | *boom* _x_ [link](http://evil) \x1b[2J\u202eevil"

// pkt is one line of a flow's packet script.
type pkt struct {
	at    float64 // seconds after t0
	from  reassembly.Side
	flags capture.Flags
	len   uint32
}

const (
	cli = reassembly.Client
	srv = reassembly.Server
	S   = capture.SYN
	SA  = capture.SYN | capture.ACK
	A   = capture.ACK
	PA  = capture.PSH | capture.ACK
	FA  = capture.FIN | capture.ACK
	R   = capture.RST
	RA  = capture.RST | capture.ACK
)

// nextIndex numbers packets across the whole fixture, as a capture would.
var nextIndex uint64

// mkFlow builds a flow from its packet script: sequence and ack numbers,
// per-direction counters, first/last seen and the ladder all follow from
// the script, as the reassembly would compute them.
func mkFlow(id uint64, client, server string, script []pkt, tl []reassembly.Transition) *reassembly.Flow {
	f := &reassembly.Flow{ID: id, Timeline: tl}
	f.Ends[cli].Addr = netip.MustParseAddrPort(client)
	f.Ends[srv].Addr = netip.MustParseAddrPort(server)
	isn := [2]uint32{1_000_000 * uint32(id), 4_000_000_000 + uint32(id)} // server ISNs wrap
	var next [2]uint32
	var ladder []reassembly.LadderStep
	var omitted uint64
	for i, p := range script {
		nextIndex++
		e := &f.Ends[p.from]
		if p.flags.Has(capture.SYN) && !e.SawSYN {
			e.SawSYN, e.ISN = true, isn[p.from]
			next[p.from] = e.ISN
		}
		seq := next[p.from]
		var ack uint32
		if p.flags.Has(capture.ACK) {
			ack = next[p.from.Reverse()]
		}
		step := reassembly.LadderStep{Time: sec(p.at), Index: nextIndex, From: p.from, Flags: p.flags,
			Seq: seq, Ack: ack, Len: p.len, Window: 64240}
		n := p.len
		if p.flags.Has(capture.SYN) {
			n++
			if e.SYNs > 0 { // a retransmitted SYN or SYN-ACK reuses the ISN
				step.Seq, n = e.ISN, 0
			}
			e.SYNs++
		}
		if p.flags.Has(capture.FIN) {
			if e.FINs > 0 {
				step.Seq = next[p.from] - 1 // a retransmitted FIN
				n = 0
			} else {
				n++
			}
			e.FINs++
		}
		if p.flags.Has(capture.RST) {
			e.RSTs++
		}
		next[p.from] += n
		e.Packets++
		e.Bytes += uint64(p.len)
		e.WireBytes += uint64(p.len) + 66
		if i == 0 {
			f.FirstSeen, f.FirstIndex = step.Time, step.Index
		}
		f.LastSeen, f.LastIndex = step.Time, step.Index
		if len(ladder) < reassembly.LadderHead+reassembly.LadderTail {
			ladder = append(ladder, step)
		} else {
			copy(ladder[reassembly.LadderHead:], ladder[reassembly.LadderHead+1:])
			ladder[len(ladder)-1] = step
			omitted++
		}
	}
	f.SetLadder(ladder, omitted)
	for _, tr := range tl {
		f.Ends[tr.Side].State = tr.State
	}
	return f
}

func tr(s float64, side reassembly.Side, st reassembly.State) reassembly.Transition {
	return reassembly.Transition{Time: sec(s), Side: side, State: st}
}

// handshake is the three-way handshake at t, with RTT rtt.
func handshake(t, rtt float64) []pkt {
	return []pkt{{t, cli, S, 0}, {t + rtt/2, srv, SA, 0}, {t + rtt, cli, A, 0}}
}

func cat(parts ...[]pkt) []pkt {
	var out []pkt
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func estab(t, rtt float64) []reassembly.Transition {
	return []reassembly.Transition{tr(t, cli, reassembly.SynSent), tr(t+rtt/2, srv, reassembly.SynRecv),
		tr(t+rtt/2, cli, reassembly.Established), tr(t+rtt, srv, reassembly.Established)}
}

func tls(parts ...[]reassembly.Transition) []reassembly.Transition {
	var out []reassembly.Transition
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// fixture returns the hand-built audit the golden files are made from.
func fixture() *Data {
	nextIndex = 0
	var flows []*reassembly.Flow
	add := func(f *reassembly.Flow, v reassembly.Verdict, hs reassembly.Handshake, rtt float64, reason string) *reassembly.Flow {
		f.Verdict, f.Handshake, f.Reason = v, hs, reason
		if rtt > 0 {
			f.RTT = time.Duration(rtt * float64(time.Second))
		}
		flows = append(flows, f)
		return f
	}

	// 1 clean, client closes first: the client is in TIME_WAIT at the end.
	f := add(mkFlow(1, "10.0.0.1:40001", "10.0.0.2:80",
		cat(handshake(0, 0.0004), []pkt{{0.001, cli, PA, 120}, {0.0012, srv, A, 0}, {0.004, srv, PA, 900},
			{0.0042, cli, A, 0}, {1.2, cli, FA, 0}, {1.2002, srv, FA, 0}, {1.2004, cli, A, 0}}),
		tls(estab(0, 0.0004), []reassembly.Transition{tr(1.2, cli, reassembly.FinWait1), tr(1.2002, srv, reassembly.LastAck),
			tr(1.2002, cli, reassembly.TimeWait), tr(1.2004, srv, reassembly.Closed)})),
		reassembly.Clean, reassembly.HandshakeComplete, 0.0004, "FINs both ways, both acknowledged")
	f.ActiveCloser, f.ConnState, f.History = reassembly.ByClient, "SF", "ShADadFf"

	// 2 and 3 clean, server closes first (HTTP Connection: close): the
	// server piles up TIME_WAIT.
	for i, start := range []float64{2, 2.5} {
		f = add(mkFlow(uint64(2+i), "10.0.0.1:"+[]string{"40002", "40003"}[i], "10.0.0.2:80",
			cat(handshake(start, 0.0006), []pkt{{start + 0.001, cli, PA, 80}, {start + 0.003, srv, FA, 512},
				{start + 0.0034, cli, FA, 0}, {start + 0.0037, srv, A, 0}}),
			tls(estab(start, 0.0006), []reassembly.Transition{tr(start+0.003, srv, reassembly.FinWait1),
				tr(start+0.0034, cli, reassembly.LastAck), tr(start+0.0034, srv, reassembly.TimeWait), tr(start+0.0037, cli, reassembly.Closed)})),
			reassembly.Clean, reassembly.HandshakeComplete, 0.0006, "FINs both ways, both acknowledged; server closed first")
		f.ActiveCloser, f.ConnState, f.History = reassembly.ByServer, "SF", "ShADdFaf"
	}

	// 4 open, IPv6.
	f = add(mkFlow(4, "[2001:db8::10]:50000", "[2001:db8::20]:443",
		cat(handshake(3, 0.02), []pkt{{3.05, cli, PA, 517}, {3.07, srv, PA, 1400}, {3.09, cli, A, 0}}),
		estab(3, 0.02)),
		reassembly.Open, reassembly.HandshakeComplete, 0.02, "established, last packet 26.91 s before the end")
	f.ConnState, f.History = "S1", "ShADad"

	// 5 half_closed: the client closed 2 s before the end.
	f = add(mkFlow(5, "10.0.0.1:40005", "10.0.0.3:5432",
		cat(handshake(4, 0.001), []pkt{{4.01, cli, PA, 60}, {4.02, srv, PA, 300}, {28, cli, FA, 0}, {28.0005, srv, A, 0}}),
		tls(estab(4, 0.001), []reassembly.Transition{tr(28, cli, reassembly.FinWait1), tr(28.0005, srv, reassembly.CloseWait),
			tr(28.0005, cli, reassembly.FinWait2)})),
		reassembly.HalfClosed, reassembly.HandshakeComplete, 0.001, "client FIN acknowledged 2.00 s before the end; server has not closed yet")
	f.ActiveCloser, f.ConnState, f.History = reassembly.ByClient, "S2", "ShADadF"

	// 6 lingering_fin_wait2, IPv6: the server closed, the client app never did.
	f = add(mkFlow(6, "[2001:db8::10]:50001", "[2001:db8::30]:8080",
		cat(handshake(5, 0.003), []pkt{{5.01, cli, PA, 200}, {5.02, srv, FA, 100}, {5.021, cli, A, 0}}),
		tls(estab(5, 0.003), []reassembly.Transition{tr(5.02, srv, reassembly.FinWait1), tr(5.021, cli, reassembly.CloseWait),
			tr(5.021, srv, reassembly.FinWait2)})),
		reassembly.LingeringFinWait2, reassembly.HandshakeComplete, 0.003, "server FIN acknowledged, client silent for 24.98 s (end of capture)")
	f.ActiveCloser, f.ConnState, f.History = reassembly.ByServer, "S3", "ShADdaF"
	f.Notes = []string{"interface comment: " + hostile}

	// 7 unacked_fin: the client's FIN is retransmitted into silence.
	f = add(mkFlow(7, "10.0.0.1:40007", "10.0.0.4:25",
		cat(handshake(6, 0.002), []pkt{{6.01, srv, PA, 40}, {6.02, cli, A, 0}, {7, cli, FA, 0}, {7.2, cli, FA, 0},
			{7.6, cli, FA, 0}, {8.4, cli, FA, 0}}),
		tls(estab(6, 0.002), []reassembly.Transition{tr(7, cli, reassembly.FinWait1)})),
		reassembly.UnackedFin, reassembly.HandshakeComplete, 0.002, "client FIN sent 4 times, never acknowledged")
	f.ActiveCloser, f.ConnState, f.History = reassembly.ByClient, "S1", "ShAdDF"
	f.Client().Retransmits = 3

	// 8 syn_unanswered.
	f = add(mkFlow(8, "10.0.0.1:40008", "10.0.0.5:443",
		[]pkt{{9, cli, S, 0}, {10, cli, S, 0}, {12, cli, S, 0}, {16, cli, S, 0}},
		[]reassembly.Transition{tr(9, cli, reassembly.SynSent)}),
		reassembly.SynUnanswered, reassembly.HandshakeSynUnanswered, 0, "4 SYNs over 7.00 s, no reply")
	f.ConnState, f.History = "S0", "S"
	f.Client().Retransmits = 3

	// 9 refused, IPv6.
	f = add(mkFlow(9, "[2001:db8::10]:50002", "[2001:db8::20]:22",
		[]pkt{{10, cli, S, 0}, {10.0003, srv, RA, 0}},
		[]reassembly.Transition{tr(10, cli, reassembly.SynSent), tr(10.0003, cli, reassembly.Closed)}),
		reassembly.Refused, reassembly.HandshakeRefused, 0, "SYN answered by RST after 300µs")
	f.ResetBy, f.ConnState, f.History = reassembly.ByServer, "REJ", "Sr"

	// 10 and 11 synack_unacked from spoofed sources: SYN_RECV peaks at 2.
	for i, c := range []string{"198.51.100.7:1111", "203.0.113.9:2222"} {
		start := 11 + 0.5*float64(i)
		f = add(mkFlow(uint64(10+i), c, "10.0.0.2:80",
			[]pkt{{start, cli, S, 0}, {start + 0.0001, srv, SA, 0}, {start + 1.0001, srv, SA, 0}, {start + 3.0001, srv, SA, 0}},
			[]reassembly.Transition{tr(start, cli, reassembly.SynSent), tr(start+0.0001, srv, reassembly.SynRecv)}),
			reassembly.SynAckUnacked, reassembly.HandshakeSynAckUnacked, 0, "SYN-ACK sent 3 times, never acknowledged")
		f.ConnState, f.History = "S1", "Sh"
	}

	// 12 reset by the server in answer to the request.
	f = add(mkFlow(12, "10.0.0.1:40012", "10.0.0.6:8443",
		cat(handshake(13, 0.0008), []pkt{{13.01, cli, PA, 300}, {13.2, srv, RA, 0}}),
		tls(estab(13, 0.0008), []reassembly.Transition{tr(13.2, srv, reassembly.Closed), tr(13.2, cli, reassembly.Closed)})),
		reassembly.Reset, reassembly.HandshakeComplete, 0.0008, "server sent RST 190ms after the client's request")
	f.ResetBy, f.ConnState, f.History = reassembly.ByServer, "RSTR", "ShADr"

	// 13 half_open, IPv6: the client retransmits into silence; 40 packets,
	// so its ladder is cut in the middle.
	script := handshake(14, 0.01)
	script = append(script, pkt{14.02, cli, PA, 100}, pkt{14.03, srv, A, 0})
	for i := 0; i < 35; i++ {
		script = append(script, pkt{15 + 0.4*float64(i), cli, PA, 100})
	}
	f = add(mkFlow(13, "[2001:db8::10]:50003", "[2001:db8::40]:5672", script, estab(14, 0.01)),
		reassembly.HalfOpen, reassembly.HandshakeComplete, 0.01, "server silent 15.0 s; client sent 35 segments")
	f.ConnState, f.History = "S1", "ShADadD"
	f.Client().Retransmits = 34

	// 14 mid-stream start: roles inferred from ports, reset by the client.
	f = add(mkFlow(14, "10.0.0.7:51000", "10.0.0.2:80",
		[]pkt{{17, srv, PA, 1400}, {17.001, cli, A, 0}, {17.5, cli, RA, 0}},
		[]reassembly.Transition{tr(17, cli, reassembly.Established), tr(17, srv, reassembly.Established),
			tr(17.5, cli, reassembly.Closed), tr(17.5, srv, reassembly.Closed)}),
		reassembly.Reset, reassembly.HandshakeNotSeen, 0, "client sent RST 500ms after the server's data")
	f.ResetBy, f.ConnState, f.History = reassembly.ByClient, "RSTOS0", "daR"
	f.RolesInferred, f.RoleReason = true, "ports"

	return &Data{
		Inputs:  []string{"incident-" + hostile + ".pcapng"},
		Flows:   flows,
		Config:  reassembly.DefaultConfig(),
		Start:   sec(0),
		End:     sec(30),
		Capture: CaptureStats{Packets: 120, TCP: 112, NonTCP: 6, Undecodable: 2},
		Warnings: []string{"pcapng comment on interface 0: " + hostile,
			"2 packets too short to decode were skipped"},
		EvidenceFile: "evidence.pcap",
	}
}
