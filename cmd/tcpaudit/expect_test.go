package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// expectation is one flow of testdata/expect.json, written by cmd/tcpgen
// beside the captures it generates.
type expectation struct {
	File         string   `json:"file"`
	Inputs       []string `json:"inputs"`
	Client       string   `json:"client"`
	Server       string   `json:"server"`
	FirstSeen    string   `json:"first_seen"`
	Verdict      string   `json:"verdict"`
	ClientState  string   `json:"client_state"`
	ServerState  string   `json:"server_state"`
	ActiveCloser *string  `json:"active_closer"`
	ResetBy      *string  `json:"reset_by"`
	ConnState    string   `json:"conn_state"`
	History      string   `json:"history"`
}

type cliReport struct {
	Flows   []e2eFlow      `json:"flows"`
	Summary map[string]any `json:"summary"`
}

// auditJSON runs the whole command in-process and decodes its JSON report.
func auditJSON(t *testing.T, args ...string) (cliReport, int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"--format", "json"}, args...), strings.NewReader(""), &stdout, &stderr)
	var r cliReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("tcpaudit %v: JSON does not decode: %v\nstderr: %s", args, err, stderr.String())
	}
	return r, code, stderr.String()
}

// TestGeneratedCapturesThroughCommand runs the command on every generated
// capture and checks each flow's verdict, end states and Zeek fields against
// the expectation the generator wrote for it. The reassembly package checks
// the same table directly; this test covers the reader, the JSON contract and
// the command's wiring on top.
func TestGeneratedCapturesThroughCommand(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/expect.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Flows []expectation `json:"flows"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("testdata/expect.json: %v", err)
	}
	byInputs := map[string][]expectation{}
	var order []string
	for _, e := range doc.Flows {
		key := strings.Join(e.Inputs, " ")
		if _, seen := byInputs[key]; !seen {
			order = append(order, key)
		}
		byInputs[key] = append(byInputs[key], e)
	}
	if len(order) < 40 {
		t.Fatalf("expect.json names only %d captures; the generator writes more", len(order))
	}
	for _, key := range order {
		exps := byInputs[key]
		t.Run(key, func(t *testing.T) {
			var paths []string
			for _, in := range exps[0].Inputs {
				paths = append(paths, filepath.Join("../../testdata", in))
			}
			r, code, stderr := auditJSON(t, paths...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr %s", code, stderr)
			}
			for _, e := range exps {
				f := findFlow(r.Flows, e.Client, e.Server, e.FirstSeen)
				if f == nil {
					t.Errorf("no flow %s → %s first seen %s", e.Client, e.Server, e.FirstSeen)
					continue
				}
				check := func(field, got, want string) {
					if want != "" && got != want {
						t.Errorf("%s → %s: %s = %q, want %q (reason %q)", e.Client, e.Server, field, got, want, f.Reason)
					}
				}
				check("verdict", f.Verdict, e.Verdict)
				check("client_state", f.ClientState, e.ClientState)
				check("server_state", f.ServerState, e.ServerState)
				check("conn_state", f.ConnState, e.ConnState)
				check("history", f.History, e.History)
				if e.ActiveCloser != nil && f.ActiveCloser != *e.ActiveCloser {
					t.Errorf("%s → %s: active_closer = %q, want %q", e.Client, e.Server, f.ActiveCloser, *e.ActiveCloser)
				}
				if e.ResetBy != nil && f.ResetBy != *e.ResetBy {
					t.Errorf("%s → %s: reset_by = %q, want %q", e.Client, e.Server, f.ResetBy, *e.ResetBy)
				}
				if f.Reason == "" {
					t.Errorf("%s → %s: empty reason", e.Client, e.Server)
				}
			}
		})
	}
}

// findFlow finds a flow by its endpoints and first packet time, which tells
// apart flows of a reused 4-tuple.
func findFlow(flows []e2eFlow, client, server, firstSeen string) *e2eFlow {
	want, err := time.Parse(time.RFC3339Nano, firstSeen)
	for i := range flows {
		f := &flows[i]
		if f.Client != client || f.Server != server {
			continue
		}
		got, err2 := time.Parse(time.RFC3339Nano, f.FirstSeen)
		if err != nil || err2 != nil || got.Equal(want) {
			return f
		}
	}
	return nil
}

// TestDemoShowsEveryVerdict keeps the promise of `make demo`: the bundled
// capture shows every kind of ending.
func TestDemoShowsEveryVerdict(t *testing.T) {
	r, code, stderr := auditJSON(t, "../../testdata/demo.pcap")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	seen := map[string]int{}
	for _, f := range r.Flows {
		seen[f.Verdict]++
	}
	for _, v := range []string{"clean", "open", "half_closed", "lingering_fin_wait2", "unacked_fin",
		"syn_unanswered", "refused", "synack_unacked", "reset", "half_open"} {
		if seen[v] == 0 {
			t.Errorf("demo.pcap has no %s flow (verdicts seen: %v)", v, seen)
		}
	}
}

// TestJSONContract checks the field formats the README promises programs.
func TestJSONContract(t *testing.T) {
	r, _, _ := auditJSON(t, "../../testdata/ipv6-ext-header.pcap")
	if len(r.Flows) == 0 {
		t.Fatal("no flows")
	}
	f := r.Flows[0]
	if !strings.HasPrefix(f.Server, "[") || !strings.Contains(f.Server, "]:") {
		t.Errorf("IPv6 server %q is not [addr]:port", f.Server)
	}
	for name, ts := range map[string]string{"first_seen": f.FirstSeen, "last_seen": f.LastSeen} {
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("%s %q is not RFC 3339: %v", name, ts, err)
		}
	}
	switch f.Handshake {
	case "complete", "syn_unanswered", "refused", "synack_unacked", "not_seen":
	default:
		t.Errorf("handshake %q is not in the contract", f.Handshake)
	}
	if r.Summary == nil {
		t.Error("no summary object")
	}
}

// TestOutputToDevice: -o /dev/null is written in place. The whole-or-nothing
// rename that protects regular files would replace the device itself.
func TestOutputToDevice(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-o", os.DevNull, "../../testdata/demo.pcap"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	st, err := os.Stat(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v", os.DevNull, st.Mode())
	}
	if _, err := os.Stat(os.DevNull + ".tmp"); err == nil {
		t.Errorf("%s.tmp left behind", os.DevNull)
	}
}

// TestWriteFilteredCopy: with files, -w keeps what tcpdump -r IN -f EXPR -w
// OUT keeps (the TCP packets that passed the filter), and auditing the copy
// gives the same flows.
func TestWriteFilteredCopy(t *testing.T) {
	out := filepath.Join(t.TempDir(), "port8080.pcap")
	whole, code, stderr := auditJSON(t, "-f", "tcp port 8080", "-w", out, "../../testdata/demo.pcap")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	again, code, stderr := auditJSON(t, out)
	if code != exitOK {
		t.Fatalf("auditing the -w copy: exit %d: %s", code, stderr)
	}
	if len(whole.Flows) == 0 || len(whole.Flows) != len(again.Flows) {
		t.Fatalf("%d flows through the filter, %d in the copy", len(whole.Flows), len(again.Flows))
	}
	for i, f := range whole.Flows {
		g := again.Flows[i]
		if !strings.HasSuffix(f.Server, ":8080") {
			t.Errorf("flow %s → %s passed the filter 'tcp port 8080'", f.Client, f.Server)
		}
		if f.Client != g.Client || f.Server != g.Server || f.Verdict != g.Verdict || f.History != g.History {
			t.Errorf("flow %d: %s → %s %s %s, in the copy %s → %s %s %s",
				i, f.Client, f.Server, f.Verdict, f.History, g.Client, g.Server, g.Verdict, g.History)
		}
	}
}
