package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
)

// ErrNoPacket is returned by Source.Next on a live capture when no packet
// arrived within the poll interval. It is not an error condition: the
// caller checks its timers and signals and calls Next again.
var ErrNoPacket = errors.New("no packet within the poll interval")

// Options control how captures are read.
type Options struct {
	// Filter is a BPF expression in tcpdump syntax, applied to every packet
	// before decoding (files included). It is compiled by libpcap per link
	// type, so a pcapng file that mixes link types is filtered correctly.
	// It means what it means to tcpdump: it sees the outer headers, so
	// VLAN- or MPLS-tagged TCP needs "vlan and tcp" or "mpls and tcp". A
	// link type libpcap cannot filter makes Next return an error.
	Filter string
	// NoTunnels turns off decapsulation of IP-in-IP, GRE, VXLAN, Geneve,
	// Teredo and GTP-U.
	NoTunnels bool
	// VerifyChecksums sets Segment.Checksum for every fully captured
	// segment, as Zeek does without -C.
	VerifyChecksums bool
	// Stdin is what "-" reads; nil means os.Stdin. The command passes its
	// own standard input so that it can be driven in-process.
	Stdin io.Reader
}

// packet is one record as a reader returns it. data belongs to the reader
// and is valid until its next ReadPacket.
type packet struct {
	data    []byte
	ts      int64 // Unix nanoseconds
	wireLen int
	link    LinkType
}

// packetReader is one stream of packets: a pcap or pcapng file, or a live
// interface. ReadPacket returns io.EOF at a clean end and a *FormatError
// for damage; the data it returns must stay valid until the next call.
// Readers may also implement Warnings() []string and
// progress() (done, total int64).
type packetReader interface {
	// ReadPacket fills p, which the caller keeps, with the next packet:
	// returned by value, the packet was stored to the stack and copied
	// again, and the copy's wide loads stalled on the narrow stores.
	ReadPacket(p *packet) error
	Close() error
}

type warner interface{ Warnings() []string }
type progresser interface{ progress() (done, total int64) }

// Stats counts what a Source has read. Every packet read is counted in
// Packets and in exactly one of TCP, NonTCP, Undecodable, UnsupportedLink,
// Filtered and Fragments.
type Stats struct {
	Packets uint64 // every packet record read
	Bytes   uint64 // sum of original (wire) lengths of all packets

	TCP             uint64 // TCP segments delivered by Next
	NonTCP          uint64 // well-formed but not TCP (ARP, UDP, ICMP, ...)
	Undecodable     uint64 // malformed or truncated headers, skipped
	UnsupportedLink uint64 // frames of a link type the decoder does not know
	Filtered        uint64 // rejected by Options.Filter
	Fragments       uint64 // IP fragments held for reassembly (the completing one is counted in TCP)

	Reassembled uint64 // TCP segments rebuilt from fragments (included in TCP)
	Tunneled    uint64 // TCP segments found inside a tunnel (included in TCP)
}

// stream is one input of a merge with its current (head) packet.
type stream struct {
	r   packetReader
	pkt packet
	// backwards counts packets stamped earlier than the one before them in
	// the same input; they are delivered in input order, as mergecap does.
	backwards uint64
	last      int64
}

// read reads the stream's next packet into pkt; after an error, pkt is
// not to be used.
func (st *stream) read() error {
	if err := st.r.ReadPacket(&st.pkt); err != nil {
		return err
	}
	if st.pkt.ts < st.last {
		st.backwards++
	}
	st.last = st.pkt.ts
	return nil
}

// Source reads TCP segments from one or more captures merged in timestamp
// order. A Source is not safe for concurrent use, except Progress.
type Source struct {
	streams []stream
	heap    []int // indices of streams holding a packet, min-heap on (time, index)
	refill  []int // streams whose next packet must be read before merging
	cur     int   // stream whose packet Next delivered last, or -1
	filter  *bpfFilter
	dec     Decoder
	errs    []error // damage found, in the order met
	done    bool

	index uint64
	stats Stats
	links []linkCount
	probs [numProblems]uint64
	first [numProblems]uint64 // Index of the first packet with each problem
	other map[LinkType]bool   // unsupported link types met
}

type linkCount struct {
	link LinkType
	n    uint64
}

// OpenFiles opens one or more captures and merges them in timestamp order,
// as mergecap does, so that rotated files continue their flows. "-" reads
// standard input. pcap (both byte orders, µs or ns), pcapng, and either of
// them gzip-compressed are recognised by their magic bytes.
//
// Errors in a file's header are returned here; damage further in is
// returned by Next after every good packet has been delivered.
func OpenFiles(paths []string, opts Options) (*Source, error) {
	if len(paths) == 0 {
		return nil, errors.New("no capture files given")
	}
	if len(paths) > math.MaxUint16+1 {
		return nil, fmt.Errorf("%d capture files given, at most %d can be merged", len(paths), math.MaxUint16+1)
	}
	stdin := 0
	readers := make([]packetReader, 0, len(paths))
	closeAll := func() {
		for _, r := range readers {
			r.Close()
		}
	}
	// A file that cannot be opened or is no capture at all must not cost
	// the packets of the others: its error is kept and returned by Next
	// after theirs, as damage further in a file is. Only when no input is
	// readable is there nothing to report, and OpenFiles fails.
	var unreadable []error
	for _, p := range paths {
		if p == "-" {
			if stdin++; stdin > 1 {
				closeAll()
				return nil, errors.New(`standard input ("-") given more than once`)
			}
		}
		in, err := openInput(p, opts.Stdin, len(paths) <= aheadInputs)
		if err != nil {
			unreadable = append(unreadable, err)
			continue
		}
		r, err := newFileReader(in)
		if err != nil {
			in.Close()
			unreadable = append(unreadable, err)
			continue
		}
		readers = append(readers, r)
	}
	if len(readers) == 0 {
		return nil, unreadable[0]
	}
	s := newSource(readers, opts)
	s.errs = append(s.errs, unreadable...)
	if opts.Filter != "" {
		f, err := newBPFFilter(opts.Filter)
		if err != nil {
			closeAll()
			return nil, err
		}
		s.filter = f
	}
	return s, nil
}

// newFileReader picks the reader for a file by its magic number.
func newFileReader(in *input) (packetReader, error) {
	head, _ := in.br.peek(8)
	if len(head) >= 4 {
		switch binary.BigEndian.Uint32(head) {
		case magicPcapNG:
			return newPcapngReader(in)
		case magicPcapMicro, magicPcapNano, magicPcapModified:
			return newPcapReader(in)
		}
		switch binary.LittleEndian.Uint32(head) {
		case magicPcapMicro, magicPcapNano, magicPcapModified:
			return newPcapReader(in)
		}
	}
	return nil, in.formatError(0, sniff(head))
}

// newSource merges readers. It reads nothing yet: each reader's first
// packet is read by the first Next, so a live reader cannot block here.
// opts.Filter is not applied by newSource (a live capture filters in the
// kernel); OpenFiles compiles it for files.
func newSource(readers []packetReader, opts Options) *Source {
	s := &Source{cur: -1, other: map[LinkType]bool{}}
	s.dec.NoTunnels = opts.NoTunnels
	s.dec.VerifyChecksums = opts.VerifyChecksums
	s.streams = make([]stream, len(readers))
	s.heap = make([]int, 0, len(readers))
	s.refill = make([]int, len(readers))
	for i, r := range readers {
		s.streams[i] = stream{r: r}
		s.refill[i] = i
	}
	return s
}

// fillHeads reads the next packet of every stream whose head was consumed
// and puts it in the heap. A stream that ends leaves the merge; damage is
// recorded for Next to report at the end. ErrNoPacket (a quiet live
// interface) is returned with the stream kept for the next call.
func (s *Source) fillHeads() error {
	for k, i := range s.refill {
		st := &s.streams[i]
		err := st.read()
		if err != nil && errors.Is(err, ErrNoPacket) {
			s.refill = s.refill[:copy(s.refill, s.refill[k:])]
			return err
		}
		switch {
		case err == nil:
			s.heap = append(s.heap, i)
			s.up(len(s.heap) - 1)
		case err != io.EOF:
			// File readers return *FormatError naming file and offset; a
			// live reader's errors name their interface.
			s.errs = append(s.errs, err)
		}
	}
	s.refill = s.refill[:0]
	return nil
}

// nextStream reads the next packet and returns the stream it is from, -1
// once every stream has ended, or ErrNoPacket from a quiet live stream.
func (s *Source) nextStream() (int, error) {
	if len(s.streams) == 1 {
		return s.nextOfOne()
	}
	if err := s.fillHeads(); err != nil {
		return -1, err
	}
	if len(s.heap) == 0 {
		return -1, nil
	}
	// Take the earliest packet off the heap; its stream is read again
	// on the next call, after the caller is done with Raw.
	cur := s.heap[0]
	last := len(s.heap) - 1
	s.heap[0] = s.heap[last]
	s.heap = s.heap[:last]
	s.down(0)
	s.refill = append(s.refill, cur)
	return cur, nil
}

// nextOfOne is nextStream for a single input, the usual case, which has
// nothing to merge: the heap and its refills took a tenth of the
// instructions of reading and decoding a capture (issue 5).
func (s *Source) nextOfOne() (int, error) {
	if s.done {
		return -1, nil
	}
	switch err := s.streams[0].read(); {
	case err == nil:
		return 0, nil
	case errors.Is(err, ErrNoPacket):
		return -1, err
	case err != io.EOF:
		// File readers return *FormatError naming file and offset; a
		// live reader's errors name their interface.
		s.errs = append(s.errs, err)
	}
	return -1, nil
}

// less orders heap entries by timestamp, then by input order, so packets
// with equal times keep the order of the files given (as mergecap does).
func (s *Source) less(a, b int) bool {
	ta, tb := s.streams[s.heap[a]].pkt.ts, s.streams[s.heap[b]].pkt.ts
	if ta != tb {
		return ta < tb
	}
	return s.heap[a] < s.heap[b]
}

func (s *Source) up(j int) {
	for j > 0 {
		p := (j - 1) / 2
		if !s.less(j, p) {
			return
		}
		s.heap[p], s.heap[j] = s.heap[j], s.heap[p]
		j = p
	}
}

func (s *Source) down(j int) {
	n := len(s.heap)
	for {
		c := 2*j + 1
		if c >= n {
			return
		}
		if c+1 < n && s.less(c+1, c) {
			c++
		}
		if !s.less(c, j) {
			return
		}
		s.heap[c], s.heap[j] = s.heap[j], s.heap[c]
		j = c
	}
}

// Next fills seg with the next TCP segment. Packets that are not TCP, are
// malformed, or fail the filter are counted in Stats and skipped. At the
// end it returns io.EOF, or the first *FormatError met if any input was
// damaged (the damage in other inputs is listed by Warnings). On a live
// capture it returns ErrNoPacket after a quiet poll interval. It does not
// allocate on a steady stream of packets.
func (s *Source) Next(seg *Segment) error {
	for {
		s.cur = -1
		cur, err := s.nextStream()
		if err != nil {
			return err
		}
		if cur < 0 {
			s.done = true
			*seg = Segment{}
			if len(s.errs) > 0 {
				return s.errs[0]
			}
			return io.EOF
		}
		s.cur = cur
		p := &s.streams[s.cur].pkt
		s.index++
		s.stats.Packets++
		s.stats.Bytes += uint64(p.wireLen)
		s.countLink(p.link)
		if s.filter != nil {
			ok, err := s.filter.match(p)
			if err != nil {
				return err
			}
			if !ok {
				s.stats.Filtered++
				continue
			}
		}
		switch s.dec.Decode(p.link, p.ts, p.data, p.wireLen, seg) {
		case KindTCP:
			s.stats.TCP++
			if s.dec.Reassembled() {
				s.stats.Reassembled++
			}
			if s.dec.Tunneled() {
				s.stats.Tunneled++
			}
			seg.Index = s.index
			seg.Source = uint16(s.cur)
			return nil
		case KindFragment:
			s.stats.Fragments++
		case KindMalformed:
			s.stats.Undecodable++
			pr := s.dec.Problem()
			if s.probs[pr] == 0 {
				s.first[pr] = s.index
			}
			s.probs[pr]++
		case KindUnsupportedLink:
			s.stats.UnsupportedLink++
			if !s.other[p.link] {
				s.other[p.link] = true // once per link type: no per-packet allocation
			}
		default:
			s.stats.NonTCP++
		}
	}
}

// countLink counts a packet's link type; the list is short (usually one
// entry), so a scan beats a map and never allocates after the first packet.
func (s *Source) countLink(l LinkType) {
	for i := range s.links {
		if s.links[i].link == l {
			s.links[i].n++
			return
		}
	}
	s.links = append(s.links, linkCount{l, 1})
}

// Raw returns the packet Next just returned: its undecoded bytes, capture
// time (Unix ns), original length and link type. The data is valid until
// the next call to Next; copy it to keep it. For a segment rebuilt from IP
// fragments it is the fragment that completed the datagram.
func (s *Source) Raw() (data []byte, tsNanos int64, origLen int, link LinkType) {
	if s.cur < 0 || s.done {
		return nil, 0, 0, 0
	}
	p := &s.streams[s.cur].pkt
	return p.data, p.ts, p.wireLen, p.link
}

// Stats returns the counts so far. It is cheap (a copy, no allocation),
// so it may be called per packet.
func (s *Source) Stats() Stats { return s.stats }

// LinkTypes counts the packets read per link type.
func (s *Source) LinkTypes() map[LinkType]uint64 {
	m := make(map[LinkType]uint64, len(s.links))
	for _, l := range s.links {
		m[l.link] = l.n
	}
	return m
}

// Problems counts the Undecodable packets by what was wrong with them.
func (s *Source) Problems() map[Problem]uint64 {
	m := map[Problem]uint64{}
	for p, n := range s.probs {
		if n > 0 {
			m[Problem(p)] = n
		}
	}
	return m
}

// Warnings returns one line per thing the reader skipped or tolerated:
// damage in inputs beyond the first error, undecodable packets by cause,
// unsupported link types, incomplete fragments, and file oddities.
func (s *Source) Warnings() []string {
	var w []string
	for i, st := range s.streams {
		if wr, ok := st.r.(warner); ok {
			w = append(w, wr.Warnings()...)
		}
		if st.backwards > 0 {
			w = append(w, fmt.Sprintf("%s: %d packets are time-stamped earlier than the packet before them (kept in file order)", s.streamName(i), st.backwards))
		}
	}
	if len(s.errs) > 1 {
		for _, e := range s.errs[1:] {
			w = append(w, e.Error())
		}
	}
	for p, n := range s.probs {
		if n > 0 {
			w = append(w, fmt.Sprintf("skipped %d undecodable packets: %s (first: packet %d)", n, Problem(p), s.first[p]))
		}
	}
	if s.stats.UnsupportedLink > 0 {
		names := make([]string, 0, len(s.other))
		for _, l := range slices.Sorted(maps.Keys(s.other)) {
			names = append(names, l.String())
		}
		w = append(w, fmt.Sprintf("skipped %d packets of unsupported link types %v", s.stats.UnsupportedLink, names))
	}
	if pending, dropped := s.dec.PendingFragments(); pending+dropped > 0 {
		w = append(w, "dropped "+strconv.Itoa(pending+dropped)+" fragmented datagrams that never completed")
	}
	return w
}

// streamName names input i for warnings.
func (s *Source) streamName(i int) string {
	if n, ok := s.streams[i].r.(interface{ Name() string }); ok {
		return n.Name()
	}
	return "input " + strconv.Itoa(i)
}

// Progress returns the input bytes consumed so far (compressed bytes for
// gzip files) and the total size of the inputs, or 0 for the total when it
// is unknown (standard input, a live interface). It is safe to call from
// another goroutine while Next runs.
func (s *Source) Progress() (done, total int64) {
	known := true
	for i := range s.streams {
		p, ok := s.streams[i].r.(progresser)
		if !ok {
			known = false
			continue
		}
		d, t := p.progress()
		done += d
		total += t
		if t == 0 {
			known = false
		}
	}
	if !known {
		total = 0
	}
	return done, total
}

// Close closes every input.
func (s *Source) Close() error {
	var errs []error
	for _, st := range s.streams {
		if err := st.r.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
