package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tcpaudit/tcpaudit/capture"
)

// TestCaptureReadsEverything reads every generated file through tcpaudit's
// own reader, capture.OpenFiles, and checks that it yields exactly the
// segments the scenario sent: same endpoints, sequence space, flags, payload
// length (fragments reassembled) and time, in order, with nothing skipped.
func TestCaptureReadsEverything(t *testing.T) {
	dir := t.TempDir()
	for _, d := range catalogue {
		outs, s, err := build(d)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, o := range outs {
			p := filepath.Join(dir, o.name)
			if err := os.WriteFile(p, o.data, 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
		want := slices.Clone(s.packets)
		if !s.keepOrder {
			slices.SortStableFunc(want, func(a, b packet) int { return cmpDuration(a.at, b.at) })
		}
		var udp uint64
		want = slices.DeleteFunc(want, func(p packet) bool {
			if p.udp {
				udp++
			}
			return p.udp
		})
		src, err := capture.OpenFiles(paths, capture.Options{})
		if err != nil {
			t.Errorf("%s: %v", d.name, err)
			continue
		}
		var got []capture.Segment
		for {
			var seg capture.Segment
			err := src.Next(&seg)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Errorf("%s: %v", d.name, err)
				break
			}
			got = append(got, seg)
		}
		st := src.Stats()
		src.Close()
		// The one scenario whose clock steps back must be reported as such,
		// and it is the only warning any generated file may raise.
		wantWarnings := 0
		if d.name == "adv-backwards-time.pcap" {
			wantWarnings = 1
		}
		if st.Undecodable+st.UnsupportedLink > 0 || st.NonTCP != udp || len(src.Warnings()) != wantWarnings {
			t.Errorf("%s: %d undecodable, %d unsupported link, %d non-TCP (want %d); warnings %q",
				d.name, st.Undecodable, st.UnsupportedLink, st.NonTCP, udp, src.Warnings())
		}
		if len(got) != len(want) {
			t.Errorf("%s: capture read %d TCP segments, the scenario sent %d", d.name, len(got), len(want))
			continue
		}
		for i, g := range got {
			w := want[i]
			at := baseTime.Add(w.at)
			if s.format != formatPcapNano && s.format != formatPcapng {
				at = at.Truncate(1000)
			}
			if g.Src != w.src || g.Dst != w.dst || g.Seq != w.seq || g.Ack != w.ack ||
				uint8(g.Flags) != uint8(w.flags) || g.PayloadLen != uint32(w.payload) || g.Time != at.UnixNano() {
				t.Errorf("%s: segment %d = %v > %v [%v] seq %d ack %d len %d at %d, want %s at %d",
					d.name, i+1, g.Src, g.Dst, g.Flags, g.Seq, g.Ack, g.PayloadLen, g.Time, w.tcpdump(), at.UnixNano())
			}
		}
	}
}
