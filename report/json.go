package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// jsonWriter writes the JSON contract documented in the README:
// {"flows":[...],"summary":{...}}. Lists are [] when empty, never null.
// Strings are written as they are (JSON escaping makes them safe); only the
// formats a person reads neutralise control characters.
//
// It is a streamer: each flow is written as it is handed over, so memory
// stays at one flow's JSON whatever the number of flows, and the summary
// follows them. The flows array is in the order the flows were handed
// over: ID order for a whole report (Write), the order the flow table
// finished them in for the command's streamed output. The bytes are
// exactly what json.Encoder with a two-space indent would write for the
// whole document.
type jsonWriter struct {
	rows
	n   int // flows written
	day jsonDate
}

func newJSON(w io.Writer) streamer { return &jsonWriter{rows: rows{w: w}} }

// JSONFlow is one element of "flows". The first fields are the contract of
// issue 2; the rest may grow.
type JSONFlow struct {
	Client       string               `json:"client"`
	Server       string               `json:"server"`
	FirstSeen    time.Time            `json:"first_seen"`
	LastSeen     time.Time            `json:"last_seen"`
	Handshake    reassembly.Handshake `json:"handshake"`
	Verdict      reassembly.Verdict   `json:"verdict"`
	Reason       string               `json:"reason"`
	ActiveCloser reassembly.Party     `json:"active_closer"`
	ResetBy      reassembly.Party     `json:"reset_by"`
	ClientState  reassembly.State     `json:"client_state"`
	ServerState  reassembly.State     `json:"server_state"`
	ConnState    string               `json:"conn_state"`
	History      string               `json:"history"`

	ID            uint64       `json:"id"`
	DurationNS    int64        `json:"duration_ns"`
	RTTNS         int64        `json:"rtt_ns"`
	RolesInferred bool         `json:"roles_inferred"`
	RoleReason    string       `json:"role_reason,omitempty"`
	FirstPacket   uint64       `json:"first_packet"`
	LastPacket    uint64       `json:"last_packet"`
	ClientStats   JSONEndStats `json:"client_stats"`
	ServerStats   JSONEndStats `json:"server_stats"`
	Notes         []string     `json:"notes"`
	Timeline      []JSONState  `json:"timeline"`
}

// JSONEndStats is what one end sent.
type JSONEndStats struct {
	Packets          uint64 `json:"packets"`
	Bytes            uint64 `json:"bytes"`
	WireBytes        uint64 `json:"wire_bytes"`
	Retransmits      uint64 `json:"retransmits"`
	KeepAlives       uint64 `json:"keepalives"`
	ZeroWindowProbes uint64 `json:"zero_window_probes"`
	SYNs             uint64 `json:"syns"`
	FINs             uint64 `json:"fins"`
	RSTs             uint64 `json:"rsts"`
}

// JSONState is one entry of a flow's timeline: a side entered a state.
type JSONState struct {
	Time  time.Time        `json:"time"`
	Side  string           `json:"side"`
	State reassembly.State `json:"state"`
}

// NewJSONFlow converts a flow to its JSON form. It is exported so that a
// streaming writer (JSON lines, issue 5) can emit flows one by one.
func NewJSONFlow(f *reassembly.Flow) JSONFlow {
	j := JSONFlow{
		Client:        f.Client().Addr.String(),
		Server:        f.Server().Addr.String(),
		FirstSeen:     f.FirstSeen.UTC(),
		LastSeen:      f.LastSeen.UTC(),
		Handshake:     f.Handshake,
		Verdict:       f.Verdict,
		Reason:        f.Reason,
		ActiveCloser:  f.ActiveCloser,
		ResetBy:       f.ResetBy,
		ClientState:   f.Client().State,
		ServerState:   f.Server().State,
		ConnState:     f.ConnState,
		History:       f.History,
		ID:            f.ID,
		DurationNS:    int64(f.LastSeen.Sub(f.FirstSeen)),
		RTTNS:         int64(f.RTT),
		RolesInferred: f.RolesInferred,
		RoleReason:    f.RoleReason,
		FirstPacket:   f.FirstIndex,
		LastPacket:    f.LastIndex,
		ClientStats:   endStats(f.Client()),
		ServerStats:   endStats(f.Server()),
		Notes:         nonNil(f.Notes),
		Timeline:      make([]JSONState, len(f.Timeline)),
	}
	for i, tr := range f.Timeline {
		j.Timeline[i] = JSONState{tr.Time.UTC(), tr.Side.String(), tr.State}
	}
	return j
}

func endStats(e *reassembly.Endpoint) JSONEndStats {
	return JSONEndStats{e.Packets, e.Bytes, e.WireBytes, e.Retransmits, e.KeepAlives,
		e.ZeroWindowProbes, e.SYNs, e.FINs, e.RSTs}
}

// Begin opens the document and the flows array.
func (j *jsonWriter) Begin(time.Time) error {
	_, err := io.WriteString(j.w, "{\n  \"flows\": [")
	return err
}

// Flow writes one element of the flows array, appended by appendJSONFlow
// to the rows not yet written.
func (j *jsonWriter) Flow(f *reassembly.Flow) error {
	sep := ",\n    "
	if j.n == 0 {
		sep = "\n    "
	}
	j.n++
	j.buf = appendJSONFlow(append(j.buf, sep...), f, &j.day)
	return j.rowDone()
}

// End closes the flows array and writes the summary of d.
func (j *jsonWriter) End(d *Data) error {
	if err := j.flush(); err != nil {
		return err
	}
	if j.n == 0 {
		io.WriteString(j.w, "],\n")
	} else {
		io.WriteString(j.w, "\n  ],\n")
	}
	b, err := json.MarshalIndent(Summarize(d), "  ", "  ")
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	io.WriteString(j.w, "  \"summary\": ")
	j.w.Write(b)
	_, err = io.WriteString(j.w, "\n}\n")
	return err
}
