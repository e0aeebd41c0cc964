package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// key tells flows apart, reused 4-tuples included.
func flowKey(f e2eFlow) string { return f.Client + " " + f.Server + " " + f.FirstSeen }

func auditFlows(t *testing.T, args ...string) []e2eFlow {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"--format", "json"}, args...), strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("tcpaudit %v: exit %d: %s", args, code, stderr.String())
	}
	var r struct {
		Flows []e2eFlow `json:"flows"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("tcpaudit %v: %v", args, err)
	}
	return r.Flows
}

// TestEvidenceHoldsExactlyTheFlaggedFlows writes the evidence of the demo
// capture, audits the evidence file itself, and checks that it holds exactly
// the flagged flows, every packet of each and nothing else; tcpdump must
// read it and count the same packets.
func TestEvidenceHoldsExactlyTheFlaggedFlows(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		selected func(e2eFlow) bool
	}{
		{"abnormal", nil, func(f e2eFlow) bool {
			switch f.Verdict {
			case "clean", "open", "half_closed":
				return false
			}
			return true
		}},
		{"verdicts", []string{"--evidence-verdicts", "reset,refused"}, func(f e2eFlow) bool {
			return f.Verdict == "reset" || f.Verdict == "refused"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			evidence := filepath.Join(dir, "evidence.pcapng")
			args := append([]string{"--evidence", evidence}, tc.args...)
			report := auditFlows(t, append(args, "../../testdata/demo.pcap")...)
			want := map[string]e2eFlow{}
			packets := 0
			for _, f := range report {
				if tc.selected(f) {
					want[flowKey(f)] = f
					packets += f.ClientStats.Packets + f.ServerStats.Packets
				}
			}
			if len(want) == 0 {
				t.Fatal("the demo capture has no flow to select")
			}
			got := auditFlows(t, evidence)
			var extra, missing []string
			seen := map[string]bool{}
			for _, f := range got {
				seen[flowKey(f)] = true
				w, ok := want[flowKey(f)]
				if !ok {
					extra = append(extra, flowKey(f))
					continue
				}
				if f.Verdict != w.Verdict || f.ClientStats.Packets != w.ClientStats.Packets || f.ServerStats.Packets != w.ServerStats.Packets {
					t.Errorf("%s: in the evidence %s with %d/%d packets; in the report %s with %d/%d",
						flowKey(f), f.Verdict, f.ClientStats.Packets, f.ServerStats.Packets, w.Verdict, w.ClientStats.Packets, w.ServerStats.Packets)
				}
			}
			for k := range want {
				if !seen[k] {
					missing = append(missing, k)
				}
			}
			sort.Strings(extra)
			sort.Strings(missing)
			if len(extra) > 0 || len(missing) > 0 {
				t.Errorf("evidence flows differ from the selection: extra %q, missing %q", extra, missing)
			}

			tcpdump, err := exec.LookPath("tcpdump")
			if err != nil {
				if os.Getenv("CI") != "" {
					t.Fatal("tcpdump is not installed (the Makefile's test-deps installs it)")
				}
				t.Skip("tcpdump not installed: skipping the cross-read")
			}
			out, err := exec.Command(tcpdump, "-nr", evidence).Output()
			if err != nil {
				t.Fatalf("tcpdump -r %s: %v", evidence, err)
			}
			if n := strings.Count(string(out), "\n"); n != packets {
				t.Errorf("tcpdump reads %d packets from the evidence, the selected flows have %d", n, packets)
			}
		})
	}
}
