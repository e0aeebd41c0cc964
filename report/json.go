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
type jsonWriter struct{ w io.Writer }

func newJSON(w io.Writer) writer { return jsonWriter{w} }

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

// Write streams the flows one by one, so memory stays at one flow's JSON
// whatever the number of flows, then the summary. The bytes are exactly
// what json.Encoder with a two-space indent would write for the whole
// document.
func (j jsonWriter) Write(d *Data) error {
	w := j.w
	if len(d.Flows) == 0 {
		io.WriteString(w, "{\n  \"flows\": [],\n")
	} else {
		io.WriteString(w, "{\n  \"flows\": [\n")
		for i, f := range d.Flows {
			b, err := json.MarshalIndent(NewJSONFlow(f), "    ", "  ")
			if err != nil {
				return fmt.Errorf("flow %d: %w", f.ID, err)
			}
			io.WriteString(w, "    ")
			w.Write(b)
			if i < len(d.Flows)-1 {
				io.WriteString(w, ",")
			}
			io.WriteString(w, "\n")
		}
		io.WriteString(w, "  ],\n")
	}
	b, err := json.MarshalIndent(Summarize(d), "  ", "  ")
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	io.WriteString(w, "  \"summary\": ")
	w.Write(b)
	_, err = io.WriteString(w, "\n}\n")
	return err
}
