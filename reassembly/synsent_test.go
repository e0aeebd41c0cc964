package reassembly

import (
	"fmt"
	"strings"
	"testing"
)

// TestWhatSynSentIgnores: segments that cannot move an end out of
// SYN-SENT leave it there, and the flow's reason and notes say what came
// and why it changed nothing.
func TestWhatSynSentIgnores(t *testing.T) {
	tests := []struct {
		name           string
		lines          []string
		handshake      Handshake
		verdict        Verdict
		client, server State
		closer         Party
		reason         string // a phrase of Reason
		note           string // a phrase of one note
		noNote         string // a phrase no note may have
	}{
		// /work/shared/peers/tcpdump/tfo-5c1fa7f9ae91.pcap, port 13048:
		// a TFO SYN with 4 bytes, 10 s later a FIN with the ACK bit and
		// ack 0, nothing from the server.
		{"FIN with ack 0 after an unanswered SYN", []string{"C S 1000 4", "@10 C F. 1005/0"},
			HandshakeSynUnanswered, SynUnanswered, SynSent, Closed, Nobody,
			"no reply from the server", "ack 0", ""},
		// A one-way capture still completes the handshake: the ACK
		// acknowledges a SYN-ACK the capture missed.
		{"ACK of a SYN-ACK not captured", []string{"C S 1000", "@0.1 C . 1001/7001", "C F. 1001/7001"},
			HandshakeComplete, UnackedFin, FinWait1, Unknown, ByClient,
			"client's FIN unacknowledged", "SYN-ACK that was not captured", ""},
		// /work/shared/peers/suricata-verify/bug-3844_input.pcap: the SYN
		// answered by a RST without the ACK bit, which SYN-SENT drops.
		{"RST without ACK to a SYN", []string{"C S 1111", "S R 2222"},
			HandshakeSynUnanswered, SynUnanswered, SynSent, Closed, Nobody,
			"only by 1 RST without the ACK bit", "RST from the server without the ACK bit ignored by the client in SYN_SENT", "receive window"},
		{"RST acknowledging something else", []string{"C S 1111", "S R. 0/5000"},
			HandshakeSynUnanswered, SynUnanswered, SynSent, Closed, Nobody,
			"only by 1 RST acknowledging something other than the SYN", "ignored by the client in SYN_SENT", "receive window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := oneFlow(t, tt.lines...)
			got := fmt.Sprint(f.Handshake, f.Verdict, f.Client().State, f.Server().State, f.ActiveCloser)
			want := fmt.Sprint(tt.handshake, tt.verdict, tt.client, tt.server, tt.closer)
			if got != want {
				t.Errorf("handshake verdict client server closer = %s, want %s\nreason: %s\nnotes: %q", got, want, f.Reason, f.Notes)
			}
			if !strings.Contains(f.Reason, tt.reason) {
				t.Errorf("reason %q does not say %q", f.Reason, tt.reason)
			}
			notes := strings.Join(f.Notes, "\n")
			if !strings.Contains(notes, tt.note) || tt.noNote != "" && strings.Contains(notes, tt.noNote) {
				t.Errorf("notes %q: want one saying %q, none saying %q", f.Notes, tt.note, tt.noNote)
			}
		})
	}
}
