package main

import (
	"bytes"
	"regexp"
	"runtime"
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
