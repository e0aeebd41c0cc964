package main

import (
	"bytes"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// TestBench writes a small benchmark capture and checks that it is a time-
// ordered, decodable pcap with the requested number of connections, each
// ending of the mix present, and the same bytes for the same seed.
func TestBench(t *testing.T) {
	mix, err := parseMix(defaultMix)
	if err != nil {
		t.Fatal(err)
	}
	var a, b, c bytes.Buffer
	st, err := writeBench(&a, 500, 25, mix, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeBench(&b, 500, 25, mix, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := writeBench(&c, 500, 25, mix, 8); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same seed, different bytes")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("different seeds, same bytes")
	}
	if st.conns != 500 {
		t.Errorf("%d connections, want 500", st.conns)
	}
	for _, e := range endings {
		if st.verdicts[e.v] == 0 {
			t.Errorf("no %s connection in 500 with the default mix", e.v)
		}
	}
	segs, packets := readSegments(t, "bench.pcap", a.Bytes())
	if packets != st.packets || len(segs) != st.packets {
		t.Errorf("decoded %d packets (%d TCP), wrote %d", packets, len(segs), st.packets)
	}
	syns := map[netip.AddrPort]int{}
	for i, s := range segs {
		if i > 0 && s.at.Before(segs[i-1].at) {
			t.Fatalf("packet %d at %v, before packet %d", i+1, s.at, i)
		}
		if s.flags == flagSYN {
			syns[s.src]++
		}
	}
	// A connection's SYNs all come from its own client port; retransmitted
	// SYNs (syn_unanswered) repeat it, no other connection shares it.
	if len(syns) != st.conns {
		t.Errorf("%d distinct SYN sources, want one per connection (%d)", len(syns), st.conns)
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct{ in, err string }{
		{"clean=1", ""},
		{"clean=3, reset=1", ""},
		{"clean", "want verdict=weight"},
		{"cleen=1", "unknown verdict"},
		{"clean=-1", "not a count"},
		{"clean=0", "add up to 0"},
	} {
		_, err := parseMix(tc.in)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("parseMix(%q) = %v, want error containing %q", tc.in, err, tc.err)
		}
	}
}

// TestSynFlood checks the flood's shape: every source distinct, each SYN
// followed by a SYN-ACK acknowledging it, nothing else.
func TestSynFlood(t *testing.T) {
	var buf bytes.Buffer
	target := netip.MustParseAddrPort("192.0.2.10:443")
	n, err := writeSynFlood(&buf, 3000, target, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	segs, _ := readSegments(t, "synflood.pcap", buf.Bytes())
	if n != 6000 || len(segs) != 6000 {
		t.Fatalf("wrote %d, decoded %d; want 6000", n, len(segs))
	}
	seen := map[netip.AddrPort]bool{}
	for i := 0; i < len(segs); i += 2 {
		syn, reply := segs[i], segs[i+1]
		if syn.flags != flagSYN || syn.dst != target || seen[syn.src] {
			t.Fatalf("packet %d: %v: want a SYN to %v from a new source", i+1, syn, target)
		}
		seen[syn.src] = true
		if reply.flags != flagSYN|flagACK || reply.src != target || reply.dst != syn.src || reply.ack != syn.seq+1 {
			t.Fatalf("packet %d: %v: want the SYN-ACK to %v", i+2, reply, syn)
		}
	}
	// Sources stay distinct across passes over the address range.
	for _, i := range []int{0, 1 << 17, 2 << 17, maxFloodSources - 1} {
		for _, j := range []int{i + 1, i + 1<<17} {
			if j < maxFloodSources && synFloodSource(i) == synFloodSource(j) {
				t.Errorf("sources %d and %d are both %v", i, j, synFloodSource(i))
			}
		}
	}
	if _, err := writeSynFlood(io.Discard, maxFloodSources+1, target, false, 1); err == nil {
		t.Error("no error for more sources than distinct 4-tuples")
	}
}

// TestCommandLine runs the subcommands as a user types them, Go-style
// single-dash long flags included.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"bench", "-conns", "20", "-concurrency", "4", "-mix", "clean=1,refused=1", "-o", dir + "/b.pcap"},
		{"synflood", "-n", "10", "-synack=false", "-o", dir + "/f.pcap"},
		{"-o", dir, "refused.pcap", "rotated"},
		{"list"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 {
			t.Errorf("tcpgen %v: exit %d: %s", args, code, errOut.String())
		}
	}
	for _, args := range [][]string{
		{"bench"}, // no -o
		{"synflood", "-n", "0", "-o", dir + "/x"},
		{"-o", dir, "no-such-scenario"},
		{"bench", "-mix", "bogus", "-o", dir + "/y"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 2 || errOut.Len() == 0 {
			t.Errorf("tcpgen %v: exit %d, stderr %q; want 2 and a message", args, code, errOut.String())
		}
	}
}
