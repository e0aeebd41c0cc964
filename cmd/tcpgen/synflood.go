package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/spf13/pflag"
)

// synFloodSource is the i-th spoofed source of a flood: addresses spread over
// 198.18.0.0/15 (RFC 2544's benchmarking range) by an odd multiplier, which
// is a bijection modulo 2^17, and ports that differ for every pass over the
// range, so that no two SYNs share a 4-tuple.
func synFloodSource(i int) netip.AddrPort {
	const hosts = 1 << 17
	idx := uint32(i)*40503 + 12345
	idx &= hosts - 1
	port := 1024 + (i/hosts)*1000 + int(idx%1000)
	return netip.AddrPortFrom(addrFromUint32(0xc6120000+idx), uint16(port))
}

// maxFloodSources keeps synFloodSource's ports below 65536.
const maxFloodSources = (65535 - 1024 - 999) / 1000 * (1 << 17)

// writeSynFlood streams n SYNs from distinct spoofed sources to target, one
// every 2 µs, each answered by a SYN-ACK 1 µs later when synAck is set (the
// victim's view; without it, the view from in front of a firewall that drops
// them). Nothing ever acknowledges: n flows, all synack_unacked (or
// syn_unanswered), which is what --max-flows must survive.
func writeSynFlood(w io.Writer, n int, target netip.AddrPort, synAck bool, seed uint64) (packets int, err error) {
	if n > maxFloodSources {
		return 0, fmt.Errorf("at most %d sources", maxFloodSources)
	}
	fw, err := newFrameWriter(w, formatPcap, []link{ethernet})
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x73796e666c6f6f64))
	enc := newEncoder()
	emit := func(p *packet) error {
		at := baseTime.Add(p.at)
		return enc.encode(ethernet, p, func(frame []byte) error {
			packets++
			return fw.write(at, 0, frame)
		})
	}
	for i := range n {
		src := synFloodSource(i)
		isn := rng.Uint32()
		// Flood tools randomise the IP ID, TTL and window and send no
		// options beyond MSS.
		syn := packet{
			at: time.Duration(2*i) * time.Microsecond, src: src, dst: target,
			seq: isn, flags: flagSYN, window: uint16(1024 + rng.IntN(64000)), wscale: -1,
			ipID: uint16(rng.Uint32()), ttl: uint8(40 + rng.IntN(200)),
		}
		if err := emit(&syn); err != nil {
			return packets, err
		}
		if !synAck {
			continue
		}
		reply := packet{
			at: syn.at + time.Microsecond, src: target, dst: src,
			seq: rng.Uint32(), ack: isn + 1, flags: flagSYN | flagACK, window: 65160, wscale: 7,
			ipID: 0, // Linux sends IP ID 0 with DF on SYN-ACKs
		}
		if err := emit(&reply); err != nil {
			return packets, err
		}
	}
	return packets, fw.flush()
}

func runSynFlood(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("synflood", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.IntP("sources", "n", 1_000_000, "number of spoofed sources, one SYN each")
	targetFlag := fs.String("target", "192.0.2.10:443", "the victim, ip:port")
	synAck := fs.Bool("synack", true, "write the victim's SYN-ACK to each SYN")
	seed := fs.Uint64("seed", 1, "random seed; the same seed writes the same bytes")
	out := fs.StringP("output", "o", "", "pcap file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := netip.ParseAddrPort(*targetFlag)
	if err != nil || !target.Addr().Is4() {
		return fmt.Errorf("synflood: -target %q: want an IPv4 ip:port", *targetFlag)
	}
	if *n < 1 {
		return fmt.Errorf("synflood: -n must be positive")
	}
	f, bw, err := createOutput(*out)
	if err != nil {
		return fmt.Errorf("synflood: %w", err)
	}
	began := time.Now()
	packets, err := writeSynFlood(bw, *n, target, *synAck, *seed)
	if err != nil {
		f.Close()
		return fmt.Errorf("synflood %s: %w", *out, err)
	}
	if err := closeOutput(f, bw); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d spoofed SYNs, %d packets, written in %.1f s\n", *out, *n, packets, time.Since(began).Seconds())
	return nil
}
