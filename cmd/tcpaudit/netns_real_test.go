package main

// Recorded real Linux TCP (testdata/real): captures that the namespace
// suite recorded with tcpdump, with the kernel's socket states at the end
// as the expectation. Replaying them needs no root, so this runs always.

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// realExpect is one flow of testdata/real/expect.json: what tcpaudit must
// say about it. ClientState and ServerState come from ss -tan in each
// namespace when the capture ended (NAME.ss.txt), except where Note says
// why the wire cannot show the kernel's state.
type realExpect struct {
	File        string `json:"file"`
	Client      string `json:"client"`
	Server      string `json:"server"`
	Verdict     string `json:"verdict"`
	ClientState string `json:"client_state"`
	ServerState string `json:"server_state"`
	Note        string `json:"note,omitempty"`
}

// TestRealCaptures audits every recorded capture of testdata/real and
// checks each flow, in order, against expect.json.
func TestRealCaptures(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "real")
	b, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatalf("testdata/real/expect.json: %v (record it as root with TCPAUDIT_RECORD_REAL=1 go test -run TestNetns)", err)
	}
	var all []realExpect
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatalf("testdata/real/expect.json: %v", err)
	}
	var files []string
	byFile := map[string][]realExpect{}
	for _, e := range all {
		if byFile[e.File] == nil {
			files = append(files, e.File)
		}
		byFile[e.File] = append(byFile[e.File], e)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			rep := auditFile(t, filepath.Join(dir, file), realArgs[file]...)
			compareExpectations(t, file, rep.Flows, byFile[file])
		})
	}
}

// realArgs are the flags a recorded scenario was audited with.
var realArgs = map[string][]string{
	"peer_vanishes_mid_transfer.pcap": {"--stall-timeout", "2s"},
}

// compareExpectations checks flows against want, one to one and in order.
func compareExpectations(t *testing.T, what string, flows []e2eFlow, want []realExpect) {
	t.Helper()
	if len(flows) != len(want) {
		t.Errorf("%s: %d flows, want %d", what, len(flows), len(want))
		return
	}
	for i, f := range flows {
		if got, exp := f.outcome(), want[i].outcome(); got != exp {
			t.Errorf("%s: flow %d:\n got %s (%s)\nwant %s", what, i, got, f.Reason, exp)
		}
	}
}

// flowOutcome is what the suite checks of a flow, on one line.
func flowOutcome(client, server, verdict, clientState, serverState string) string {
	return fmt.Sprintf("%s -> %s %s client %s server %s", client, server, verdict, clientState, serverState)
}

func (e realExpect) outcome() string {
	return flowOutcome(e.Client, e.Server, e.Verdict, e.ClientState, e.ServerState)
}

func (f e2eFlow) outcome() string {
	return flowOutcome(f.Client, f.Server, f.Verdict, f.ClientState, f.ServerState)
}

// e2eReport is the part of tcpaudit's JSON report the suite checks.
type e2eReport struct {
	Flows   []e2eFlow `json:"flows"`
	Summary struct {
		Capture struct {
			Packets       uint64 `json:"Packets"`
			KernelDropped uint64 `json:"KernelDropped"`
			IfaceDropped  uint64 `json:"IfaceDropped"`
			Live          bool   `json:"Live"`
			Evicted       uint64 `json:"Evicted"`
		} `json:"capture"`
	} `json:"summary"`
}

// e2eFlow is the part of the JSON contract (README, "JSON contract") that
// the command's tests read.
type e2eFlow struct {
	ID            uint64 `json:"id"`
	Client        string `json:"client"`
	Server        string `json:"server"`
	FirstSeen     string `json:"first_seen"`
	LastSeen      string `json:"last_seen"`
	Handshake     string `json:"handshake"`
	Verdict       string `json:"verdict"`
	Reason        string `json:"reason"`
	ActiveCloser  string `json:"active_closer"`
	ResetBy       string `json:"reset_by"`
	ClientState   string `json:"client_state"`
	ServerState   string `json:"server_state"`
	RolesInferred bool   `json:"roles_inferred"`
	ConnState     string `json:"conn_state"`
	History       string `json:"history"`
	ClientStats   struct {
		Packets int `json:"packets"`
	} `json:"client_stats"`
	ServerStats struct {
		Packets int `json:"packets"`
	} `json:"server_stats"`
}

func (f e2eFlow) String() string {
	return fmt.Sprintf("%s -> %s %s (%s) client %s server %s", f.Client, f.Server, f.Verdict, f.Reason, f.ClientState, f.ServerState)
}

func readReport(t *testing.T, path string) e2eReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the report: %v", err)
	}
	var r e2eReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report %s: %v\n%s", path, err, b)
	}
	// The flows array is in the order the flow table finished the flows
	// (the report is streamed); the expectations are in ID order.
	slices.SortFunc(r.Flows, func(a, b e2eFlow) int { return cmp.Compare(a.ID, b.ID) })
	return r
}

// auditFile runs tcpaudit in-process on a capture file, as a user reads a
// saved capture, and returns its JSON report.
func auditFile(t *testing.T, file string, args ...string) e2eReport {
	t.Helper()
	out := filepath.Join(t.TempDir(), "offline.json")
	var stdout, stderr bytes.Buffer
	argv := append([]string{"--format", "json", "-o", out, "--progress=false"}, args...)
	if code := run(append(argv, file), nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("tcpaudit %s: exit %d\n%s", file, code, stderr.String())
	}
	return readReport(t, out)
}
