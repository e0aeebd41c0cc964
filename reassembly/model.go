// Package reassembly owns the flow table, the per-endpoint TCP state machine
// and the classification of every connection into one Verdict.
//
// It is pure: no I/O, no clocks, no randomness. It is fed capture.Segment
// values in capture order and hands back Flow records. The same input always
// yields the same output.
//
// # What the wire can and cannot tell
//
// States are inferred at the capture point, where a packet is seen once,
// between its sender and its receiver. A segment changes its sender's state
// at its wire time. It changes its receiver's state when the receiver shows
// it arrived, by acknowledging it: a FIN or SYN-ACK that is never
// acknowledged did not arrive, as far as anyone can tell, so its receiver
// stays where it was. Times are therefore off by up to a one-way delay.
//
// Sequence numbers are compared modulo 2^32 (Seq). RSTs are accepted as RFC
// 5961 does: in the receiver's window, or the exact sequence number the
// sender is at; others are counted as blind or spoofed and ignored. When the
// window is unknown (the connection began before the capture) the RST is
// accepted and a note says so. An end in SYN-SENT drops what Linux drops
// there: a bad ACK, a timestamp echo it never sent, a RST without ACK.
//
// A new SYN on a 4-tuple starts a new flow when anything of the old one
// closed (FIN or accepted RST) or when its ISN differs; a retransmitted SYN
// (same ISN) and a simultaneous open or split handshake stay one flow. A SYN
// arriving while an end is in TIME_WAIT ends that TIME_WAIT (Linux accepts
// such a SYN and kills the TIME_WAIT socket): the old flow is emitted with
// that end CLOSED at the SYN's time and a note.
//
// Timestamps that go backwards are taken as simultaneous with the latest
// one, so timers never run backwards; the flow notes it.
//
// Every flow also carries Zeek's conn_state and history (zeek.go), computed
// by a model of Zeek's own TCP analyzer, and checked against Zeek's
// baselines in zeek_test.go.
package reassembly

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

// State is the TCP state an endpoint is inferred to be in, with the names
// netstat and ss print. The zero value is Unknown: nothing seen lets us say.
type State uint8

const (
	Unknown State = iota
	Closed
	Listen
	SynSent
	SynRecv
	Established
	FinWait1
	FinWait2
	Closing
	TimeWait
	CloseWait
	LastAck
)

var stateNames = [...]string{
	Unknown:     "UNKNOWN",
	Closed:      "CLOSED",
	Listen:      "LISTEN",
	SynSent:     "SYN_SENT",
	SynRecv:     "SYN_RECV",
	Established: "ESTABLISHED",
	FinWait1:    "FIN_WAIT1",
	FinWait2:    "FIN_WAIT2",
	Closing:     "CLOSING",
	TimeWait:    "TIME_WAIT",
	CloseWait:   "CLOSE_WAIT",
	LastAck:     "LAST_ACK",
}

// String returns the netstat spelling; unknown values print their number.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText accepts the netstat spelling.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown TCP state %q", b)
}

// Synchronized reports whether the endpoint completed its handshake and has
// not yet fully closed (RFC 9293's "synchronized states").
func (s State) Synchronized() bool { return s >= Established && s <= LastAck }

// Closing reports whether the endpoint has sent or received a FIN.
func (s State) Closing() bool { return s >= FinWait1 && s <= LastAck }

// Verdict is how a connection ended, one per flow.
type Verdict uint8

const (
	VerdictUnknown Verdict = iota
	Clean
	Open
	HalfClosed
	LingeringFinWait2
	UnackedFin
	SynUnanswered
	Refused
	SynAckUnacked
	Reset
	HalfOpen
)

var verdictNames = [...]string{
	VerdictUnknown:    "unknown",
	Clean:             "clean",
	Open:              "open",
	HalfClosed:        "half_closed",
	LingeringFinWait2: "lingering_fin_wait2",
	UnackedFin:        "unacked_fin",
	SynUnanswered:     "syn_unanswered",
	Refused:           "refused",
	SynAckUnacked:     "synack_unacked",
	Reset:             "reset",
	HalfOpen:          "half_open",
}

// Verdicts lists every real verdict in report order.
var Verdicts = []Verdict{Clean, Open, HalfClosed, LingeringFinWait2, UnackedFin,
	SynUnanswered, Refused, SynAckUnacked, Reset, HalfOpen}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// MarshalText implements encoding.TextMarshaler with the stable token used in
// every output and in command-line filters.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText accepts the tokens MarshalText produces.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if n == string(b) {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q", b)
}

// Abnormal reports whether the verdict is worth a person's attention.
func (v Verdict) Abnormal() bool { return v != Clean && v != Open && v != HalfClosed }

// Handshake is the outcome of the three-way handshake.
type Handshake uint8

const (
	HandshakeNotSeen Handshake = iota
	HandshakeComplete
	HandshakeSynUnanswered
	HandshakeRefused
	HandshakeSynAckUnacked
)

var handshakeNames = [...]string{"not_seen", "complete", "syn_unanswered", "refused", "synack_unacked"}

func (h Handshake) String() string {
	if int(h) < len(handshakeNames) {
		return handshakeNames[h]
	}
	return fmt.Sprintf("Handshake(%d)", uint8(h))
}

// MarshalText implements encoding.TextMarshaler.
func (h Handshake) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// Side names one end of a connection. Flow.Ends is indexed by Side.
type Side uint8

const (
	Client Side = iota
	Server
)

// Reverse returns the other end.
func (s Side) Reverse() Side { return 1 - s }

func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

// Party answers "who did it": nobody, the client, the server or both.
type Party uint8

const (
	Nobody Party = iota
	ByClient
	ByServer
	ByBoth
)

var partyNames = [...]string{"", "client", "server", "both"}

func (p Party) String() string {
	if int(p) < len(partyNames) {
		return partyNames[p]
	}
	return fmt.Sprintf("Party(%d)", uint8(p))
}

// MarshalText implements encoding.TextMarshaler ("" for Nobody).
func (p Party) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// PartyOf converts a Side to the Party that is that side alone.
func PartyOf(s Side) Party { return Party(s) + 1 }

// Endpoint is what one end of a connection did, as seen on the wire.
type Endpoint struct {
	Addr netip.AddrPort
	// State is the TCP state inferred at the end of the capture (or when the
	// flow was finished and handed out).
	State State

	Packets          uint64 // packets sent by this end
	Bytes            uint64 // TCP payload bytes sent, counting retransmissions
	WireBytes        uint64 // link-layer bytes sent
	Retransmits      uint64 // segments that re-sent sequence space already sent
	KeepAlives       uint64 // keepalive probes sent
	ZeroWindowProbes uint64
	// Duplicates counts packets that were the same packet captured twice
	// (SPAN ports, capturing on both ends); they are counted in Packets and
	// Bytes but ignored by the analysis.
	Duplicates uint64
	// OutOfOrder counts segments that arrived after later ones and filled a
	// hole: late, not retransmitted.
	OutOfOrder       uint64
	SYNs, FINs, RSTs uint64

	// ISN is the initial sequence number, valid iff SawSYN.
	ISN    uint32
	SawSYN bool
}

// Transition records that one end entered a state at a time; Flow.Timeline
// lists them in order, which lets reports show states at any instant.
type Transition struct {
	Time  time.Time
	Side  Side
	State State
}

// Flow is one TCP connection: from its first packet (or SYN) to its close,
// reset, expiry or the end of the capture.
type Flow struct {
	// ID numbers flows from 1 in order of their first packet.
	ID uint64
	// Ends holds the client and the server, indexed by Side.
	Ends [2]Endpoint
	// RolesInferred is true when no SYN told us who the client is;
	// RoleReason then says how the roles were chosen ("SYN-ACK", "ports").
	RolesInferred bool
	RoleReason    string

	FirstSeen, LastSeen time.Time
	// FirstIndex and LastIndex are the capture packet numbers (see
	// capture.Segment.Index) of the flow's first and last packets, so that
	// evidence writers can find them again.
	FirstIndex, LastIndex uint64

	Handshake Handshake
	// RTT is the handshake round trip as seen at the capture point: SYN to
	// the ACK of the SYN-ACK. Zero when the handshake was not seen whole.
	RTT time.Duration

	ActiveCloser Party
	ResetBy      Party

	Verdict Verdict
	// Reason is one line of evidence for the verdict, for a person.
	Reason string
	// Notes are further observations (blind resets, inferred facts, things
	// the wire cannot tell). They are never needed to read the verdict.
	Notes []string

	// ConnState and History are exactly what Zeek's conn.log would say (for
	// the first Zeek record of the flow; see Zeek).
	ConnState string
	History   string
	// Zeek lists every conn.log record Zeek would write for this flow, in
	// order. Usually one; more when Zeek's own timers split what is one
	// connection to us (a SYN unanswered for 5 s, then more packets; over
	// 5 minutes idle).
	Zeek []ZeekRecord

	Timeline []Transition

	// ladder is a bounded packet-by-packet summary of the flow, from which
	// reports draw packet ladders (sequence diagrams): the method Ladder
	// decodes it (ladder.go), SetLadder sets it. It is kept for every flow
	// unless Config.NoLadders says no report will draw one, with at most the first LadderHead and the last LadderTail packets, in
	// capture order; LadderOmitted counts the packets in between that were
	// left out. Memory per flow is therefore bounded whatever the flow's
	// length, and small: the ladder is encoded, a few bytes a packet, and
	// decoded only for the few flows a report draws.
	ladder        []byte
	LadderOmitted uint64
	// room is the flowWithRoom this Flow was built in, for Recycler.Put; nil
	// for a Flow built elsewhere. A copy keeps its original's, which is
	// how Recycler.Put tells the copy apart.
	room *flowWithRoom
}

// Bounds of Flow.Ladder.
const (
	LadderHead = 16
	LadderTail = 16
)

// LadderStep is one packet of Flow.Ladder.
type LadderStep struct {
	Time time.Time
	// Index is the capture packet number (capture.Segment.Index), so a
	// reader can find the packet in Wireshark or an evidence file.
	Index uint64
	// From is the side that sent the packet.
	From  Side
	Flags capture.Flags
	// Seq and Ack are the raw sequence numbers from the wire; reports make
	// them relative to each side's ISN when it is known.
	Seq, Ack uint32
	// Len is the TCP payload length; Window the raw, unscaled window.
	Len    uint32
	Window uint16
}

// Client returns the client end.
func (f *Flow) Client() *Endpoint { return &f.Ends[Client] }

// Server returns the server end.
func (f *Flow) Server() *Endpoint { return &f.Ends[Server] }

// Config holds the timers of the analysis. The zero value is not useful; use
// DefaultConfig.
type Config struct {
	// TimeWait is how long an endpoint stays in TIME_WAIT (Linux: 60 s).
	TimeWait time.Duration
	// FinTimeout separates half_closed from lingering_fin_wait2
	// (Linux tcp_fin_timeout: 60 s).
	FinTimeout time.Duration
	// StallTimeout is how long one side may transmit into silence before the
	// flow is half_open.
	StallTimeout time.Duration
	// IdleTimeout, when positive, finishes flows with no packet for that long.
	IdleTimeout time.Duration
	// MaxFlows, when positive, caps the number of tracked flows; the oldest
	// idle flow is evicted to make room.
	MaxFlows int
	// NoLadders leaves Flow's ladder empty: for a caller that will draw
	// none (report.DrawsLadders), which then pays neither the memory nor
	// the time of recording one for every flow (about a sixth of the
	// table's time on a capture of short connections).
	NoLadders bool
}

// DefaultConfig returns Linux-like timers.
func DefaultConfig() Config {
	return Config{
		TimeWait:     60 * time.Second,
		FinTimeout:   60 * time.Second,
		StallTimeout: 20 * time.Second,
	}
}
