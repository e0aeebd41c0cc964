package main

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// ending scripts one whole connection of a given verdict, starting at the
// conn's clock. Benchmarks mix them; each takes a bounded number of packets.
type ending struct {
	v   verdict
	run func(c *conn, rng *rand.Rand)
}

// endings is in verdict order so that a mix is applied deterministically.
var endings = []ending{
	{vClean, func(c *conn, rng *rand.Rand) {
		c.handshake()
		exchanges(c, rng, 1+rng.IntN(10))
		c.closeBy(side(rng.IntN(2)))
	}},
	{vOpen, func(c *conn, rng *rand.Rand) {
		c.handshake()
		exchanges(c, rng, 1+rng.IntN(10))
	}},
	{vHalfClosed, func(c *conn, rng *rand.Rand) {
		c.handshake()
		exchanges(c, rng, 1+rng.IntN(3))
		c.fin(C)
		c.ack(S)
		c.data(S, 1+rng.IntN(1400))
		c.ack(C)
	}},
	{vLingeringFinWait2, func(c *conn, rng *rand.Rand) {
		c.handshake()
		exchanges(c, rng, 1+rng.IntN(3))
		c.fin(S)
		c.ack(C)
	}},
	{vUnackedFin, func(c *conn, rng *rand.Rand) {
		c.handshake()
		exchanges(c, rng, 1+rng.IntN(3))
		c.fin(C)
		c.ack(S)
		c.backoff(c.fin(S), 200*ms, 4)
	}},
	{vSynUnanswered, func(c *conn, _ *rand.Rand) { c.backoff(c.syn(), sec, 3) }},
	{vRefused, func(c *conn, _ *rand.Rand) { c.syn(); c.refuse() }},
	{vSynAckUnacked, func(c *conn, _ *rand.Rand) { c.syn(); c.backoff(c.synAck(), sec, 3) }},
	{vReset, func(c *conn, rng *rand.Rand) {
		c.handshake()
		exchanges(c, rng, 1+rng.IntN(5))
		c.rst(side(rng.IntN(2)))
	}},
	{vHalfOpen, func(c *conn, rng *rand.Rand) {
		c.handshake()
		exchanges(c, rng, 1+rng.IntN(3))
		c.backoff(c.data(C, 1+rng.IntN(1400)), 200*ms, 7)
	}},
}

// exchanges is n small request/response pairs (RPC-sized, so that the
// packet mix resembles issue 5's reference capture: 5.6M packets in 507 MB)
// with think time between them.
func exchanges(c *conn, rng *rand.Rand, n int) {
	for range n {
		c.exchange(10+rng.IntN(50), 10+rng.IntN(300))
		c.wait(time.Duration(rng.IntN(20_000)) * time.Microsecond)
	}
}

// defaultMix has every verdict, mostly clean, as on a busy but healthy
// server.
const defaultMix = "clean=70,reset=8,refused=4,syn_unanswered=2,synack_unacked=2,half_open=2,open=4,half_closed=2,lingering_fin_wait2=3,unacked_fin=3"

// mixEntry is one weighted verdict of a benchmark mix.
type mixEntry struct {
	end    ending
	weight int
}

// parseMix reads "clean=80,reset=10,..." into weighted endings.
func parseMix(s string) ([]mixEntry, error) {
	var mix []mixEntry
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("mix %q: want verdict=weight", part)
		}
		i := slices.IndexFunc(endings, func(e ending) bool { return string(e.v) == name })
		if i < 0 {
			return nil, fmt.Errorf("mix: unknown verdict %q (one of %v)", name, allVerdicts)
		}
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("mix: weight of %s: %q is not a count", name, w)
		}
		mix = append(mix, mixEntry{endings[i], n})
	}
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	if total == 0 {
		return nil, fmt.Errorf("mix %q: weights add up to 0", s)
	}
	return mix, nil
}

func (m mixPicker) pick(rng *rand.Rand) ending {
	r := rng.IntN(m.total)
	for _, e := range m.mix {
		if r < e.weight {
			return e.end
		}
		r -= e.weight
	}
	return m.mix[len(m.mix)-1].end
}

type mixPicker struct {
	mix   []mixEntry
	total int
}

// benchSlot is one of the concurrent connection "lanes": it runs its
// connections back to back, and holds only the current one's packets.
type benchSlot struct {
	id    int
	sink  packetSink
	next  int // index of the next packet to write in sink.packets
	count int // connections started by this slot
	clock time.Duration
}

func (s *benchSlot) nextAt() time.Duration { return s.sink.packets[s.next].at }

// slotHeap orders slots by their next packet's time, then by id, so that
// the merged output is in time order and reproducible.
type slotHeap []*benchSlot

func (h slotHeap) Len() int { return len(h) }
func (h slotHeap) Less(i, j int) bool {
	a, b := h[i].nextAt(), h[j].nextAt()
	return a < b || a == b && h[i].id < h[j].id
}
func (h slotHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)   { *h = append(*h, x.(*benchSlot)) }
func (h *slotHeap) Pop() (x any) { old := *h; x = old[len(old)-1]; *h = old[:len(old)-1]; return x }

// benchStats is what a bench run wrote.
type benchStats struct {
	conns, packets int
	bytes          int64
	verdicts       map[verdict]int
	span           time.Duration
}

// writeBench streams conns connections, concurrency of them in flight at any
// time, as an Ethernet/IPv4 pcap. Memory is bounded by concurrency, not by
// the size of the capture.
func writeBench(w io.Writer, conns, concurrency int, mix []mixEntry, seed uint64) (benchStats, error) {
	st := benchStats{verdicts: map[verdict]int{}}
	fw, err := newFrameWriter(w, formatPcap, []link{ethernet})
	if err != nil {
		return st, err
	}
	picker := mixPicker{mix: mix}
	for _, m := range mix {
		picker.total += m.weight
	}
	rng := rand.New(rand.NewPCG(seed, 0x62656e6368))
	started := 0
	// start runs the slot's next connection into its sink; false when all
	// connections have been started.
	start := func(s *benchSlot) bool {
		if started == conns {
			return false
		}
		started++
		s.sink.packets, s.next = s.sink.packets[:0], 0
		client := netip.AddrPortFrom(addrFromUint32(0x0a000001+uint32(s.id)), uint16(1024+s.count%64000))
		server := netip.AddrPortFrom(addrFromUint32(0x0ac80001+uint32(s.id%16)), 80)
		s.count++
		c := newConn(&s.sink, client, server, rng.Uint32(), rng.Uint32(), s.clock)
		e := picker.pick(rng)
		e.run(c, rng)
		st.verdicts[e.v]++
		slices.SortStableFunc(s.sink.packets, func(a, b packet) int { return cmpDuration(a.at, b.at) })
		s.clock = c.now + time.Duration(rng.IntN(50_000))*time.Microsecond
		return true
	}
	h := make(slotHeap, 0, concurrency)
	for i := range concurrency {
		// Stagger the lanes' first connections over the first second.
		s := &benchSlot{id: i, clock: time.Duration(i) * sec / time.Duration(concurrency)}
		if !start(s) {
			break
		}
		h = append(h, s)
	}
	heap.Init(&h)
	enc := newEncoder()
	for h.Len() > 0 {
		s := h[0]
		p := &s.sink.packets[s.next]
		at := baseTime.Add(p.at)
		err := enc.encode(ethernet, p, func(frame []byte) error {
			st.packets++
			st.bytes += int64(len(frame))
			return fw.write(at, 0, frame)
		})
		if err != nil {
			return st, err
		}
		st.span = max(st.span, p.at)
		s.next++
		if s.next == len(s.sink.packets) && !start(s) {
			heap.Pop(&h)
			continue
		}
		heap.Fix(&h, 0)
	}
	st.conns = started
	return st, fw.flush()
}

func addrFromUint32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// createOutput opens the output file of a streaming subcommand.
func createOutput(path string) (*os.File, *bufio.Writer, error) {
	if path == "" {
		return nil, nil, fmt.Errorf("-o FILE is required")
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, bufio.NewWriterSize(f, 1<<20), nil
}

// closeOutput flushes and closes what createOutput opened.
func closeOutput(f *os.File, bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	return nil
}

func runBench(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	conns := fs.Int("conns", 200_000, "connections to write")
	concurrency := fs.Int("concurrency", 1000, "connections in flight at any time")
	mixFlag := fs.String("mix", defaultMix, "weights of the endings, verdict=weight,...")
	seed := fs.Uint64("seed", 1, "random seed; the same seed writes the same bytes")
	out := fs.StringP("output", "o", "", "pcap file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conns < 1 || *concurrency < 1 {
		return fmt.Errorf("bench: -conns and -concurrency must be positive")
	}
	mix, err := parseMix(*mixFlag)
	if err != nil {
		return err
	}
	f, bw, err := createOutput(*out)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	began := time.Now()
	st, err := writeBench(bw, *conns, *concurrency, mix, *seed)
	if err != nil {
		f.Close()
		return fmt.Errorf("bench %s: %w", *out, err)
	}
	if err := closeOutput(f, bw); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d connections, %d packets, %d MB, %.1f s of traffic, written in %.1f s\n",
		*out, st.conns, st.packets, st.bytes>>20, st.span.Seconds(), time.Since(began).Seconds())
	// These are the scripted endings. tcpaudit's verdicts may differ for
	// the timer-based ones: a half_closed connection whose FIN is more than
	// 60 s before the end is lingering_fin_wait2, and so on.
	fmt.Fprintln(stdout, "connections by scripted ending:")
	for _, e := range endings {
		if n := st.verdicts[e.v]; n > 0 {
			fmt.Fprintf(stdout, "  %-20s %d\n", e.v, n)
		}
	}
	return nil
}
