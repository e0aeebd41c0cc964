// Package segsynth synthesizes streams of capture.Segment values: many
// interleaved TCP connections with a mix of endings, without any capture
// file. Benchmarks use it to drive the flow table for as long as they like
// (hours of capture time in flat memory), and tests use it to compare two
// tables fed the same stream.
//
// A Stream is deterministic: the same Config yields the same segments.
package segsynth

import (
	"math/rand/v2"
	"net/netip"

	"github.com/tcpaudit/tcpaudit/capture"
)

// Ending is how a synthesized connection ends.
type Ending uint8

const (
	// CleanClientFirst: handshake, data, client FIN, server FIN.
	CleanClientFirst Ending = iota
	// CleanServerFirst: the server closes first (its side ends in TIME_WAIT).
	CleanServerFirst
	// ResetByClient: data, then a client RST.
	ResetByClient
	// Refused: SYN answered by RST-ACK.
	Refused
	// SynUnanswered: a SYN and its retransmissions, no answer.
	SynUnanswered
	// Open: handshake and data, no close before the capture ends.
	Open
	// HalfClosed: the client sends FIN, the server keeps sending data.
	HalfClosed
	// Chaos: a handshake followed by segments with random flags, sequence
	// numbers and directions: no real stack sends this, which is the point
	// when checking that two tables agree on everything.
	Chaos
	numEndings
)

var endingNames = [...]string{"clean-client-first", "clean-server-first", "reset-by-client",
	"refused", "syn-unanswered", "open", "half-closed", "chaos"}

func (e Ending) String() string {
	if int(e) < len(endingNames) {
		return endingNames[e]
	}
	return "Ending(?)"
}

// Config describes a stream.
type Config struct {
	// Conns is the number of connections in the stream.
	Conns int
	// Concurrency is how many connections are in progress at once.
	Concurrency int
	// GapNanos is the capture time between two consecutive segments.
	GapNanos int64
	// Seed makes the stream; equal seeds give equal streams.
	Seed uint64
	// Mix weights each Ending (indexed by Ending); nil means only clean
	// client-first closes.
	Mix []int
	// Clients bounds the number of distinct client endpoints (address and
	// port). A small value makes connections reuse 4-tuples, as a busy
	// client does when its ephemeral ports wrap. 0 means no reuse.
	Clients int
	// DataSegments is the number of data segments of a connection, which
	// alternate between client and server; 0 means 10.
	DataSegments int
	// StartNanos is the time of the first segment.
	StartNanos int64
}

// conn is one connection in progress: its script, and how far it got.
type conn struct {
	client, server netip.AddrPort
	cseq, sseq     uint32 // next sequence number of each side
	step           int
	ending         Ending
	steps          int // length of the script
}

// Stream yields the segments of its connections, interleaved at random.
type Stream struct {
	cfg     Config
	rng     *rand.Rand
	live    []conn
	started int
	index   uint64
	now     int64
	total   int
}

// New returns a stream at its first segment.
func New(cfg Config) *Stream {
	if cfg.DataSegments == 0 {
		cfg.DataSegments = 10
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	s := &Stream{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), now: cfg.StartNanos}
	for _, w := range cfg.Mix {
		s.total += max(w, 0)
	}
	s.live = make([]conn, 0, cfg.Concurrency)
	for len(s.live) < cfg.Concurrency && s.started < cfg.Conns {
		s.live = append(s.live, s.newConn())
	}
	return s
}

func (s *Stream) pickEnding() Ending {
	if s.total == 0 {
		return CleanClientFirst
	}
	r := s.rng.IntN(s.total)
	for e, w := range s.cfg.Mix {
		w = max(w, 0)
		if r < w {
			return Ending(e)
		}
		r -= w
	}
	return CleanClientFirst
}

func (s *Stream) newConn() conn {
	n := s.started
	s.started++
	if s.cfg.Clients > 0 {
		n %= s.cfg.Clients
	}
	// Clients 10.0.0.0/16 with ports from 1024; servers 10.100.0.0/24
	// port 443. Every field derives from n, so a reused n is a reused tuple.
	client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(n>>16) + 1, byte(n >> 8)}), uint16(1024+n%60000))
	server := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 100, 0, byte(n % 50)}), 443)
	c := conn{client: client, server: server, cseq: s.rng.Uint32(), sseq: s.rng.Uint32(), ending: s.pickEnding()}
	switch c.ending {
	case Refused:
		c.steps = 2
	case SynUnanswered:
		c.steps = 4
	case Chaos:
		c.steps = 3 + s.rng.IntN(2*s.cfg.DataSegments+1)
	default:
		c.steps = 3 + s.cfg.DataSegments + 4
	}
	return c
}

// Started returns the number of connections begun so far.
func (s *Stream) Started() int { return s.started }

// Next fills seg with the next segment and reports whether there was one.
// It does not allocate.
func (s *Stream) Next(seg *capture.Segment) bool {
	if len(s.live) == 0 {
		return false
	}
	i := s.rng.IntN(len(s.live))
	c := &s.live[i]
	s.index++
	s.now += s.cfg.GapNanos
	*seg = capture.Segment{Time: s.now, Index: s.index, WScale: -1, WireLen: 54}
	if c.emit(s, seg) {
		if s.started < s.cfg.Conns {
			s.live[i] = s.newConn()
		} else {
			s.live[i] = s.live[len(s.live)-1]
			s.live = s.live[:len(s.live)-1]
		}
	}
	return true
}

// fromClient and fromServer address seg and take its sequence space from
// the sender's counter.
func (c *conn) fromClient(seg *capture.Segment, fl capture.Flags, n uint32) {
	seg.Src, seg.Dst, seg.Seq, seg.Ack, seg.Flags, seg.PayloadLen = c.client, c.server, c.cseq, c.sseq, fl, n
	if fl&capture.ACK == 0 {
		seg.Ack = 0
	}
	seg.WireLen += n
	seg.Window = 64240
	c.cseq += seg.SeqLen()
}

func (c *conn) fromServer(seg *capture.Segment, fl capture.Flags, n uint32) {
	seg.Src, seg.Dst, seg.Seq, seg.Ack, seg.Flags, seg.PayloadLen = c.server, c.client, c.sseq, c.cseq, fl, n
	seg.WireLen += n
	seg.Window = 65160
	c.sseq += seg.SeqLen()
}

// emit writes the connection's next segment and reports whether the
// connection's script is over.
func (c *conn) emit(s *Stream, seg *capture.Segment) (done bool) {
	step := c.step
	c.step++
	last := c.step >= c.steps
	data := s.cfg.DataSegments
	switch {
	case step == 0:
		c.fromClient(seg, syn, 0)
		seg.MSS, seg.WScale = 1460, 7
	case c.ending == SynUnanswered:
		c.cseq-- // a retransmission of the same SYN
		c.fromClient(seg, syn, 0)
		seg.MSS, seg.WScale = 1460, 7
	case step == 1 && c.ending == Refused:
		c.fromServer(seg, rst|capture.ACK, 0)
		seg.Seq = 0
	case step == 1:
		c.fromServer(seg, synack, 0)
		seg.MSS, seg.WScale = 1460, 7
	case step == 2:
		c.fromClient(seg, ack, 0)
	case c.ending == Chaos:
		fl := capture.Flags(s.rng.Uint32()) & (capture.FIN | capture.SYN | capture.RST | capture.PSH | capture.ACK)
		n := uint32(s.rng.IntN(3)) * 100
		if s.rng.IntN(2) == 0 {
			c.fromClient(seg, fl, n)
		} else {
			c.fromServer(seg, fl, n)
		}
		// Now and then, a sequence number from nowhere (a blind RST, a
		// stray segment of an older connection).
		if s.rng.IntN(8) == 0 {
			seg.Seq = s.rng.Uint32()
		}
	case step < 3+data:
		if step%2 == 1 {
			c.fromClient(seg, psh, 100)
		} else {
			c.fromServer(seg, psh, 1200)
		}
	default:
		c.close(seg, step-3-data)
	}
	return last
}

// move is one segment of a scripted ending: who sends it, with which flags
// and how much payload.
type move struct {
	client bool
	flags  capture.Flags
	len    uint32
}

// endings are the last four segments of each scripted ending.
var endings = [numEndings][4]move{
	CleanClientFirst: {{true, fin, 0}, {false, ack, 0}, {false, fin, 0}, {true, ack, 0}},
	CleanServerFirst: {{false, fin, 0}, {true, ack, 0}, {true, fin, 0}, {false, ack, 0}},
	// After the reset the server's data reaches a closed socket.
	ResetByClient: {{true, rst | ack, 0}, {false, psh, 1200}, {false, psh, 1200}, {false, psh, 1200}},
	Open:          {{true, psh, 100}, {false, ack, 0}, {true, psh, 100}, {false, ack, 0}},
	HalfClosed:    {{true, fin, 0}, {false, psh, 1200}, {false, psh, 1200}, {false, psh, 1200}},
}

// Flag sets of the scripts.
const (
	syn    = capture.SYN
	synack = capture.SYN | capture.ACK
	ack    = capture.ACK
	psh    = capture.PSH | capture.ACK
	fin    = capture.FIN | capture.ACK
	rst    = capture.RST
)

// close writes step k (0..3) of the connection's ending.
func (c *conn) close(seg *capture.Segment, k int) {
	m := endings[c.ending][k]
	if m.client {
		c.fromClient(seg, m.flags, m.len)
	} else {
		c.fromServer(seg, m.flags, m.len)
	}
}
