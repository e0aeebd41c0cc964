package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// verdict is one of issue 2's verdict tokens, as tcpaudit prints them. The
// generator keeps its own copy of the names (it must not depend on the code
// it tests); TestExpectNames checks them against the documented set.
type verdict string

const (
	vClean             verdict = "clean"
	vOpen              verdict = "open"
	vHalfClosed        verdict = "half_closed"
	vLingeringFinWait2 verdict = "lingering_fin_wait2"
	vUnackedFin        verdict = "unacked_fin"
	vSynUnanswered     verdict = "syn_unanswered"
	vRefused           verdict = "refused"
	vSynAckUnacked     verdict = "synack_unacked"
	vReset             verdict = "reset"
	vHalfOpen          verdict = "half_open"
)

// allVerdicts is every verdict, in issue 2's order.
var allVerdicts = []verdict{vClean, vOpen, vHalfClosed, vLingeringFinWait2, vUnackedFin,
	vSynUnanswered, vRefused, vSynAckUnacked, vReset, vHalfOpen}

// tcpState is an endpoint state with the name netstat prints.
type tcpState string

const (
	stSynSent     tcpState = "SYN_SENT"
	stSynRecv     tcpState = "SYN_RECV"
	stEstablished tcpState = "ESTABLISHED"
	stFinWait1    tcpState = "FIN_WAIT1"
	stFinWait2    tcpState = "FIN_WAIT2"
	stClosing     tcpState = "CLOSING"
	stTimeWait    tcpState = "TIME_WAIT"
	stCloseWait   tcpState = "CLOSE_WAIT"
	stLastAck     tcpState = "LAST_ACK"
	stClosed      tcpState = "CLOSED"
)

var allStates = []tcpState{stSynSent, stSynRecv, stEstablished, stFinWait1, stFinWait2,
	stClosing, stTimeWait, stCloseWait, stLastAck, stClosed}

// Timers the expectations assume: reassembly.DefaultConfig(), which are
// Linux's. A flow's end states are judged at the last packet of the capture.
const (
	timeWait     = 60 * time.Second
	finTimeout   = 60 * time.Second
	stallTimeout = 20 * time.Second
)

// flowExpect is what tcpaudit must say about one flow of one capture: one
// entry of testdata/expect.json.
type flowExpect struct {
	// File names the capture; Inputs are the files to pass to tcpaudit, in
	// order (more than one for rotated captures).
	File   string   `json:"file"`
	Inputs []string `json:"inputs"`
	// Client and Server are "ip:port" ("[v6]:port"), as in tcpaudit's JSON.
	Client string `json:"client"`
	Server string `json:"server"`
	// FirstSeen tells apart flows that reuse a 4-tuple (RFC 3339, ns).
	FirstSeen   string   `json:"first_seen"`
	Verdict     verdict  `json:"verdict"`
	ClientState tcpState `json:"client_state"`
	ServerState tcpState `json:"server_state"`
	// ActiveCloser and ResetBy are asserted only when present.
	ActiveCloser  string `json:"active_closer,omitempty"`
	ResetBy       string `json:"reset_by,omitempty"`
	RolesInferred bool   `json:"roles_inferred,omitempty"`
	// ConnState and History are Zeek's conn.log fields, given only where
	// Zeek's rules leave no doubt (no retransmission, gap or zero-window
	// letters, no role flip).
	ConnState string `json:"conn_state,omitempty"`
	History   string `json:"history,omitempty"`
	// Why is the evidence, for a person reading a failure.
	Why string `json:"why"`
}

// expectFile is the whole of testdata/expect.json.
type expectFile struct {
	Comment string `json:"comment"`
	// Timers are the --time-wait, --fin-timeout and --stall-timeout the
	// expectations assume (tcpaudit's defaults).
	Timers struct {
		TimeWait     string `json:"time_wait"`
		FinTimeout   string `json:"fin_timeout"`
		StallTimeout string `json:"stall_timeout"`
	} `json:"timers"`
	// Files gives, per written file, how many packets and TCP segments it
	// holds (a fragmented segment counts once: its first fragment).
	Files []fileStats  `json:"files"`
	Flows []flowExpect `json:"flows"`
}

type fileStats struct {
	File        string `json:"file"`
	Packets     int    `json:"packets"`
	TCPSegments int    `json:"tcp_segments"`
}

// exp is the part of an expectation a scenario writes by hand; the rest
// (file, addresses, first packet, closer, resetter) comes from the conn.
type exp struct {
	v              verdict
	client, server tcpState
	connState      string
	history        string
	why            string
}

// expect records what tcpaudit must conclude about c. The active closer and
// the resetter come from what the conn's DSL calls did.
func (s *scenario) expect(c *conn, e exp) *flowExpect {
	s.expects = append(s.expects, flowExpect{
		File: s.name, Client: c.end[C].String(), Server: c.end[S].String(),
		FirstSeen: baseTime.Add(c.first).Format(time.RFC3339Nano),
		Verdict:   e.v, ClientState: e.client, ServerState: e.server,
		ActiveCloser: c.closer, ResetBy: c.resetBy,
		ConnState: e.connState, History: e.history, Why: e.why,
	})
	return &s.expects[len(s.expects)-1]
}

func writeExpectations(w io.Writer, files []fileStats, flows []flowExpect) error {
	var f expectFile
	f.Comment = "Written by `go run ./cmd/tcpgen -o testdata all`; do not edit. See testdata/README.md."
	f.Timers.TimeWait = timeWait.String()
	f.Timers.FinTimeout = finTimeout.String()
	f.Timers.StallTimeout = stallTimeout.String()
	f.Files, f.Flows = files, flows
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&f); err != nil {
		return fmt.Errorf("expect.json: %w", err)
	}
	return nil
}
