package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Generators of the live benchmark. A pool of clients makes real
// connections (connect, send, close) to a server in this process; where the
// pool cannot go faster, crafted SYNs are written to a raw socket, and the
// kernel answers each with a SYN-ACK that the spoofed client port answers
// with a reset: a SYN flood, which is a connection flood too.
const (
	genConn  = "conn"  // client pool only
	genSYN   = "syn"   // crafted SYNs only
	genMixed = "mixed" // the pool first, SYNs for what it cannot reach
)

// flood sends loopback TCP traffic to a server on 127.0.0.1:port at a
// target number of packets per second. The rate is steered by, and
// measured on, lo's own packet counter: whatever the generators send, and
// the kernel's answers, all count.
type flood struct {
	ln      net.Listener
	addr    string
	port    uint16
	raw     int      // raw IPv4 socket for the crafted SYNs
	lo      *os.File // /sys/class/net/lo/statistics/rx_packets
	workers int
	senders int // goroutines writing crafted SYNs
	// perConn and perSYN are how many packets lo carries per pool
	// connection and per crafted SYN, measured by calibrate.
	perConn, perSYN float64
	synCount        atomic.Uint32 // crafted SYNs so far, which picks their ports
}

// floodResult is what one run sent, as lo counted it.
type floodResult struct {
	elapsed time.Duration
	packets uint64 // packets lo received during the run, from everyone
	conns   uint64 // pool connections completed
	failed  uint64 // pool connections that failed (dial or write)
	syns    uint64 // crafted SYNs written
}

func (r floodResult) rate() float64 { return pps(r.packets, r.elapsed) }

// generator names what actually sent the traffic.
func (r floodResult) generator() string {
	switch {
	case r.conns > 0 && r.syns > 0:
		return "conn+syn"
	case r.syns > 0:
		return genSYN
	default:
		return genConn
	}
}

// payload is what each pool client sends before closing, so that every
// connection carries data and its acknowledgment, as real ones do.
var payload = make([]byte, 64)

func newFlood(workers, senders int) (*flood, error) {
	lo, err := os.Open("/sys/class/net/lo/statistics/rx_packets")
	if err != nil {
		return nil, fmt.Errorf("lo packet counter: %w", err)
	}
	raw, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_TCP)
	if err != nil {
		lo.Close()
		return nil, fmt.Errorf("raw socket for crafted SYNs: %w", err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		lo.Close()
		unix.Close(raw)
		return nil, err
	}
	go serve(ln)
	return &flood{
		ln: ln, addr: ln.Addr().String(), port: uint16(ln.Addr().(*net.TCPAddr).Port),
		raw: raw, lo: lo, workers: workers, senders: senders,
		// First guesses, replaced by calibrate.
		perConn: 9, perSYN: 3,
	}, nil
}

func (f *flood) close() {
	f.ln.Close()
	unix.Close(f.raw)
	f.lo.Close()
}

// serve reads each connection to its end and closes it: the client closes
// first, so TIME_WAIT stays on the client side, where tcp_tw_reuse lets
// loopback connections reuse ports.
func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors, say: the clients see it as failed
			// connections, counted in the results.
			time.Sleep(time.Millisecond)
			continue
		}
		go func() {
			io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

// loPackets reads lo's received-packets counter.
func (f *flood) loPackets() (uint64, error) {
	var b [32]byte
	n, err := f.lo.ReadAt(b[:], 0)
	if err != nil && err != io.EOF {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b[:n])), 10, 64)
}

// calibrate measures how many packets a pool connection and a crafted SYN
// put on lo, and how fast the pool goes flat out, with nothing else of
// ours running.
func (f *flood) calibrate(ctx context.Context) (poolRate floodResult, err error) {
	poolRate, err = f.run(ctx, genConn, 1e9, time.Second)
	if err != nil {
		return poolRate, err
	}
	if poolRate.conns == 0 {
		return poolRate, fmt.Errorf("the client pool made no connection to %s (%d failed)", f.addr, poolRate.failed)
	}
	f.perConn = float64(poolRate.packets) / float64(poolRate.conns)
	syn, err := f.run(ctx, genSYN, 50000, 200*time.Millisecond)
	if err != nil {
		return poolRate, err
	}
	if syn.syns == 0 {
		return poolRate, errors.New("no crafted SYN could be sent")
	}
	f.perSYN = float64(syn.packets) / float64(syn.syns)
	return poolRate, nil
}

// floodTick is how often run compares the packets lo carried with the
// target and hands out more work.
const floodTick = time.Millisecond

// run sends traffic with the given generator at target packets per second
// for d, and reports what lo carried. Every tick it hands the generators
// the packets still missing to be on target (less what they were already
// given and have not sent yet): the pool takes connections while its queue
// has room, and in mixed mode the crafted SYNs make up the rest.
func (f *flood) run(ctx context.Context, gen string, target float64, d time.Duration) (floodResult, error) {
	var r floodResult
	lo0, err := f.loPackets()
	if err != nil {
		return r, err
	}
	var conns, failed, inFlight, syns, synBudget atomic.Int64
	tokens := make(chan struct{}, f.workers)
	var wg sync.WaitGroup
	usePool := gen != genSYN
	useSYN := gen != genConn
	if usePool {
		dialer := net.Dialer{Timeout: time.Second}
		for range f.workers {
			wg.Go(func() {
				for range tokens {
					inFlight.Add(1)
					if f.connect(&dialer) {
						conns.Add(1)
					} else {
						failed.Add(1)
					}
					inFlight.Add(-1)
				}
			})
		}
	}
	stop := make(chan struct{})
	wake := make(chan struct{}, f.senders)
	var synErr error
	var synErrOnce sync.Once
	senders := 0
	if useSYN {
		senders = f.senders
	}
	for range senders {
		wg.Go(func() {
			for {
				if synBudget.Add(-1) < 0 {
					synBudget.Add(1)
					select {
					case <-wake:
						continue
					case <-stop:
						return
					}
				}
				if err := f.sendSYN(); err != nil {
					synErrOnce.Do(func() { synErr = err })
					return
				}
				syns.Add(1)
			}
		})
	}

	start := time.Now()
	tick := time.NewTicker(floodTick)
	for {
		var now time.Time
		select {
		case now = <-tick.C:
		case <-ctx.Done():
			now, d = time.Now(), 0 // ends the run now
		}
		elapsed := now.Sub(start)
		var lo uint64
		if lo, err = f.loPackets(); err != nil {
			break
		}
		if elapsed >= d {
			// The rate is what lo carried in the window: the packets of
			// connections still under way come later, and would be
			// counted over however long they take to finish.
			r.elapsed, r.packets = elapsed, lo-lo0
			break
		}
		pending := float64(len(tokens)+int(inFlight.Load()))*f.perConn + float64(synBudget.Load())*f.perSYN
		missing := target*elapsed.Seconds() - float64(lo-lo0) - pending
		if usePool {
			for ; missing >= f.perConn && len(tokens) < cap(tokens); missing -= f.perConn {
				tokens <- struct{}{}
			}
			// Room left in the queue means the pool keeps up: what is
			// missing is less than a connection.
			if len(tokens) < cap(tokens) {
				missing = 0
			}
		}
		if useSYN && missing >= f.perSYN {
			synBudget.Add(int64(missing / f.perSYN))
			for range f.senders {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
	}
	tick.Stop()
	// Connections under way finish, so that nothing of this run goes on
	// into the next; queued ones and the SYN budget left are dropped.
	synBudget.Store(0)
drain:
	for {
		select {
		case <-tokens:
		default:
			break drain
		}
	}
	close(tokens)
	close(stop)
	wg.Wait()
	r.conns, r.failed, r.syns = uint64(conns.Load()), uint64(failed.Load()), uint64(syns.Load())
	return r, cmp.Or(err, synErr)
}

// connect makes one pool connection: connect, send, close.
func (f *flood) connect(d *net.Dialer) bool {
	c, err := d.Dial("tcp4", f.addr)
	if err != nil {
		return false
	}
	_, err = c.Write(payload)
	c.Close()
	return err == nil
}

// Crafted SYNs come from ports below Linux's ephemeral range (32768 and
// up), so that they never collide with a pool connection.
const (
	synPortLow  = 1024
	synPortHigh = 32767
)

// sendSYN writes one crafted SYN from 127.0.0.1 to the server's port.
func (f *flood) sendSYN() error {
	n := f.synCount.Add(1)
	var seg [20]byte
	// Golden-ratio steps spread the sequence numbers.
	synSegment(seg[:], synPortLow+uint16(n%(synPortHigh-synPortLow+1)), f.port, n*0x9e3779b9)
	return unix.Sendto(f.raw, seg[:], 0, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
}

// synSegment writes into seg (20 bytes) a TCP SYN without options from
// 127.0.0.1:src to 127.0.0.1:dst, checksum included; the kernel adds the
// IPv4 header.
func synSegment(seg []byte, src, dst uint16, seq uint32) {
	binary.BigEndian.PutUint16(seg[0:], src)
	binary.BigEndian.PutUint16(seg[2:], dst)
	binary.BigEndian.PutUint32(seg[4:], seq)
	binary.BigEndian.PutUint32(seg[8:], 0)      // acknowledgment
	seg[12] = 5 << 4                            // data offset: 5 words
	seg[13] = 0x02                              // SYN
	binary.BigEndian.PutUint16(seg[14:], 65535) // window
	binary.BigEndian.PutUint16(seg[16:], 0)     // checksum, below
	binary.BigEndian.PutUint16(seg[18:], 0)     // urgent pointer
	// One's-complement sum of the pseudo-header (source and destination
	// 127.0.0.1, protocol 6, TCP length) and the segment.
	sum := uint32(0x7f00+0x0001)*2 + 6 + uint32(len(seg))
	for i := 0; i+1 < len(seg); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(seg[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(seg[16:], ^uint16(sum))
}
