// Command tcpaudit rebuilds every TCP connection's handshake and close from a
// packet capture or a live interface, infers the TCP state each host was left
// in, and says how each connection ended.
//
// Example:
//
//	$ tcpaudit testdata/demo.pcap
//	$ tcpdump -i any -w - 'tcp port 443' | tcpaudit -
//	$ tcpaudit --format json -o report.json rotated-*.pcap
//	$ tcpaudit --fail-on 'reset,syn_unanswered>10' ci-capture.pcapng
//
// Exit status: 0 when the audit ran, 1 when a --fail-on condition was met,
// 2 for bad usage or bad input (the report of what was read is still written).
package main

import (
	"fmt"
	"github.com/tcpaudit/tcpaudit/report"
	"io"
	"os"
)

// Exit statuses, documented in the README.
const (
	exitOK       = 0
	exitGate     = 1
	exitBadInput = 2
)

func main() {
	tuneGC()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it takes its streams as arguments so that
// tests can drive the whole command in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if err == errHelp {
			return exitOK
		}
		complain(stderr, "%v", err)
		return exitBadInput
	}
	stop, err := startProfiles(o)
	if err != nil {
		complain(stderr, "%v", err)
		return exitBadInput
	}
	defer stop()
	switch {
	case o.listInterfaces:
		return listInterfaces(stdout, stderr)
	case o.iface != "":
		return runLive(o, stdout, stderr)
	default:
		return runFiles(o, stdin, stdout, stderr)
	}
}

// complain writes one "tcpaudit: ..." line to stderr. The message may quote
// strings from a capture or a file name, so control characters are
// neutralised before they reach a terminal.
func complain(stderr io.Writer, format string, a ...any) {
	fmt.Fprintln(stderr, "tcpaudit: "+report.Safe(fmt.Sprintf(format, a...)))
}
