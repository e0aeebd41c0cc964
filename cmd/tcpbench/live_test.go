package main

import (
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func TestParseCaptureStats(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       captureStats
	}{
		{
			name: "tcpdump",
			text: "tcpdump: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n" +
				"^C8 packets captured\n16 packets received by filter\n0 packets dropped by kernel\n",
			want: captureStats{captured: 8, received: 16},
		},
		{
			name: "tcpdump with drops, one of them by the interface",
			text: "1 packet captured\n700 packets received by filter\n699 packets dropped by kernel\n1 packet dropped by interface\n",
			want: captureStats{captured: 1, received: 700, kernelDropped: 699, ifaceDropped: 1},
		},
		{
			name: "tcpaudit",
			text: "tcpaudit: listening on lo, link-type EN10MB, snapshot length 256 bytes; Ctrl-C stops and writes the report\n" +
				"tcpaudit: 172731 packets captured, 793000 received by filter, 448938 dropped by the kernel, 3 by the interface\n" +
				"tcpaudit: 65000 flows\n",
			want: captureStats{captured: 172731, received: 793000, kernelDropped: 448938, ifaceDropped: 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCaptureStats(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseCaptureStatsIncomplete(t *testing.T) {
	// A capture killed before it printed its counters must not read as
	// one that lost nothing.
	_, err := parseCaptureStats("tcpdump: listening on lo\n12 packets captured\n")
	if err == nil || !strings.Contains(err.Error(), "received by filter") {
		t.Errorf("got %v, want an error naming the missing counter", err)
	}
}

func TestDropShare(t *testing.T) {
	// On lo the kernel counts each packet twice: 400 lost of 1000 offered
	// is 800 of 2000 received.
	if got, want := dropShare(captureStats{captured: 600, received: 2000, kernelDropped: 800}), "800 (40.0%)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := dropShare(captureStats{captured: 600, received: 1200}); got != "0" {
		t.Errorf("no drops: got %q", got)
	}
}

func TestParseRates(t *testing.T) {
	got, err := parseRates("500, 25k,1.5M")
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{500, 25000, 1.5e6}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rate %d: got %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"", "fast", "25k,0", "-5k", "50k,25k", "25k,25k", "3G"} {
		if _, err := parseRates(bad); err == nil {
			t.Errorf("parseRates(%q) accepted", bad)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for r, want := range map[float64]string{500: "500", 25000: "25k", 106200: "106.2k", 1.5e6: "1.5M"} {
		if got := formatRate(r); got != want {
			t.Errorf("formatRate(%v) = %q, want %q", r, got, want)
		}
	}
}

func TestNextStep(t *testing.T) {
	if more, note := nextStep(100000, 95000); !more || note != "" {
		t.Errorf("95%% of the target: got %v %q, want to go on", more, note)
	}
	more, note := nextStep(200000, 106280)
	if more {
		t.Error("53% of the target: want to stop stepping up")
	}
	if !strings.Contains(note, "106.2k of 200k") {
		t.Errorf("note %q does not say what was reached", note)
	}
}

func TestFloodGenerator(t *testing.T) {
	for _, tc := range []struct {
		r    floodResult
		want string
	}{
		{floodResult{conns: 10}, "conn"},
		{floodResult{syns: 10}, "syn"},
		{floodResult{conns: 10, syns: 1}, "conn+syn"},
	} {
		if got := tc.r.generator(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.r, got, tc.want)
		}
	}
}

// TestSynSegment checks the crafted SYN against gopacket's encoding of
// the same segment, checksum included.
func TestSynSegment(t *testing.T) {
	seg := make([]byte, 20)
	synSegment(seg, 1234, 40073, 0xdeadbeef)

	ip := &layers.IPv4{SrcIP: []byte{127, 0, 0, 1}, DstIP: []byte{127, 0, 0, 1}, Protocol: layers.IPProtocolTCP}
	tcp := &layers.TCP{SrcPort: 1234, DstPort: 40073, Seq: 0xdeadbeef, SYN: true, Window: 65535}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := tcp.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}); err != nil {
		t.Fatal(err)
	}
	if want := buf.Bytes(); string(seg) != string(want) {
		t.Errorf("got  % x\nwant % x", seg, want)
	}
}
