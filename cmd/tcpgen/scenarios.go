package main

import (
	"net/netip"
	"slices"
	"strconv"
	"time"
)

const (
	ms  = time.Millisecond
	sec = time.Second
)

// scenarioDef is one entry of the catalogue: a file name, one line on what it
// shows, and the code that builds it.
type scenarioDef struct {
	name, about string
	build       func(s *scenario)
}

// catalogue lists every committed capture. Each builder adds packets and the
// expectation of every flow.
var catalogue = []scenarioDef{
	// Endings, one per verdict (and per variant of a verdict).
	{"clean-client-close.pcap", "client closes first; four-way close; client left in TIME_WAIT", cleanClientClose},
	{"clean-server-close.pcap", "server closes first (HTTP/1.0 style); server left in TIME_WAIT", cleanServerClose},
	{"clean-simultaneous-close.pcap", "both FINs cross on the wire; both sides go through CLOSING to TIME_WAIT", cleanSimultaneous},
	{"clean-fin-with-data.pcap", "request+FIN in one segment, answered by response+FIN+ACK (three-segment close)", cleanFinWithData},
	{"open.pcap", "established connection still exchanging requests when the capture ends", openConn},
	{"half-closed.pcap", "client shut down its sending side 10 s before the end; server still sending", halfClosed},
	{"lingering-fin-wait2.pcap", "server closed an idle connection; the client never closed for 70 s", lingeringFinWait2},
	{"unacked-fin-last-ack.pcap", "server's FIN retransmitted to a client that vanished after its own FIN", unackedFinLastAck},
	{"unacked-fin-fin-wait1.pcap", "client's FIN retransmitted to a silent server", unackedFinFinWait1},
	{"syn-unanswered.pcap", "SYN retransmitted at 1, 3, 7, 15 s (same ISN) with no answer: a firewall drops it", synUnanswered},
	{"refused.pcap", "SYN answered by RST+ACK: no listener", refused},
	{"synack-unacked.pcap", "SYN-ACK retransmitted at 1, 3, 7, 15 s, never acknowledged: server in SYN_RECV", synAckUnacked},
	{"reset-by-client.pcap", "client aborts an established connection with RST", resetBy(C)},
	{"reset-by-server.pcap", "server aborts an established connection with RST", resetBy(S)},
	{"half-open-silent.pcap", "server crashed: client data retransmitted for 51 s into silence", halfOpenSilent},
	{"half-open-rst.pcap", "server rebooted: client retransmits, the server finally answers with RST", halfOpenRST},

	// Link types, encapsulations and containers: one clean flow each.
	{"ipv6-ext-header.pcap", "IPv6 with a destination-options extension header before TCP", linkClean(link{kind: linkEthernet, name: "eth0", ext6: true}, "[2001:db8::1]:40000", "[2001:db8::2]:443")},
	{"vlan.pcap", "802.1Q VLAN 100", linkClean(link{kind: linkVLAN, name: "eth0", vlan: 100}, "10.1.0.1:40000", "10.1.0.2:80")},
	{"qinq.pcap", "QinQ: 802.1ad service tag 200 around 802.1Q tag 100", linkClean(link{kind: linkQinQ, name: "eth0", outerVLAN: 200, vlan: 100}, "10.2.0.1:40000", "10.2.0.2:80")},
	{"mpls.pcap", "one MPLS label (1000) over Ethernet", linkClean(link{kind: linkMPLS, name: "eth0", mplsLabel: 1000}, "10.3.0.1:40000", "10.3.0.2:80")},
	{"pppoe.pcap", "PPPoE session 0x1234 carrying PPP/IPv4", linkClean(link{kind: linkPPPoE, name: "eth0", pppoeSession: 0x1234}, "10.4.0.1:40000", "10.4.0.2:80")},
	{"sll.pcap", "Linux cooked capture v1 (DLT_LINUX_SLL)", linkClean(link{kind: linkSLL, name: "any", local: netip.MustParseAddr("10.5.0.1")}, "10.5.0.1:40000", "10.5.0.2:80")},
	{"sll2.pcap", "Linux cooked capture v2 (DLT_LINUX_SLL2), what tcpdump -i any writes", linkClean(link{kind: linkSLL2, name: "any", local: netip.MustParseAddr("10.6.0.1")}, "10.6.0.1:40000", "10.6.0.2:80")},
	{"sll2-loopback-any.pcap", "tcpdump -i any on loopback (IPv6 ::1): SLL2 shows every packet twice, leaving and arriving", loopbackAny},
	{"null-loopback.pcap", "BSD loopback (DLT_NULL), as captured on lo0", linkClean(link{kind: linkNull, name: "lo0"}, "127.0.0.1:50000", "127.0.0.1:8080")},
	{"raw-ip.pcap", "raw IP (LINKTYPE_RAW), as captured on a tun device", linkClean(link{kind: linkRaw, name: "tun0"}, "10.8.0.1:40000", "10.8.0.2:80")},
	{"pcapng-two-interfaces.pcapng", "pcapng, eth0 (Ethernet) and tun0 (raw IP): a clean flow on one, a reset on the other, interleaved", pcapngTwoInterfaces},
	{"nanosecond.pcap", "pcap with nanosecond timestamps (magic a1b23c4d), packets 1357 ns apart", nanosecond},
	{"big-endian.pcap", "pcap written big-endian (magic a1b2c3d4 in network order)", bigEndian},
	{"gzip.pcap.gz", "gzip-compressed pcap: a clean flow and a refused one", gzipped},

	// TCP details that must not fool the analysis.
	{"ipv4-fragment.pcap", "a 1200-byte request split into two IPv4 fragments; the TCP header is in the first", ipv4Fragment},
	{"port-reuse.pcap", "same 4-tuple twice: a reset connection, then a new SYN with a new ISN 2 s later", portReuse},
	{"time-wait-reuse.pcap", "server in TIME_WAIT accepts a new SYN (higher ISN) on the same 4-tuple 5 s later", timeWaitReuse},
	{"syn-retransmit-same-isn.pcap", "SYN retransmitted after 1 s with the same ISN, then answered: one flow", synRetransmitted},
	{"seq-wrap-data.pcap", "both sides' sequence numbers wrap past 2^32 in the middle of data", seqWrapData},
	{"seq-wrap-fin.pcap", "both FINs sit on sequence number 2^32-1; their ACKs are 0", seqWrapFin},
	{"midstream.pcap", "capture starts mid-connection: one flow with no handshake, one starting at the SYN-ACK", midstream},
	{"keepalive.pcap", "idle connections kept up by keepalive probes every 15 s (Linux: no data; Windows: one old byte), each answered", keepalive},
	{"zero-window.pcap", "receiver advertises a zero window; probes (1-byte and Linux-style) until it opens", zeroWindow},
	{"out-of-order-dup.pcap", "segments captured out of order, one duplicated, then a clean close", outOfOrder},
	{"time-wait-pileup.pcap", "server closes first on 200 short connections 470 ms apart: TIME_WAIT piles up (and expires)", timeWaitPileup},
	{"rotated", "one flow split across two files at 5 s, as tcpdump -G writes them", rotated},

	// Adversarial traffic (issue 6).
	{"adv-blind-rst.pcap", "RSTs with random sequence numbers (RFC 5961 blind resets) that must not end flows, then one in-window RST", blindRST},
	{"adv-synack-isn.pcap", "SYN-ACKs with differing ISNs: a late spoofed one, and a bogus one the client resets before the real one", synAckISN},
	{"adv-overlap-retrans.pcap", "overlapping and contradictory retransmissions (same bytes, different content)", overlapRetrans},
	{"adv-backwards-time.pcap", "timestamps step 1.5 s backwards mid-connection", backwardsTime},
	{"adv-both-ends", "the same flow captured on the client and on the server, two files read together", bothEnds},
	{"adv-span-duplicates.pcap", "every packet twice, 15 µs apart with TTL one lower, as a SPAN port sees it", spanDuplicates},

	{"demo.pcap", "the `make demo` sample: a web server's two minutes with every kind of ending", demo},
}

// Zeek histories of the common shapes: handshake, one request/response with
// separate ACKs (D a d A), then the close.
const (
	histClientClose = "ShADadFf"
	histServerClose = "ShADadfF"
)

func expClientClose(why string) exp {
	return exp{vClean, stTimeWait, stClosed, "SF", histClientClose, why}
}

func cleanClientClose(s *scenario) {
	c := s.conn("10.0.0.1:40000", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.wait(5 * ms).closeBy(C)
	s.expect(c, expClientClose("both FINs acked; the client closed first and sits in TIME_WAIT for 60 s"))
}

func cleanServerClose(s *scenario) {
	c := s.conn("10.0.0.1:40001", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.wait(5 * ms).closeBy(S)
	s.expect(c, exp{vClean, stClosed, stTimeWait, "SF", histServerClose,
		"both FINs acked; the server closed first and sits in TIME_WAIT"})
}

func cleanSimultaneous(s *scenario) {
	c := s.conn("10.0.0.1:40002", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.wait(5 * ms)
	// The server's FIN leaves before the client's arrives: it acknowledges
	// only the data, not the client's FIN (RFC 9293 figure 13).
	ackBeforeFin := c.ackOf(S)
	c.fin(C)
	c.send(S, flagFIN|flagACK, c.nxt[S], ackBeforeFin, 0)
	c.nxt[S]++
	c.ack(C)
	c.ack(S)
	c.closer = "both"
	s.expect(c, exp{vClean, stTimeWait, stTimeWait, "SF", histClientClose,
		"FINs crossed: each side went FIN_WAIT1, CLOSING, TIME_WAIT"})
}

func cleanFinWithData(s *scenario) {
	c := s.conn("10.0.0.1:40003", "10.0.0.2:7", 0).handshake()
	c.finData(C, 80)
	c.wait(ms)
	c.finData(S, 700) // acknowledges the client's FIN as it goes
	c.ack(C)
	// Zeek records a FIN that carries data as F alone, without D.
	s.expect(c, exp{vClean, stTimeWait, stClosed, "SF", "ShAFf",
		"data rode on both FINs, the server's FIN acked the client's; client in TIME_WAIT"})
}

func openConn(s *scenario) {
	c := s.conn("10.0.0.1:40004", "10.0.0.2:80", 0).handshake()
	for range 5 {
		c.exchange(200, 1400).wait(sec)
	}
	s.expect(c, exp{vOpen, stEstablished, stEstablished, "S1", "ShADad",
		"requests every second up to the end of the capture"})
}

func halfClosed(s *scenario) {
	c := s.conn("10.0.0.1:40005", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.fin(C)
	c.ack(S)
	for range 10 {
		c.wait(sec)
		c.data(S, 1400)
		c.ack(C)
	}
	s.expect(c, exp{vHalfClosed, stFinWait2, stCloseWait, "S2", "ShADadF",
		"client FIN acked 10 s before the end (< 60 s fin-timeout); server still sending"})
}

func lingeringFinWait2(s *scenario) {
	c := s.conn("10.0.0.1:40006", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.wait(sec)
	c.fin(S)
	c.ack(C)
	s.expect(c, exp{vLingeringFinWait2, stCloseWait, stFinWait2, "S3", "ShADadf",
		"server FIN acked ~69 s before the end (> 60 s) and the client never closed"})
	// A health check 70 s later is what makes the capture that long.
	h := s.conn("10.0.0.9:40100", "10.0.0.2:80", 70*sec).handshake().exchange(40, 200)
	h.closeBy(C)
	s.expect(h, expClientClose("health check; client closed first"))
}

func unackedFinLastAck(s *scenario) {
	c := s.conn("10.0.0.1:40007", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.fin(C)
	c.ack(S)
	c.wait(50 * ms)
	c.backoff(c.fin(S), 200*ms, 5)
	// Zeek: both sides sent a FIN, so SF, though one was never acked.
	s.expect(c, exp{vUnackedFin, stFinWait2, stLastAck, "SF", histClientClose,
		"server FIN sent 6 times over 6.2 s, never acked: server stuck in LAST_ACK; " +
			"the client would ack a FIN it got (even in TIME_WAIT), so it never got one: still FIN_WAIT2"})
}

func unackedFinFinWait1(s *scenario) {
	c := s.conn("10.0.0.1:40008", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.wait(10 * ms)
	c.backoff(c.fin(C), 200*ms, 5)
	s.expect(c, exp{vUnackedFin, stFinWait1, stEstablished, "S2", "ShADadF",
		"client FIN sent 6 times over 6.2 s, never acked: client stuck in FIN_WAIT1; " +
			"the server never got it (it would have acked), so it is still ESTABLISHED"})
}

func synUnanswered(s *scenario) {
	c := s.conn("10.0.0.1:40009", "10.0.0.2:22", 0)
	c.backoff(c.syn(), sec, 4)
	s.expect(c, exp{vSynUnanswered, stSynSent, stClosed, "S0", "S",
		"5 SYNs with the same ISN over 15 s, no reply; the server never saw them, so holds no state (CLOSED)"})
}

func refused(s *scenario) {
	c := s.conn("10.0.0.1:40010", "10.0.0.2:8080", 0)
	c.syn()
	c.refuse()
	s.expect(c, exp{vRefused, stClosed, stClosed, "REJ", "Sr", "SYN answered by RST+ACK"})
}

func synAckUnacked(s *scenario) {
	c := s.conn("203.0.113.7:31337", "10.0.0.2:80", 0)
	c.syn()
	c.backoff(c.synAck(), sec, 4)
	// Zeek marks both endpoints established on the SYN-ACK alone.
	s.expect(c, exp{vSynAckUnacked, stSynSent, stSynRecv, "S1", "Sh",
		"SYN-ACK sent 5 times over 15 s, never acked: server in SYN_RECV; " +
			"the client never got it (it would have acked or reset), so it is left in SYN_SENT"})
}

func resetBy(by side) func(*scenario) {
	return func(s *scenario) {
		c := s.conn("10.0.0.1:40011", "10.0.0.2:80", 0).handshake().exchange(120, 900)
		c.wait(20 * ms)
		c.rst(by)
		state, hist := "RSTO", "ShADadR"
		if by == S {
			state, hist = "RSTR", "ShADadr"
		}
		s.expect(c, exp{vReset, stClosed, stClosed, state, hist, by.String() + " sent an in-window RST after the handshake"})
	}
}

func halfOpenSilent(s *scenario) {
	c := s.conn("10.0.0.1:40012", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.wait(sec)
	c.backoff(c.data(C, 300), 200*ms, 8)
	s.expect(c, exp{v: vHalfOpen, client: stEstablished, server: stEstablished, connState: "S1",
		why: "client retransmitted 8 times over 51 s (> 20 s stall timeout), the server never answered"})
}

func halfOpenRST(s *scenario) {
	c := s.conn("10.0.0.1:40013", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.wait(sec)
	last := c.backoff(c.data(C, 300), 200*ms, 8)
	// The rebooted server knows nothing of the connection and resets it
	// with the sequence number the segment acknowledged (RFC 9293
	// section 3.10.7.1, no ACK flag).
	c.send(S, flagRST, last.ack, 0, 0)
	c.resetBy = S.String()
	s.expect(c, exp{v: vHalfOpen, client: stClosed, server: stClosed, connState: "RSTR",
		why: "client retransmitted into 51 s of silence, then the rebooted server answered with RST"})
}

// linkClean is a clean client-first flow on the given link.
func linkClean(l link, client, server string) func(*scenario) {
	return func(s *scenario) {
		s.links = []link{l}
		c := s.conn(client, server, 0).handshake().exchange(120, 900)
		c.closeBy(C)
		s.expect(c, expClientClose("clean close over "+l.kind.String()))
	}
}

func loopbackAny(s *scenario) {
	s.links = []link{{kind: linkSLL2, name: "any", ifindex: 1}} // lo
	c := s.conn("[::1]:50100", "[::1]:8080", 0).handshake().exchange(120, 900)
	c.closeBy(C)
	// The "any" socket sees a loopback packet on transmit and again on
	// receive, with the same timestamp to the microsecond or nearly.
	for i := range s.packets {
		s.packets[i].direction = dirOutgoing
		in := s.packets[i]
		in.direction = dirIncoming
		in.at += 2 * time.Microsecond
		s.packets = append(s.packets, in)
	}
	s.expect(c, exp{v: vClean, client: stTimeWait, server: stClosed,
		why: "one clean connection; each packet is captured twice (Out, then In), not retransmitted"})
}

func pcapngTwoInterfaces(s *scenario) {
	s.format = formatPcapng
	s.links = []link{ethernet, {kind: linkRaw, name: "tun0"}}
	a := s.conn("10.0.0.1:40020", "10.0.0.2:80", 0)
	b := s.conn("10.8.0.1:40021", "10.8.0.2:443", 300*ms)
	b.iface = 1
	a.step, b.step = 100*ms, 100*ms // interleave the two flows
	a.handshake().exchange(120, 900).closeBy(C)
	b.handshake().exchange(300, 4000)
	b.rst(C)
	s.expect(a, expClientClose("clean close on eth0"))
	s.expect(b, exp{vReset, stClosed, stClosed, "RSTO", "ShADadR", "client reset on tun0"})
}

func nanosecond(s *scenario) {
	s.format = formatPcapNano
	c := s.conn("10.0.0.1:40022", "10.0.0.2:80", 0)
	c.step = 1357 * time.Nanosecond
	c.handshake().exchange(120, 900).closeBy(C)
	s.expect(c, expClientClose("clean close; timestamps in nanoseconds"))
}

func bigEndian(s *scenario) {
	s.format = formatPcapBigEndian
	c := s.conn("10.0.0.1:40023", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.closeBy(S)
	s.expect(c, exp{vClean, stClosed, stTimeWait, "SF", histServerClose, "clean close, server first"})
}

func gzipped(s *scenario) {
	c := s.conn("10.0.0.1:40024", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.closeBy(C)
	s.expect(c, expClientClose("clean close inside a .gz"))
	r := s.conn("10.0.0.1:40025", "10.0.0.2:81", 50*ms)
	r.syn()
	r.refuse()
	s.expect(r, exp{vRefused, stClosed, stClosed, "REJ", "Sr", "refused inside a .gz"})
}

func ipv4Fragment(s *scenario) {
	c := s.conn("10.0.0.1:40026", "10.0.0.2:80", 0).handshake()
	c.data(C, 1200)
	c.last().fragment = true
	c.ack(S)
	c.data(S, 400)
	c.last().fragment = true
	c.ack(C)
	c.closeBy(C)
	s.expect(c, expClientClose("both requests were fragmented; the TCP header is in the first fragment"))
}

func portReuse(s *scenario) {
	a := s.conn("10.0.0.1:40027", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	a.rst(C)
	b := s.conn("10.0.0.1:40027", "10.0.0.2:80", 2*sec).handshake().exchange(120, 900)
	s.expect(a, exp{vReset, stClosed, stClosed, "RSTO", "ShADadR", "first use of the 4-tuple, reset by the client"})
	s.expect(b, exp{vOpen, stEstablished, stEstablished, "S1", "ShADad", "new SYN with a new ISN: a second flow, open at the end"})
}

func timeWaitReuse(s *scenario) {
	a := s.conn("10.0.0.1:40028", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	a.closeBy(S)
	b := s.conn("10.0.0.1:40028", "10.0.0.2:80", 5*sec)
	// Linux accepts a SYN in TIME_WAIT when its ISN is above the old
	// connection's (tcp_timewait_state_process), so the client picks one.
	b.isn[C] = a.nxt[C] + 1_000_000
	b.nxt[C] = b.isn[C]
	b.handshake().exchange(120, 900).closeBy(C)
	s.expect(a, exp{vClean, stClosed, stClosed, "SF", histServerClose,
		"server's TIME_WAIT ended after 5 s by a new SYN on the same 4-tuple"})
	s.expect(b, expClientClose("the connection that reused the 4-tuple"))
}

func synRetransmitted(s *scenario) {
	c := s.conn("10.0.0.1:40029", "10.0.0.2:80", 0)
	p := c.syn()
	c.at(sec)
	c.again(p)
	c.synAck()
	c.ack(C)
	c.exchange(120, 900).closeBy(C)
	s.expect(c, expClientClose("the SYN was sent twice with the same ISN: one flow"))
}

func seqWrapData(s *scenario) {
	c := s.conn("10.0.0.1:40030", "10.0.0.2:80", 0)
	c.isn = [2]uint32{0xFFFFF000, 0xFFFFFE00}
	c.nxt = c.isn
	c.handshake()
	for range 3 {
		c.exchange(2000, 1000)
	}
	c.closeBy(C)
	s.expect(c, expClientClose("client sequence wraps during the second request, server's during the first response"))
}

func seqWrapFin(s *scenario) {
	c := s.conn("10.0.0.1:40031", "10.0.0.2:80", 0)
	// ISN + 1 (SYN) + data = 2^32-1, where each FIN then sits.
	c.isn = [2]uint32{0xFFFFFFFF - 1 - 100, 0xFFFFFFFF - 1 - 500}
	c.nxt = c.isn
	c.handshake().exchange(100, 500).closeBy(C)
	s.expect(c, expClientClose("both FINs have sequence 4294967295 and are acked with 0"))
}

func midstream(s *scenario) {
	a := s.conn("10.0.0.1:51234", "10.0.0.2:443", 0).midstream()
	a.data(C, 300)
	a.ack(S)
	a.data(S, 1400)
	a.ack(C)
	a.wait(10 * ms).closeBy(C)
	e := s.expect(a, exp{v: vClean, client: stTimeWait, server: stClosed, connState: "SF",
		why: "no handshake seen: roles from the ports (51234 -> 443); client closed first"})
	e.RolesInferred = true

	b := s.conn("10.0.0.3:50022", "10.0.0.2:22", 5*ms)
	b.nxt[C] = b.isn[C] + 1 // its SYN went by before the capture started
	b.synAck()
	b.ack(C)
	b.exchange(40, 600)
	e = s.expect(b, exp{v: vOpen, client: stEstablished, server: stEstablished,
		why: "first packet is the SYN-ACK: its receiver is the client"})
	e.RolesInferred = true
}

func keepalive(s *scenario) {
	for i, ka := range []struct {
		client  string
		probe   func(c *conn, from side) packet
		history string // Zeek counts the old byte as retransmitted data (T)
		why     string
	}{
		{"10.0.0.1:40032", (*conn).keepalive, "ShADad",
			"idle for 60 s; 4 Linux keepalive probes (seq-1, no data), each answered: not data, not a close"},
		{"10.0.0.3:40045", (*conn).keepaliveByte, "",
			"idle for 60 s; 4 Windows keepalive probes (seq-1, one old byte), each answered: not data, not a retransmission"},
	} {
		c := s.conn(ka.client, "10.0.0.2:5432", time.Duration(i)*10*ms).handshake().exchange(120, 900)
		t := c.now
		for i := range 4 {
			c.at(t + time.Duration(15*(i+1))*sec)
			ka.probe(c, C)
			c.ack(S)
		}
		s.expect(c, exp{vOpen, stEstablished, stEstablished, "S1", ka.history, ka.why})
	}
}

func zeroWindow(s *scenario) {
	for i, pr := range []struct {
		client string
		probe  func(c *conn, from side) packet
		why    string
	}{
		// Windows and BSD probe with one byte beyond the zero window.
		{"10.0.0.1:40033", (*conn).zeroWindowProbe,
			"4 one-byte zero-window probes are neither data nor retransmissions of data; window reopened"},
		// Linux's probes look like keepalives: sequence one below the next.
		{"10.0.0.3:40034", (*conn).keepalive,
			"Linux zero-window probes (seq-1, no data) while the window was 0; window reopened"},
	} {
		c := s.conn(pr.client, "10.0.0.2:9000", time.Duration(i)*10*ms).handshake()
		for range 3 {
			c.data(C, 1400)
		}
		c.window(S, 0).ack(S) // the receiving application stopped reading
		t := c.now
		for i := range 4 {
			c.at(t + (200*ms)<<i)
			pr.probe(c, C)
			c.ack(S)
		}
		c.window(S, 509).ack(S) // it caught up: window update
		c.data(C, 1400)
		c.ack(S)
		s.expect(c, exp{v: vOpen, client: stEstablished, server: stEstablished, connState: "S1", why: pr.why})
	}
}

func outOfOrder(s *scenario) {
	c := s.conn("10.0.0.1:40035", "10.0.0.2:80", 0).handshake()
	t := c.now
	p1 := c.data(C, 1000)
	// Sent 2 then 3, captured 3 then 2: the clock decides capture order.
	c.at(t + 400*time.Microsecond)
	c.data(C, 1000)
	c.at(t + 200*time.Microsecond)
	p3 := c.data(C, 1000)
	// The server's duplicate ACK for the hole, between 3 and 2.
	c.at(t + 300*time.Microsecond)
	c.send(S, flagACK, c.nxt[S], p1.seq+1000, 0)
	c.at(t + 600*time.Microsecond)
	c.ack(S)
	c.again(p3) // a spurious retransmission: a duplicate
	c.ack(S)
	c.data(S, 200)
	c.ack(C)
	c.closeBy(C)
	s.expect(c, exp{v: vClean, client: stTimeWait, server: stClosed, connState: "SF",
		why: "reordering and a duplicate segment are not data loss and not a close"})
}

func timeWaitPileup(s *scenario) {
	const n, gap = 200, 470 * ms
	conns := make([]*conn, n)
	for i := range conns {
		c := s.conn("10.0.0.3:"+strconv.Itoa(41000+i), "10.0.0.2:80", time.Duration(i)*gap)
		c.ts = false // 200 flows: keep the file small
		c.handshake()
		c.data(C, 40)
		c.data(S, 120) // acknowledges the request
		c.closeBy(S)   // HTTP/1.0: the server closes
		conns[i] = c
	}
	end := conns[n-1].now - conns[n-1].step
	for _, c := range conns {
		// The server enters TIME_WAIT when it acks the client's FIN, the
		// last packet of the connection.
		left := end - (c.now - c.step)
		st := stTimeWait
		if left >= timeWait {
			st = stClosed
		}
		s.expect(c, exp{vClean, stClosed, st, "SF", "ShADdfFa",
			"server closed first; its TIME_WAIT began " + left.Round(ms).String() + " before the end"})
	}
}

func rotated(s *scenario) {
	c := s.conn("10.0.0.1:40036", "10.0.0.2:80", 0).handshake()
	for range 8 {
		c.exchange(120, 900).wait(sec)
	}
	c.closeBy(C)
	// tcpdump -G 5: a new file every 5 s of capture time.
	s.files = []string{"rotated-1.pcap", "rotated-2.pcap"}
	for i := range s.packets {
		if s.packets[i].at >= 5*sec {
			s.packets[i].file = 1
		}
	}
	s.expect(c, expClientClose("handshake in rotated-1.pcap, close in rotated-2.pcap: one flow when read together"))
}

func blindRST(s *scenario) {
	// The server's receive window: 509 << 7 bytes.
	const window = 509 << 7
	inject := func(c *conn, into side) {
		from := into.peer()
		for {
			seq := s.rng.Uint32()
			if d := seq - c.nxt[from]; d > window<<4 && -d > window<<4 {
				c.send(from, flagRST, seq, 0, 0)
				return
			}
		}
	}
	a := s.conn("10.0.0.1:40037", "10.0.0.2:443", 0).handshake().exchange(300, 4000)
	a.step = 500 * ms
	for i := range 6 {
		inject(a, side(i%2)) // spoofed both ways
	}
	a.step = 200 * time.Microsecond
	a.exchange(300, 4000) // still alive
	a.wait(sec)
	a.rst(C) // sequence = the server's RCV.NXT: in window, it counts
	// No conn_state: Zeek does not check a RST's sequence number, so the
	// blind resets count for it.
	s.expect(a, exp{v: vReset, client: stClosed, server: stClosed,
		why: "6 out-of-window RSTs ignored (RFC 5961); the in-window RST from the client ended it"})

	b := s.conn("10.0.0.1:40038", "10.0.0.2:443", 100*ms).handshake().exchange(300, 4000)
	b.step = 400 * ms
	for i := range 4 {
		inject(b, side(i%2))
	}
	b.step = 200 * time.Microsecond
	b.exchange(300, 4000).closeBy(C)
	s.expect(b, exp{v: vClean, client: stTimeWait, server: stClosed,
		why: "4 blind RSTs did not end it; it closed cleanly afterwards"})
}

func synAckISN(s *scenario) {
	// A spoofed SYN-ACK with another ISN arrives after the real one: the
	// established client answers it with a duplicate ACK (RFC 5961 4.2)
	// and carries on.
	a := s.conn("10.0.0.1:40039", "10.0.0.2:80", 0)
	a.handshake()
	a.send(S, flagSYN|flagACK, s.rng.Uint32(), a.isn[C]+1, 0)
	a.ack(C)
	a.exchange(120, 900).closeBy(C)
	s.expect(a, exp{v: vClean, client: stTimeWait, server: stClosed, connState: "SF",
		why: "the late SYN-ACK with a different ISN is ignored; the real ISN carries the flow"})

	// A bogus SYN-ACK acknowledging the wrong sequence arrives first: the
	// client in SYN_SENT resets it (RST, seq = its ACK) and waits for the
	// real one.
	b := s.conn("10.0.0.1:40040", "10.0.0.2:80", 50*ms)
	b.syn()
	bogus := b.send(S, flagSYN|flagACK, s.rng.Uint32(), b.isn[C]+1+0x10000, 0)
	b.send(C, flagRST, bogus.ack, 0, 0)
	b.synAck()
	b.ack(C)
	b.exchange(120, 900)
	s.expect(b, exp{v: vOpen, client: stEstablished, server: stEstablished,
		why: "the client's RST answered a bogus SYN-ACK, not the connection; the real handshake completed"})
}

func overlapRetrans(s *scenario) {
	c := s.conn("10.0.0.1:40041", "10.0.0.2:80", 0).handshake()
	p1 := c.data(C, 1000)
	p2 := c.data(C, 1000)
	c.send(S, flagACK, c.nxt[S], p1.seq+1000, 0) // only the first arrived
	c.wait(200 * ms)
	// Repacketized: bytes 500..1499, overlapping both originals.
	c.send(C, flagACK|flagPSH, p1.seq+500, c.ackOf(C), 1000)
	// The same range as p2 with different bytes: contradictory.
	c.send(C, flagACK|flagPSH, p2.seq, c.ackOf(C), 1000)
	c.last().fill = 'X'
	c.ack(S)
	c.data(S, 300)
	c.ack(C)
	c.closeBy(C)
	s.expect(c, exp{v: vClean, client: stTimeWait, server: stClosed, connState: "SF",
		why: "overlapping and contradictory retransmissions are neither new data nor a close"})
}

func backwardsTime(s *scenario) {
	c := s.conn("10.0.0.1:40042", "10.0.0.2:80", 0).handshake()
	for range 3 {
		c.exchange(120, 900).wait(sec)
	}
	c.closeBy(C)
	// Write in sending order, with the middle exchange stamped 1.5 s early,
	// as a capture host whose clock was stepped back by NTP.
	s.keepOrder = true
	slices.SortStableFunc(s.packets, func(a, b packet) int { return int(a.at - b.at) })
	for i := 11; i < 15; i++ {
		s.packets[i].at -= 1500 * ms
	}
	s.expect(c, expClientClose("timestamps of 4 packets go 1.5 s backwards; the flow is still one clean connection"))
}

func bothEnds(s *scenario) {
	c := s.conn("10.0.0.1:40044", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.closeBy(C)
	// Each host captured for itself: a packet is stamped when it leaves its
	// sender in one file and 50 µs later, on arrival, in the other.
	const latency = 50 * time.Microsecond
	s.files = []string{"adv-both-ends-client.pcap", "adv-both-ends-server.pcap"}
	for i := range s.packets {
		sent := &s.packets[i]
		if sent.src == c.end[S] {
			sent.file = 1
		}
		arrived := *sent
		arrived.file = 1 - sent.file
		arrived.at += latency
		s.packets = append(s.packets, arrived)
	}
	s.expect(c, exp{v: vClean, client: stTimeWait, server: stClosed,
		why: "the client's and the server's own captures read together: every packet twice, 50 µs apart"})
}

func spanDuplicates(s *scenario) {
	c := s.conn("10.0.0.1:40043", "10.0.0.2:80", 0).handshake().exchange(120, 900)
	c.closeBy(C)
	for _, p := range slices.Clone(s.packets) {
		p.at += 15 * time.Microsecond
		p.ttl = 63 // seen again after a router hop; same IP ID
		s.packets = append(s.packets, p)
	}
	s.expect(c, exp{v: vClean, client: stTimeWait, server: stClosed, connState: "SF",
		why: "each packet appears twice; duplicates are neither retransmitted data nor a second close"})
}
