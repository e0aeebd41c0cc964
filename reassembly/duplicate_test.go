package reassembly

import (
	"fmt"
	"testing"
)

// oneFlow runs a script that must make exactly one flow, closed at its
// last packet.
func oneFlow(t *testing.T, lines ...string) *Flow {
	t.Helper()
	flows := run(t, script(t, lines...), 0)
	if len(flows) != 1 {
		t.Fatalf("%d flows, want 1: %s", len(flows), describe(flows))
	}
	return flows[0]
}

// TestDuplicateCapture tells a packet captured twice from the same packet
// sent twice. Linux in SYN-RECEIVED answers a retransmitted SYN with its
// SYN-ACK again, byte for byte the one its SYN-ACK timer sent a moment
// before (same TSval at millisecond granularity; the IP ID of a DF SYN-ACK
// is 0 both times): the peer's SYN in between makes it an answer, not a
// copy (testdata/real/synack_lost_client_retries.pcap).
func TestDuplicateCapture(t *testing.T) {
	tests := []struct {
		name           string
		lines          []string
		client, server string // "duplicates/retransmits" per side
	}{
		{"SYN-ACK answering a retransmitted SYN, 0.3 ms after the timer's",
			[]string{"C S 1000", "S S. 5000/1001", "@1 S S. 5000/1001", "@1.0003 C S 1000", "@1.0004 S S. 5000/1001", "@1.0005 C . 1001/5001"},
			"0/1", "0/2"},
		{"SYN-ACK captured twice", []string{"C S 1000", "S S. 5000/1001", "@0.0012 S S. 5000/1001", "@0.0013 C . 1001/5001"},
			"0/0", "1/0"},
		{"SPAN: SYN and SYN-ACK each captured twice, interleaved",
			[]string{"C S 1000", "@0.00001 S S. 5000/1001", "@0.00002 C S 1000", "@0.00003 S S. 5000/1001", "@0.001 C . 1001/5001"},
			"1/0", "1/0"},
		{"data captured twice", with(handshake, "C P. 1001/5001 100", "C P. 1001/5001 100", "S . 5001/1101"),
			"1/0", "0/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := oneFlow(t, tt.lines...)
			cl, sv := f.Client(), f.Server()
			got := fmt.Sprintf("%d/%d %d/%d", cl.Duplicates, cl.Retransmits, sv.Duplicates, sv.Retransmits)
			if want := tt.client + " " + tt.server; got != want {
				t.Errorf("duplicates/retransmits client server = %s, want %s; notes %q", got, want, f.Notes)
			}
		})
	}
}
