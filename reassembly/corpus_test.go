package reassembly_test

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcpaudit/tcpaudit/internal/peers"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// corpusEndings are the endings ../shared/peers/CORPUS.md states for real
// public captures, as verdict counts. explain says where tcpaudit differs
// from the expectation's wording (Suricata's or tshark's), and why.
var corpusEndings = []struct {
	file    string
	want    map[string]int
	explain string
}{
	{"suricata-verify/bug-6733-syn-packet-flow-output_input.pcap", map[string]int{"syn_unanswered": 1}, ""},
	{"suricata-verify/tcp-session-syn-flood-drop-precedence_input.pcap", map[string]int{"syn_unanswered": 200}, ""},
	{"suricata-verify/bug-7657-01_input.pcap", map[string]int{"syn_unanswered": 23, "half_closed": 1},
		"24 SYNs with 22 ISNs: each new ISN is a new attempt; the last completes and the client half-closes"},
	{"suricata-verify/bug-3844_input.pcap", map[string]int{"syn_unanswered": 1, "reset": 1},
		"the first SYN got a RST without ACK, which SYN-SENT drops (RFC 9293 p. 67, Linux too): unanswered, not refused; Suricata calls it a refusal"},
	{"suricata-verify/bug-2646-01_input.pcap", map[string]int{"unacked_fin": 1},
		"Suricata says LAST_ACK; the server's FIN acks only data, not the client's FIN, so it was sent before that FIN arrived: a simultaneous close, and the server sits in CLOSING"},
	{"suricata-verify/bug-2646-02_input.pcap", map[string]int{"reset": 1}, ""},
	{"suricata-verify/bug-78-uricontent_input.pcap", map[string]int{"reset": 1}, ""},
	{"suricata-verify/bug-814_input.pcap", map[string]int{"half_closed": 1}, ""},
	{"suricata-verify/bug-2491-02_simple_http_download.onesided.nosyn.pcap", map[string]int{"unacked_fin": 1},
		"one-sided capture: the server's ACK of the client's FIN was never captured (Suricata guesses CLOSE_WAIT from an ACK of an unseen FIN)"},
	{"suricata-verify/app-layer-template_input.pcap", map[string]int{"clean": 1}, ""},
	{"suricata-verify/community-id-ipv6_input.pcap", map[string]int{"open": 1, "clean": 1}, ""},
	{"suricata-verify/bug-4376_syn_retransmit_with_ts.pcap", map[string]int{"clean": 1}, ""},
	{"suricata-verify/bug-4702-01_input.pcap", map[string]int{"reset": 1}, ""},
	{"suricata-verify/bug-4702-02_tsecr.pcap", map[string]int{"clean": 1}, ""},
	{"suricata-verify/bug-6244-tcp-rst-with-data_tcp-rst-with-data.pcap", map[string]int{"reset": 1}, ""},
	{"suricata-verify/bug-6244-tcp-rst-with-data-02_tcp-rst-with-data.pcap", map[string]int{"reset": 1}, ""},
	{"suricata-verify/tcp-split-handshake-01-4whs_split-handshake-4whs.pcap", map[string]int{"reset": 1}, ""},
	{"suricata-verify/tcp-split-handshake-02-5whs_split-handshake-5whs.pcap", map[string]int{"reset": 1},
		"tshark splits it in 2 streams; the server's SYN while the client waits in SYN-SENT is a split handshake, one connection"},
	{"suricata-verify/alert-no-3whs-established_no-3whs.pcap", map[string]int{"reset": 1}, ""},
	{"suricata-verify/alert-testmyids-midstream_input.pcap", map[string]int{"clean": 1}, ""},
	{"suricata-verify/tcp-stream-after-swap_http-start-from-response.pcap", map[string]int{"clean": 1}, ""},
	{"suricata-verify/tcp-async-01_input.pcap", map[string]int{"open": 1}, ""},
	{"suricata-verify/bug-8629-async-oneside_input.pcap", map[string]int{"reset": 1}, ""},
	{"suricata-verify/stream-async-6063-srv-01_http-request-header-async-srv.pcap", map[string]int{"unacked_fin": 1}, ""},
	{"suricata-verify/stream-async-6063-cli-01_http-request-header-async-cli.pcap", map[string]int{"unacked_fin": 1},
		"client side only: the FIN's ACK was not captured (Suricata, seeing no server packet, keeps ESTABLISHED)"},
	{"suricata-verify/tcp-empty-sack_tcp-opt.pcap", map[string]int{"half_open": 1},
		"the server's FIN was retransmitted 3 times into the client's silence and answered with RST: the client had lost the connection"},
	{"suricata-verify/tcp-fastopen-01_tfo.pcap", map[string]int{"clean": 2}, ""},
	{"suricata-verify/tcp-fastopen-05_tfo.pcap", map[string]int{"clean": 2}, ""},
	{"suricata-verify/tcp-fastopen-11-reject-syn-data_tlpw-tcp-tfo-data-on-syn-nack.pcap", map[string]int{"reset": 1}, ""},
	{"suricata-verify/bug-3286-02-linux-evasion_with_evasion_linux.pcap", map[string]int{"open": 1},
		"the spoofed RST and FIN echo a timestamp the client never sent: Linux drops them in SYN-SENT (PAWS), the real SYN-ACK follows"},
	{"suricata-verify/decode-sll2-01_input.pcap", map[string]int{"open": 1}, ""},
	{"suricata-verify/decode-sll2-02_input.pcap", map[string]int{"clean": 1}, ""},
	{"suricata-verify/linktype-228_flow-test-01.pcap", map[string]int{"open": 1}, ""},
	{"suricata-verify/enip-keywords_enip_cip_example.pcap", map[string]int{"open": 1, "synack_unacked": 1, "reset": 1}, ""},
	{"suricata-verify/tls-duplicate-hello_input.pcap", map[string]int{"refused": 1, "reset": 1}, ""},
	{"suricata-verify/http-mime-truncated_input.pcap", map[string]int{"reset": 1}, ""},
	{"suricata-verify/tcp-rst-unacked-stream-09_TLPW1-tcp-110.37.219.134-10.12.14.101-tcp-990-49230.pcap", map[string]int{"reset": 1}, ""},
	{"tcpdump/tcp-handshake-nano.pcap", map[string]int{"open": 1}, ""},
	{"tcpdump/dns_tcp.pcap", map[string]int{"clean": 1}, ""},
	{"tcpdump/whois.pcap", map[string]int{"clean": 1}, ""},
	{"tcpdump/ssh.pcap", map[string]int{"clean": 1}, ""},
	{"tcpdump/pptp.pcap", map[string]int{"clean": 1}, ""},
	{"tcpdump/of13_ericsson.pcapng", map[string]int{"open": 19, "refused": 1, "reset": 1}, ""},
	{"tcpdump/resp_3_malicious.pcap", map[string]int{"clean": 18}, ""},
	{"tcpdump/mptcp-fclose.pcap", map[string]int{"reset": 1}, ""},
	{"gopacket/test_ethernet.pcap", map[string]int{"clean": 1}, ""},
	{"gopacket/test_loopback.pcap", map[string]int{"open": 2}, ""},
	{"gopacket/le_test300.pcapng", map[string]int{"reset": 1},
		"after the FINs the client never acknowledged the server's FIN and reset instead (its first two RSTs carry the FIN's sequence number, outside the window: ignored)"},
}

func verdictCounts(flows []*reassembly.Flow) map[string]int {
	m := map[string]int{}
	for _, f := range flows {
		m[f.Verdict.String()]++
	}
	return m
}

func TestCorpusEndings(t *testing.T) {
	root := peers.Dir(t)
	for _, c := range corpusEndings {
		got := verdictCounts(auditFiles(t, []string{filepath.Join(root, c.file)}))
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: verdicts %v, want %v", c.file, got, c.want)
		}
		if c.explain != "" {
			t.Logf("%s: %s", c.file, c.explain)
		}
	}
	// tls-subjectaltname is real browsing: tshark counts 68 streams with one
	// SYN unanswered; nine attempts met a stale ACK from a server still
	// holding an older connection, were reset by the client and retried
	// with the same ISN, which stays one flow.
	flows := auditFiles(t, []string{filepath.Join(root, "suricata-verify/tls-subjectaltname_input.pcap")})
	if n, su := len(flows), verdictCounts(flows)["syn_unanswered"]; n != 68 || su != 1 {
		t.Errorf("tls-subjectaltname: %d flows, %d syn_unanswered; want 68 and 1 (%v)", n, su, verdictCounts(flows))
	}
}

// TestCorpusReadable runs every capture of the peer corpus through a Table:
// none may panic, and every flow gets a verdict. Damaged files stop at the
// damage, as the reader reports.
func TestCorpusReadable(t *testing.T) {
	root := peers.Dir(t)
	files := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Ext(strings.TrimSuffix(p, ".gz")) {
		case ".pcap", ".pcapng", ".cap":
		default:
			return nil
		}
		files++
		flows, err := audit(t, []string{p})
		if err != nil {
			return nil // not a capture we can open: the reader's tests cover it
		}
		for _, f := range flows {
			if f.Verdict == reassembly.VerdictUnknown || f.Reason == "" {
				t.Errorf("%s: flow %d without verdict or reason", p, f.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d captures read", files)
}
