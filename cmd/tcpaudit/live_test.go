package main

import (
	"bytes"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/tcpaudit/tcpaudit/capture"
)

// TestListInterfaces runs tcpaudit -D, which needs no privilege: one
// numbered line per interface, as tcpdump -D prints them, with state and
// addresses.
func TestListInterfaces(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks Linux's loopback")
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-D"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("tcpaudit -D: exit %d: %s", code, stderr.String())
	}
	lo := regexp.MustCompile(`(?m)^\d+\.lo \[Up, Running, Loopback\] 127\.0\.0\.1/8`)
	if !lo.Match(stdout.Bytes()) {
		t.Errorf("tcpaudit -D does not list lo with its state and address:\n%s", stdout.String())
	}
}

func TestRawFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		want capture.FileFormat
	}{
		{"live.pcap", capture.FormatPcap},
		{"LIVE.PCAP", capture.FormatPcap},
		{"live.pcapng", capture.FormatPcapNG},
		{"live", capture.FormatPcapNG},
		{"live.pcap.gz", capture.FormatPcapNG},
		{"-", capture.FormatPcap},
	} {
		if got := rawFormat(tc.name); got != tc.want {
			t.Errorf("rawFormat(%q) = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestLiveChecksFlagsFirst: an option only the report needs is checked
// before the capture starts, not after hours of it. The capture would fail
// without root anyway; the error must be about the option.
func TestLiveChecksFlagsFirst(t *testing.T) {
	for _, args := range [][]string{
		{"-i", "lo", "--fail-on", "reset>"},
		{"-i", "lo", "--at", "yesterday"},
		{"-i", "lo", "-w", "-"},
		{"-i", "lo", "-w", "-", "-o", "report.txt", "--evidence", "evidence.pcapng"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, nil, &stdout, &stderr)
		if code != exitBadInput || strings.Contains(stderr.String(), "listening") || !strings.Contains(stderr.String(), args[2]) {
			t.Errorf("tcpaudit %s: exit %d, stderr %q; want exit %d naming %s before any capture",
				strings.Join(args, " "), code, stderr.String(), exitBadInput, args[2])
		}
	}
}
