package main

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// baseTime is time zero of every generated capture. A fixed instant keeps the
// files reproducible; a round one keeps offsets readable in tcpdump output.
var baseTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// side names one end of a generated connection.
type side uint8

const (
	C side = iota // the client, which sends the SYN
	S             // the server
)

func (s side) peer() side { return 1 - s }

func (s side) String() string {
	if s == C {
		return "client"
	}
	return "server"
}

// packetSink collects the packets of one or more connections. A scenario is
// one; a bench connection has its own so that it can be streamed.
type packetSink struct {
	packets []packet
	ipID    uint16
}

func (k *packetSink) add(p packet) packet {
	k.ipID++
	p.ipID = k.ipID
	k.packets = append(k.packets, p)
	return p
}

// conn is one TCP connection in a scenario, with automatic sequence and
// acknowledgement bookkeeping: every method sends one segment from one side
// at the connection's clock, then moves the clock on by step.
//
// Acknowledgements assume the capture point sees what both hosts see: a
// segment is acknowledged by anything the peer sends after it. Scenarios that
// need a segment in flight (simultaneous close) pass the ack explicitly.
type conn struct {
	sink   *packetSink
	end    [2]netip.AddrPort
	isn    [2]uint32
	nxt    [2]uint32 // next sequence number each side will send
	win    [2]uint16 // advertised window (raw, unscaled)
	tsBase [2]uint32
	tsSeen [2]uint32 // last TSval each side sent, echoed by the peer
	ts     bool
	iface  int
	// now is the connection's clock; step is how far each packet moves it.
	now, step time.Duration
	first     time.Duration
	sent      bool
	// closer and resetBy record who sent the first FIN and the first RST
	// after the handshake, for the expectations.
	closer, resetBy string
}

// newConn starts a connection from client to server with the given initial
// sequence numbers, its clock at start.
func newConn(sink *packetSink, client, server netip.AddrPort, isnC, isnS uint32, start time.Duration) *conn {
	return &conn{
		sink:   sink,
		end:    [2]netip.AddrPort{client, server},
		isn:    [2]uint32{isnC, isnS},
		nxt:    [2]uint32{isnC, isnS},
		win:    [2]uint16{502, 509},
		tsBase: [2]uint32{isnC >> 8, isnS >> 8},
		ts:     true,
		now:    start,
		step:   200 * time.Microsecond,
	}
}

// send emits one segment from side with explicit sequence and
// acknowledgement numbers. Everything else in the DSL goes through here.
func (c *conn) send(from side, flags tcpFlags, seq, ack uint32, payload int) packet {
	p := packet{
		at: c.now, src: c.end[from], dst: c.end[from.peer()],
		seq: seq, ack: ack, flags: flags, window: c.win[from], payload: payload,
		wscale: -1, iface: c.iface,
	}
	if flags&flagACK == 0 {
		p.ack = 0
	}
	if flags&flagSYN != 0 {
		p.window = 64240
		p.wscale = 7
	}
	if c.ts && flags&flagRST == 0 {
		p.hasTS = true
		p.tsVal = c.tsBase[from] + uint32(c.now/time.Millisecond)
		p.tsEcr = c.tsSeen[from.peer()]
		c.tsSeen[from] = p.tsVal
	}
	if !c.sent {
		c.first, c.sent = c.now, true
	}
	c.now += c.step
	return c.sink.add(p)
}

// ackOf is the acknowledgement number side sends: everything its peer sent.
func (c *conn) ackOf(s side) uint32 { return c.nxt[s.peer()] }

// wait moves the connection's clock on.
func (c *conn) wait(d time.Duration) *conn { c.now += d; return c }

// at sets the connection's clock.
func (c *conn) at(t time.Duration) *conn { c.now = t; return c }

func (c *conn) syn() packet {
	p := c.send(C, flagSYN, c.isn[C], 0, 0)
	c.nxt[C] = c.isn[C] + 1
	return p
}

func (c *conn) synAck() packet {
	p := c.send(S, flagSYN|flagACK, c.isn[S], c.isn[C]+1, 0)
	c.nxt[S] = c.isn[S] + 1
	return p
}

// handshake is SYN, SYN-ACK, ACK.
func (c *conn) handshake() *conn {
	c.syn()
	c.synAck()
	c.ack(C)
	return c
}

// ack is a pure acknowledgement of everything the peer sent.
func (c *conn) ack(from side) packet {
	return c.send(from, flagACK, c.nxt[from], c.ackOf(from), 0)
}

// data sends n new payload bytes.
func (c *conn) data(from side, n int) packet {
	p := c.send(from, flagPSH|flagACK, c.nxt[from], c.ackOf(from), n)
	c.nxt[from] += uint32(n)
	return p
}

// exchange is a request from the client answered by the server, each
// acknowledged: the shape of one HTTP request on a keep-alive connection.
func (c *conn) exchange(req, resp int) *conn {
	c.data(C, req)
	c.ack(S)
	c.data(S, resp)
	c.ack(C)
	return c
}

// fin closes side's direction, carrying n bytes of data with the FIN.
func (c *conn) fin(from side) packet { return c.finData(from, 0) }

func (c *conn) finData(from side, n int) packet {
	if c.closer == "" {
		c.closer = from.String()
	}
	flags := flagFIN | flagACK
	if n > 0 {
		flags |= flagPSH
	}
	p := c.send(from, flags, c.nxt[from], c.ackOf(from), n)
	c.nxt[from] += uint32(n) + 1
	return p
}

// rst aborts the connection from side with an in-window RST+ACK, as a host
// does when its application closes with unread data or SO_LINGER 0.
func (c *conn) rst(from side) packet {
	if c.resetBy == "" {
		c.resetBy = from.String()
	}
	return c.send(from, flagRST|flagACK, c.nxt[from], c.ackOf(from), 0)
}

// again retransmits p at the connection's clock: same sequence space, the
// current acknowledgement and timestamp, as a real retransmission carries.
func (c *conn) again(p packet) packet {
	from := C
	if p.src == c.end[S] {
		from = S
	}
	ack := p.ack
	if p.flags&flagACK != 0 {
		ack = c.ackOf(from)
	}
	return c.send(from, p.flags, p.seq, ack, p.payload)
}

// keepalive is Linux's keepalive probe (tcp_xmit_probe_skb): no payload and
// a sequence number one below the next, so the peer must answer with an ACK
// and no byte of new data is sent. The peer's answer is a duplicate ACK.
func (c *conn) keepalive(from side) packet {
	return c.send(from, flagACK, c.nxt[from]-1, c.ackOf(from), 0)
}

// keepaliveByte is the keepalive of Windows and old BSDs: the last byte
// already acknowledged, sent again (RFC 9293 section 3.8.4 allows one byte of
// garbage). It looks like a 1-byte retransmission but is neither data nor
// loss.
func (c *conn) keepaliveByte(from side) packet {
	return c.send(from, flagACK, c.nxt[from]-1, c.ackOf(from), 1)
}

// zeroWindowProbe is the probe some stacks (Windows, BSD) send into a zero
// window: one byte of new data that the receiver, with no room, does not
// accept. The sequence space is not consumed; Linux instead sends a
// keepalive-shaped probe, which keepalive covers.
func (c *conn) zeroWindowProbe(from side) packet {
	return c.send(from, flagACK, c.nxt[from], c.ackOf(from), 1)
}

// window sets the window side advertises from now on (0: a full receiver).
func (c *conn) window(s side, w uint16) *conn { c.win[s] = w; return c }

// last is the packet most recently sent, for changing how it is framed.
func (c *conn) last() *packet { return &c.sink.packets[len(c.sink.packets)-1] }

// backoff retransmits p n times with exponential backoff starting at rto
// (RFC 6298 section 5.5), the pattern of a sender whose segment is never
// acknowledged. It returns the last copy.
func (c *conn) backoff(p packet, rto time.Duration, n int) packet {
	t := p.at
	for i := range n {
		t += rto << i
		c.at(t)
		p = c.again(p)
	}
	return p
}

// midstream pretends the handshake happened before the capture started.
func (c *conn) midstream() *conn {
	c.nxt[C], c.nxt[S] = c.isn[C]+1, c.isn[S]+1
	return c
}

// refuse answers the client's SYN as a host with no listener does: RST+ACK
// with sequence 0 acknowledging the SYN (RFC 9293 section 3.10.7.1).
func (c *conn) refuse() packet {
	return c.send(S, flagRST|flagACK, 0, c.isn[C]+1, 0)
}

// closeBy is the four-way close started by side first: FIN, ACK, FIN, ACK.
func (c *conn) closeBy(first side) *conn {
	c.fin(first)
	c.ack(first.peer())
	c.fin(first.peer())
	c.ack(first)
	return c
}

// datagram adds a UDP packet carrying data at t.
func (k *packetSink) datagram(src, dst netip.AddrPort, t time.Duration, data []byte) {
	k.add(packet{at: t, src: src, dst: dst, udp: true, data: data, wscale: -1})
}

// dnsLookup adds a DNS query for name from client to resolver and its answer
// (an A record) 2 ms later.
func (k *packetSink) dnsLookup(client, resolver netip.AddrPort, t time.Duration, id uint16, name string, answer netip.Addr) error {
	q := layers.DNS{ID: id, RD: true, OpCode: layers.DNSOpCodeQuery,
		Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	query, err := serializeDNS(&q)
	if err != nil {
		return err
	}
	q.QR, q.RA = true, true
	q.Answers = []layers.DNSResourceRecord{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 300, IP: answer.AsSlice()}}
	reply, err := serializeDNS(&q)
	if err != nil {
		return err
	}
	k.datagram(client, resolver, t, query)
	k.datagram(resolver, client, t+2*time.Millisecond, reply)
	return nil
}

func serializeDNS(d *layers.DNS) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, serializeOpts); err != nil {
		return nil, fmt.Errorf("dns message: %w", err)
	}
	return buf.Bytes(), nil
}

// scenario is one generated capture: its packets, how they are framed and
// stored, and what tcpaudit must conclude about each flow.
type scenario struct {
	name   string // file name in testdata/
	about  string // one line for the README
	format fileFormat
	links  []link
	packetSink
	expects []flowExpect
	// keepOrder writes packets in the order they were added rather than by
	// time, for captures whose timestamps go backwards.
	keepOrder bool
	// files, when set, splits the capture into several files, read
	// together: each packet goes to files[packet.file].
	files []string
	rng   *rand.Rand
}

// newScenario seeds the scenario's random numbers from its name, so that
// adding or reordering scenarios does not change the others' bytes.
func newScenario(name, about string) *scenario {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &scenario{
		name: name, about: about, format: formatPcap, links: []link{ethernet},
		rng: rand.New(rand.NewPCG(h.Sum64(), 0x7463706175646974)),
	}
}

// conn opens a connection between two "ip:port" endpoints with random ISNs,
// its clock at start.
func (s *scenario) conn(client, server string, start time.Duration) *conn {
	return newConn(&s.packetSink, mustAddrPort(client), mustAddrPort(server), s.rng.Uint32(), s.rng.Uint32(), start)
}

// mustAddrPort parses a literal endpoint of the scenario table; a typo is a
// bug in the generator, found by its tests.
func mustAddrPort(s string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		panic(fmt.Sprintf("tcpgen: bad endpoint %q: %v", s, err))
	}
	return ap
}
