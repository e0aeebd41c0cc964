package main

import (
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"time"
	"unsafe"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/internal/segsynth"
	"github.com/tcpaudit/tcpaudit/reassembly"
)

// heapAfterGC returns the live heap after a full collection, so that two
// readings differ by what is really held, not by garbage not yet swept.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// perFlow measures the heap held per concurrently open flow: n connections
// complete their handshakes and exchange data, none closes, and the table
// holds all of them at once; once as the command keeps them for text,
// json, csv and zeek reports, once with the ladders md and html draw, and
// twice with IPv6 addresses, which the table keeps once per address (the
// generator's clients share one address per 256 connections; the second
// time every client has an address of its own, as a spoofed SYN flood's
// would).
func perFlow(w io.Writer, n int) {
	for _, c := range []struct {
		formats   string
		noLadders bool
		ipv6      int // 0: IPv4; 1: IPv6; 2: IPv6, every client its own address
	}{{"text, json, csv, zeek", true, 0}, {"md, html (ladders)", false, 0},
		{"text, json, csv, zeek, IPv6 flows", true, 1},
		{"text, json, csv, zeek, IPv6 flows, a client address each", true, 2}} {
		cfg := reassembly.DefaultConfig()
		cfg.NoLadders = c.noLadders
		before := heapAfterGC()
		t := reassembly.NewTable(cfg, func(*reassembly.Flow) {})
		s := segsynth.New(segsynth.Config{
			Conns: n, Concurrency: n, GapNanos: 1000, Seed: 1,
			Mix: mix(segsynth.Open), DataSegments: 2,
		})
		var seg capture.Segment
		for s.Next(&seg) {
			if c.ipv6 > 0 {
				seg.Src, seg.Dst = ipv6(seg.Src, c.ipv6 == 2), ipv6(seg.Dst, c.ipv6 == 2)
			}
			t.Add(&seg)
		}
		held := heapAfterGC() - before
		fmt.Fprintf(w, "memory per open flow, %s: %d flows open at once hold %.0f MB: %d bytes per flow (target 400)\n",
			c.formats, n, float64(held)/1e6, held/uint64(n))
		runtime.KeepAlive(t)
	}
	// An open flow holds only tracking state: the Flow result (Sizeof
	// below) is built when the flow is handed out.
	fmt.Fprintf(w, "  all of it tracking state; the %d-byte Flow result is built only when a flow ends\n",
		unsafe.Sizeof(reassembly.Flow{}))
}

// ipv6 returns ap with its IPv4 address moved into 2001:db8::/96, and
// with its port too when byPort is set: a client's port is its own, so its
// address becomes its own, where the servers, all on one port, still share
// theirs.
func ipv6(ap netip.AddrPort, byPort bool) netip.AddrPort {
	a := [16]byte{0x20, 0x01, 0x0d, 0xb8}
	v4 := ap.Addr().As4()
	copy(a[12:], v4[:])
	if byPort {
		a[8], a[9] = byte(ap.Port()>>8), byte(ap.Port())
	}
	return netip.AddrPortFrom(netip.AddrFrom16(a), ap.Port())
}

// mix weights a single ending.
func mix(e segsynth.Ending) []int {
	m := make([]int, e+1)
	m[e] = 1
	return m
}

// overTime feeds conns short connections spread over many TIME_WAIT periods
// of capture time through the sharded table, discarding flows as they are
// emitted (as a streaming writer would), and samples the heap ten times.
// Flat numbers mean memory does not grow with the length of the capture.
func overTime(w io.Writer, conns int) {
	cfg := reassembly.DefaultConfig()
	var finished int
	t := reassembly.NewSharded(cfg, 0, func(*reassembly.Flow) { finished++ })
	const concurrency = 1000
	// One segment every 20 µs: 11 segments per connection, so about
	// 50,000 connections per minute of capture, each one in TIME_WAIT for
	// a minute after it closes.
	s := segsynth.New(segsynth.Config{
		Conns: conns, Concurrency: concurrency, GapNanos: 20_000, Seed: 2,
		Mix: mix(segsynth.CleanClientFirst), DataSegments: 4,
	})
	fmt.Fprintf(w, "memory over time: %d short connections, %d at once, TIME_WAIT %v, flows discarded when emitted\n",
		conns, concurrency, cfg.TimeWait)
	fmt.Fprintf(w, "  %12s %14s %12s %10s\n", "segments", "capture time", "finished", "heap")
	var seg capture.Segment
	var n, start int64
	every := int64(conns) * 11 / 10
	began := time.Now()
	for s.Next(&seg) {
		if n == 0 {
			start = seg.Time
		}
		t.Add(&seg)
		n++
		if n%every == 0 {
			t.Sync()
			fmt.Fprintf(w, "  %12d %14v %12d %7.0f MB\n", n, time.Duration(seg.Time-start).Round(time.Second), finished, float64(heapAfterGC())/1e6)
		}
	}
	t.Close(seg.Time)
	fmt.Fprintf(w, "  %d segments in %v (%.1fM segments/s, synthetic input, no decoding)\n",
		n, time.Since(began).Round(time.Millisecond), float64(n)/time.Since(began).Seconds()/1e6)
}
