package main

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// demo is the sample `make demo` audits: two minutes of a web server,
// 192.0.2.10, seen from a tap in front of it. Every kind of ending happens at
// least once, each for a reason an on-call engineer would recognise:
//
//   - browsers look the server up (DNS, not TCP), fetch pages and close
//     (clean, TIME_WAIT on their side);
//   - a load balancer health-checks over HTTP/1.0 every 2 s, the server
//     closes first, and TIME_WAIT piles up on the server;
//   - a websocket stays open all along (open);
//   - a deploy script probes port 8080 where nothing listens (refused);
//   - an admin's ssh to port 22 is dropped by a firewall (syn_unanswered);
//   - the tail of a SYN flood from spoofed sources (synack_unacked);
//   - an API client leaks sockets: the server closes idle connections, the
//     client never does (lingering_fin_wait2, and a recent one half_closed);
//   - a phone vanishes mid-download (half_open), another reboots and answers
//     with RST (half_open);
//   - a user aborts a download, the server rejects a request (reset);
//   - a laptop closes its lid right after closing (unacked_fin).
func demo(s *scenario) {
	const srv = "192.0.2.10"
	type pending struct {
		c *conn
		f func(end time.Duration) exp
	}
	var todo []pending
	later := func(c *conn, f func(end time.Duration) exp) { todo = append(todo, pending{c, f}) }
	port := 32768
	client := func(ip string) string { port += 7; return fmt.Sprintf("%s:%d", ip, port) }
	// lastPacket is when c's most recent packet was sent.
	lastPacket := func(c *conn) time.Duration { return c.now - c.step }
	// waitState is the state of a host that entered TIME_WAIT at t.
	waitState := func(t, end time.Duration) tcpState {
		if end-t < timeWait {
			return stTimeWait
		}
		return stClosed
	}

	// The websocket: a message each way every 10 s; its last one ends the
	// capture at 120 s.
	ws := s.conn(client("198.51.100.120"), srv+":443", 500*ms).handshake().exchange(300, 200)
	for t := 10 * sec; t <= 120*sec; t += 10 * sec {
		ws.at(t-2*ws.step).data(S, 60)
		ws.data(C, 40)
	}
	s.expect(ws, exp{vOpen, stEstablished, stEstablished, "S1", "ShADad", "websocket: messages every 10 s up to the end"})

	// Browsers, each looking the server up first (DNS over UDP: counted
	// and skipped).
	for i := range 12 {
		ip := fmt.Sprintf("198.51.100.%d", 11+i)
		at := time.Duration(2+8*i) * sec
		err := s.dnsLookup(mustAddrPort(client(ip)), mustAddrPort("192.0.2.53:53"), at-30*ms,
			uint16(s.rng.Uint32()), "www.example.test", netip.MustParseAddr(srv))
		if err != nil {
			panic(err) // a constant query that gopacket cannot write is a generator bug
		}
		c := s.conn(client(ip), srv+":443", at)
		c.handshake().exchange(400, 1400).wait(80*ms).exchange(300, 900).wait(50 * ms).closeBy(C)
		later(c, func(end time.Duration) exp {
			st := waitState(lastPacket(c), end)
			return exp{vClean, st, stClosed, "SF", histClientClose, "browser closed first; its TIME_WAIT is " + timeWaitNote(st)}
		})
	}

	// Health checks, HTTP/1.0: the server closes.
	for t := 1 * sec; t < 120*sec; t += 2 * sec {
		c := s.conn(client("198.51.100.50"), srv+":80", t)
		c.handshake()
		c.data(C, 40)
		c.data(S, 120)
		c.closeBy(S)
		later(c, func(end time.Duration) exp {
			st := waitState(lastPacket(c), end)
			return exp{vClean, stClosed, st, "SF", "ShADdfFa", "health check; the server closed first; its TIME_WAIT is " + timeWaitNote(st)}
		})
	}

	// Nothing listens on 8080: three tries by a deploy script.
	for _, t := range []time.Duration{10 * sec, 10*sec + 500*ms, 11 * sec} {
		c := s.conn(client("198.51.100.33"), srv+":8080", t)
		c.syn()
		c.refuse()
		s.expect(c, exp{vRefused, stClosed, stClosed, "REJ", "Sr", "port 8080: SYN answered by RST"})
	}

	// ssh through a firewall that drops it: Linux retries at 1, 3, 7, 15,
	// 31, 63 s and gives up at 127 s, after the capture ends.
	fw := s.conn(client("198.51.100.34"), srv+":22", 30*sec)
	fw.backoff(fw.syn(), sec, 6)
	s.expect(fw, exp{vSynUnanswered, stSynSent, stClosed, "S0", "S", "port 22: 7 SYNs over 63 s, never answered"})

	// The tail of a SYN flood: spoofed sources never answer the SYN-ACKs,
	// which the server retransmits at 1, 3, 7, 15 s.
	for i := range 8 {
		c := s.conn(fmt.Sprintf("203.0.113.%d:%d", 17+29*i, 1024+s.rng.IntN(60000)), srv+":443", 104*sec+time.Duration(i)*50*ms)
		c.syn()
		c.backoff(c.synAck(), sec, 4)
		s.expect(c, exp{vSynAckUnacked, stSynSent, stSynRecv, "S1", "Sh", "spoofed SYN: the SYN-ACK was never acknowledged"})
	}

	// The leaking API client: the server closes idle keep-alive connections
	// after 5 s; the client acknowledges and never closes.
	for _, t := range []time.Duration{5 * sec, 15 * sec, 25 * sec, 95 * sec} {
		c := s.conn(client("198.51.100.77"), srv+":443", t).handshake().exchange(250, 700)
		c.at(t + 5*sec)
		c.fin(S)
		c.ack(C)
		later(c, func(end time.Duration) exp {
			if end-lastPacket(c) > finTimeout {
				return exp{vLingeringFinWait2, stCloseWait, stFinWait2, "S3", "ShADadf", "idle close by the server acked, the client never closed (> 60 s)"}
			}
			return exp{vHalfClosed, stCloseWait, stFinWait2, "S3", "ShADadf", "idle close by the server acked, the client has not closed yet (< 60 s)"}
		})
	}

	// A phone vanishes mid-download: the server retransmits for 51 s.
	ph := s.conn(client("198.51.100.99"), srv+":443", 59*sec).handshake().exchange(350, 1400)
	ph.at(60 * sec)
	ph.backoff(ph.data(S, 1400), 200*ms, 8)
	s.expect(ph, exp{v: vHalfOpen, client: stEstablished, server: stEstablished, connState: "S1",
		why: "client silent for 51 s while the server retransmitted 8 times"})

	// Another reboots: its new kernel answers the retransmission with RST.
	rb := s.conn(client("198.51.100.98"), srv+":443", 69*sec).handshake().exchange(350, 1400)
	rb.at(70 * sec)
	last := rb.backoff(rb.data(S, 1400), 200*ms, 7)
	rb.send(C, flagRST, last.ack, 0, 0)
	rb.resetBy = C.String()
	s.expect(rb, exp{v: vHalfOpen, client: stClosed, server: stClosed, connState: "RSTO",
		why: "client silent for 25 s, then its rebooted kernel answered with RST"})

	// A user aborts a download; the server rejects an oversized request.
	ab := s.conn(client("198.51.100.41"), srv+":443", 40*sec).handshake().exchange(400, 1400)
	ab.data(S, 1400)
	ab.rst(C)
	s.expect(ab, exp{vReset, stClosed, stClosed, "RSTO", "ShADadR", "the client aborted with RST mid-response"})
	rj := s.conn(client("198.51.100.42"), srv+":443", 55*sec).handshake()
	rj.data(C, 1400)
	rj.rst(S)
	s.expect(rj, exp{vReset, stClosed, stClosed, "RSTR", "ShADr", "the server reset an oversized request"})

	// A laptop closes, then sleeps before the server's FIN arrives.
	lp := s.conn(client("198.51.100.66"), srv+":443", 112*sec).handshake().exchange(300, 900)
	lp.fin(C)
	lp.ack(S)
	lp.wait(100 * ms)
	lp.backoff(lp.fin(S), 200*ms, 5)
	s.expect(lp, exp{vUnackedFin, stFinWait2, stLastAck, "SF", histClientClose, "the server's FIN went out 6 times, never acked"})

	end := slices.MaxFunc(s.packets, func(a, b packet) int { return cmpDuration(a.at, b.at) }).at
	for _, p := range todo {
		s.expect(p.c, p.f(end))
	}
}

func timeWaitNote(st tcpState) string {
	if st == stTimeWait {
		return "still running at the end"
	}
	return "over (> 60 s before the end)"
}
