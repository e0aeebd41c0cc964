//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// realRecorder writes testdata/real when the namespace suite runs with
// TCPAUDIT_RECORD_REAL=1: per scenario the tcpdump capture (NAME.pcap) and
// both namespaces' ss -tan at the end (NAME.ss.txt), and for all of them
// expect.json.
type realRecorder struct {
	dir    string
	mu     sync.Mutex
	expect []realExpect
}

func newRealRecorder(t *testing.T, dir string) *realRecorder {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &realRecorder{dir: dir}
}

// record keeps one scenario: tcpdump's capture, the sockets ss showed, and
// the expectations. tcpaudit's reading of tcpdump's file is checked against
// them too, as TestRealCaptures will.
func (r *realRecorder) record(t *testing.T, s *scene, want []realExpect, srvTruth, cliTruth sockets) {
	t.Helper()
	name := s.sc.name + ".pcap"
	src := filepath.Join(s.dir, "tcpdump.pcap")
	rep := auditFile(t, src, s.sc.args...)
	compareExpectations(t, "tcpdump capture", rep.Flows, want)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var ss strings.Builder
	fmt.Fprintf(&ss, "# %s: ss -tan when the capture ended, sockets on port %d\n", s.sc.name, s.sc.port)
	if s.srvHost.ns == s.cliHost.ns {
		fmt.Fprintf(&ss, "# namespace of both ends (loopback)\n%s", srvTruth.port(s.sc.port))
	} else {
		fmt.Fprintf(&ss, "# server namespace (%s, %s)\n%s# client namespace (%s, %s)\n%s",
			s.lab.srv.v4, s.lab.srv.v6, srvTruth.port(s.sc.port), s.lab.cli.v4, s.lab.cli.v6, cliTruth.port(s.sc.port))
	}
	if err := os.WriteFile(filepath.Join(r.dir, s.sc.name+".ss.txt"), []byte(ss.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range want {
		e.File = name
		r.expect = append(r.expect, e)
	}
}

// writeExpectations writes expect.json, one flow per line, grouped by file
// in scenario order so that diffs between recordings stay readable.
func (r *realRecorder) writeExpectations(t *testing.T) {
	order := map[string]int{}
	for i, sc := range netnsScenarios {
		order[sc.name+".pcap"] = i
	}
	sort.SliceStable(r.expect, func(i, j int) bool { return order[r.expect[i].File] < order[r.expect[j].File] })
	var b strings.Builder
	b.WriteString("[\n")
	for i, e := range r.expect {
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		if i < len(r.expect)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	if err := os.WriteFile(filepath.Join(r.dir, "expect.json"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
