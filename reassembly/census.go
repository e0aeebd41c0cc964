package reassembly

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"
)

// The census is netstat run on every host at every instant of the capture,
// kept online: the state machine tells it each time an endpoint changes
// state (conn.setState), in capture order, and it keeps only running
// totals. Its memory is O(hosts + client/server pairs with a TIME_WAIT +
// TIME_WAITs open at once), never O(flows), so a report can say what the
// hosts looked like without holding every flow until the end (issue 5).
//
// It gives exactly what the flow-based analyses of package report compute
// from Flow.Timeline, with one difference: an end still in TIME_WAIT when
// its flow is emitted early (evicted by MaxFlows, or idle for IdleTimeout)
// leaves TIME_WAIT here when the timer says so, while its Timeline stops
// in TIME_WAIT.
//
// TIME_WAIT ends by a timer, not by a packet: entry + Config.TimeWait. As
// that duration is one constant, expiries fall due in the order the ends
// entered TIME_WAIT, so a FIFO holds them, and those due are applied
// before each later change and at Close.

// MaxCensusHosts bounds the hosts the census counts one by one. Past it
// (a SYN flood from a million spoofed sources), further hosts are counted
// together in Census.Others, so that memory stays bounded whatever the
// traffic.
const MaxCensusHosts = 1 << 15

// Bounds of the states-over-time series.
const (
	// SeriesBuckets is the number of time buckets of Census.Series. When
	// the capture outgrows them, adjacent buckets merge and the step
	// doubles, so the series always spans the whole capture.
	SeriesBuckets = 1024
	// SeriesHosts is the number of hosts with a series: the busiest ones,
	// by number of state changes.
	SeriesHosts = 16
	// seriesStep0 is the first bucket width.
	seriesStep0 = int64(time.Microsecond)
)

// StateCounts counts sockets per state, indexed by State. CLOSED and
// UNKNOWN are never counted: netstat would not print them.
type StateCounts [LastAck + 1]int32

// Get returns the count of state s; 0 for CLOSED, UNKNOWN or no state.
func (c StateCounts) Get(s State) int {
	if int(s) < len(c) {
		return int(c[s])
	}
	return 0
}

// Total is the number of sockets counted.
func (c StateCounts) Total() int {
	n := 0
	for _, v := range c {
		n += int(v)
	}
	return n
}

// counted reports whether netstat would print a socket in state s.
func counted(s State) bool { return s != Unknown && s != Closed && int(s) < len(StateCounts{}) }

// PeakAt is the highest count something reached and the first instant it
// did; At is zero when Count is 0.
type PeakAt struct {
	Count int
	At    time.Time
}

// HostCensus is one host of the census.
type HostCensus struct {
	Host netip.Addr
	// Sockets counts the host's sockets per state at Census.At.
	Sockets StateCounts
	// TimeWait and SynRecv are the most sockets the host held at once in
	// those states: a TIME_WAIT pile-up means it closes first, a SYN_RECV
	// pile-up a SYN flood or an overflowing accept backlog.
	TimeWait, SynRecv PeakAt
	// Flows counts the flows the host took part in (as client or server,
	// once when it was both), Verdicts the same flows per verdict.
	Flows    int
	Verdicts [len(verdictNames)]int32
}

// PairTimeWait is the TIME_WAIT load of one client host towards one server
// ip:port: Peak connections at once with either end in TIME_WAIT, first
// reached At, of which ClientHeld had the client's end in TIME_WAIT and
// ServerHeld the server's at that moment.
type PairTimeWait struct {
	Client                 netip.Addr
	Server                 netip.AddrPort
	Peak                   int
	At                     time.Time
	ClientHeld, ServerHeld int
}

// Series is the number of sockets per state over time of the busiest
// hosts. Bucket i covers [Start+i*Step, Start+(i+1)*Step) and holds the
// highest count each state reached in it, so short spikes survive.
type Series struct {
	Start time.Time
	Step  time.Duration
	Hosts []HostSeries
}

// HostSeries is one host's series. Since is when the census began to
// draw it (a host that became busy late); buckets before it are zero.
type HostSeries struct {
	Host    netip.Addr
	Since   time.Time
	Buckets []StateCounts
}

// Census is the result of the census, read after Close.
type Census struct {
	// At is the instant of HostCensus.Sockets: the one asked for with
	// CensusAt, or the end of the capture.
	At time.Time
	// Hosts lists every host with a socket at At, a TIME_WAIT or SYN_RECV
	// peak, or a flow, ordered by address.
	Hosts []HostCensus
	// Others sums the hosts past the first MaxCensusHosts (its Host is
	// the zero Addr; its peaks are of those hosts together). Counting them
	// one by one would cost memory per host, which a flood of spoofed
	// sources must not be able to claim.
	Others HostCensus
	// TimeWait lists every client host and server ip:port that had a
	// connection in TIME_WAIT, ordered by client then server.
	TimeWait []PairTimeWait
	Series   Series
}

// Instant is the moment of the census snapshot: Time, or when Relative is
// set, Offset after the first packet added (the earliest, unless
// timestamps go backwards). The zero Instant is the end of the capture.
type Instant struct {
	Time     time.Time
	Offset   time.Duration
	Relative bool
}

func (i Instant) set() bool { return i.Relative || !i.Time.IsZero() }

// stateChange is one endpoint entering a state, as the census applies it.
// It holds no pointer: changes travel from shards in slices and wait out
// TIME_WAIT in the census's ring by the hundred thousand, which the
// garbage collector then need not scan.
type stateChange struct {
	// seq is the capture index of the segment that caused it: the order in
	// which a single Table would have made the change.
	seq  uint64
	t    int64
	flow uint64 // unique among the flows of the census
	// addrs are the flow's ends; side is the changing one.
	addrs    flowAddrs
	side     Side
	from, to State
}

type hostTally struct {
	cur StateCounts
	// tw and sr are the TIME_WAIT and SYN_RECV peaks; the times are Unix ns.
	twPeak, srPeak int32
	twAt, srAt     int64
	flows          int32
	verdicts       [len(verdictNames)]int32
	changes        uint32
	series         int32      // 1 + index into census.series.hosts, or 0
	id             int32      // 1 + index into census.tallies; 0 for census.others
	addr           netip.Addr // the host's; unset for census.others
}

type pairKey struct {
	client netip.Addr
	server netip.AddrPort
}

// pairTally is the TIME_WAIT load of one pair (PairTimeWait), kept small
// (its key is in census.pairKeys): the pairs outnumber the caches, and a
// change reads one tally at entry and exit of each TIME_WAIT.
type pairTally struct {
	flows, client, server int32
	// peak, peakClient and peakServer are PairTimeWait's Peak, ClientHeld
	// and ServerHeld; at is its At in Unix ns.
	peak, peakClient, peakServer int32
	at                           int64
}

// endKey names one end of one flow of the census.
type endKey struct {
	flow uint64
	side Side
}

// expiry is a pending end of TIME_WAIT: the end side of flow leaves it at
// at. It keeps only what the change out of TIME_WAIT needs (32 bytes, not
// the 88 it took with the change that entered it, addresses and all;
// TestExpirySize): a busy server's capture holds one for each of its last
// minute's connections.
type expiry struct {
	at   int64
	flow uint64
	// pair is the index in census.pairTallies of the flow's pair tally, or -1
	// (see pairOf), and host the id of the end's host tally: found when
	// the end entered TIME_WAIT, so that its expiry, long after, need not
	// look them up again (nor take a place in census.recent).
	pair, host int32
	side       Side
}

// census is the online state census of one Table, or of the caller's side
// of a Sharded table (whose shards only forward their changes).
type census struct {
	tw int64
	// forward, when set, receives every change instead of the census
	// applying it (a shard of a Sharded table).
	forward func(*stateChange)
	scratch stateChange // see change

	// seq is the capture index of the segment being processed.
	seq     uint64
	started bool // a packet was seen

	atSpec  Instant
	at      int64
	atKnown bool
	snapped bool
	snap    map[netip.Addr]StateCounts
	snapOth StateCounts

	// hosts4 and hosts6 find the tally of a host, IPv4 by the address
	// as a number: a map keyed by a uint32 takes the runtime's fast path,
	// where a netip.Addr key is hashed and compared as 24 bytes. The
	// census looks a host up for most state changes and twice for every
	// finished flow, on the goroutine that feeds a Sharded table; through
	// one map by netip.Addr that was 3% of the CPU time on two cores
	// (issue 5).
	hosts4 map[uint32]*hostTally
	hosts6 map[netip.Addr]*hostTally
	others hostTally
	// tallies are the tallies of hosts by id (hostTally.id), in the order
	// the hosts appeared.
	tallies []*hostTally
	// pairs gives the index of a pair in pairTallies and pairKeys.
	pairs       map[pairKey]int32
	pairTallies []pairTally
	pairKeys    []pairKey
	// flowTW counts the ends in TIME_WAIT of the flows that had both
	// there at once (a simultaneous close), and of the flows without
	// capture indexes (flow 0, all together). Any other flow with an end
	// in TIME_WAIT has just that one there, so that most TIME_WAITs need
	// no lookup in it (see twEnds).
	flowTW map[uint64]int8
	// left holds the ends that left TIME_WAIT before their timer (a new
	// SYN on the 4-tuple), whose expiry in fifo is void. An end enters
	// TIME_WAIT at most once per flow, so the rare exception is all that
	// needs a map, not every TIME_WAIT.
	left map[endKey]struct{}
	fifo ring[expiry]

	series seriesTally
	result *Census

	// recent caches the host tallies of recent flows (see hostOf).
	recent [recentFlows]flowHosts
}

// recentFlows is the size of census.recent: a few times the flows of a
// busy capture that change state at about the same time.
const recentFlows = 4096

// flowHosts are the tallies of one flow's two hosts, by Side; nil until
// looked up.
type flowHosts struct {
	flow  uint64
	tally [2]*hostTally
}

// hostOf returns the tally of the host at side of e's flow. A flow changes
// state about eight times in a burst, so a small cache by flow saves the
// address and the map lookup for most changes.
func (cs *census) hostOf(e *stateChange, side Side) *hostTally {
	if e.flow == 0 {
		// Segments without capture indexes name no flow.
		return cs.host(e.addrs.get(side).Addr())
	}
	r := &cs.recent[e.flow%recentFlows]
	if r.flow != e.flow {
		*r = flowHosts{flow: e.flow}
	}
	if r.tally[side] == nil {
		r.tally[side] = cs.host(e.addrs.get(side).Addr())
	}
	return r.tally[side]
}

func newCensus(cfg *Config) *census {
	return &census{
		tw:     int64(cfg.TimeWait),
		hosts4: make(map[uint32]*hostTally),
		hosts6: make(map[netip.Addr]*hostTally),
		pairs:  make(map[pairKey]int32),
		flowTW: make(map[uint64]int8),
		left:   make(map[endKey]struct{}),
	}
}

// packet notes the segment about to be processed: its capture index orders
// the changes it causes, and the first packet anchors a relative Instant.
// (The first, not the earliest: a Sharded table's census learns of packets
// before it applies their changes, and the instant must not move under
// it.) It does not allocate.
func (cs *census) packet(index uint64, t int64) {
	cs.seq = index
	if !cs.started {
		cs.started = true
		if cs.atSpec.Relative {
			cs.at, cs.atKnown = t+int64(cs.atSpec.Offset), true
		}
	}
}

func (cs *census) setAt(i Instant) {
	cs.atSpec = i
	if i.set() && !i.Relative {
		cs.at, cs.atKnown = i.Time.UnixNano(), true
	}
}

// change is called by conn.setState before side of c leaves from for to at
// t. A TIME_WAIT that ran out before t already ended here, by the timer:
// the change is then from CLOSED (and the finalizer's own "CLOSED at the
// expiry" is no change at all).
func (cs *census) change(c ref, side Side, from, to State, t int64) {
	if from == TimeWait && t-c.timeWaitSince() >= cs.tw {
		from = Closed
	}
	if from == to {
		return
	}
	// A flow is known by its first packet, not its ID: a shard's table
	// (forward) does not know the IDs Sharded gives its flows. The change
	// is built in scratch: through forward it would escape, and cost an
	// allocation per state change. Neither forward nor apply keeps it.
	e := &cs.scratch
	*e = stateChange{seq: cs.seq, t: t, flow: c.firstIndex, side: side,
		addrs: c.addrs().full(), from: from, to: to}
	if cs.forward != nil {
		cs.forward(e)
		return
	}
	cs.apply(e)
}

// flowDone counts a finished flow for its hosts. Flows are counted when
// they are emitted, in any order.
func (cs *census) flowDone(f *Flow) {
	if cs.forward != nil {
		return // the merging census counts the flows it delivers
	}
	cs.count(finishedOf(f))
}

// finishedFlow is what the census counts of a finished flow.
type finishedFlow struct {
	client, server netip.Addr
	verdict        Verdict
}

func finishedOf(f *Flow) finishedFlow {
	return finishedFlow{f.Ends[Client].Addr.Addr(), f.Ends[Server].Addr.Addr(), f.Verdict}
}

func (cs *census) count(f finishedFlow) {
	for i, a := range [2]netip.Addr{f.client, f.server} {
		if i == 1 && a == f.client {
			break
		}
		h := cs.host(a)
		h.flows++
		if int(f.verdict) < len(h.verdicts) {
			h.verdicts[f.verdict]++
		}
	}
}

// host returns the tally of a, or the shared one of the hosts past
// MaxCensusHosts.
func (cs *census) host(a netip.Addr) *hostTally {
	var v4 uint32
	if a.Is4() {
		b := a.As4()
		v4 = binary.BigEndian.Uint32(b[:])
		if h := cs.hosts4[v4]; h != nil {
			return h
		}
	} else if h := cs.hosts6[a]; h != nil {
		return h
	}
	if len(cs.tallies) >= MaxCensusHosts {
		return &cs.others
	}
	h := &hostTally{id: int32(len(cs.tallies) + 1), addr: a}
	cs.tallies = append(cs.tallies, h)
	if a.Is4() {
		cs.hosts4[v4] = h
	} else {
		cs.hosts6[a] = h
	}
	return h
}

// tally returns the host tally of an id.
func (cs *census) tally(id int32) *hostTally {
	if id == 0 {
		return &cs.others
	}
	return cs.tallies[id-1]
}

// advance applies the TIME_WAIT expiries due by t and takes the snapshot
// once time passes the chosen instant.
func (cs *census) advance(t int64) {
	for cs.fifo.len() > 0 && cs.fifo.front().at <= t {
		x := cs.fifo.pop()
		if len(cs.left) > 0 {
			k := endKey{x.flow, x.side}
			if _, gone := cs.left[k]; gone {
				delete(cs.left, k)
				continue
			}
		}
		cs.snapshotBefore(x.at)
		e := stateChange{t: x.at, flow: x.flow, side: x.side, from: TimeWait, to: Closed}
		cs.step(&e, &x)
	}
	cs.snapshotBefore(t)
}

// snapshotBefore takes the snapshot if t is past the chosen instant.
func (cs *census) snapshotBefore(t int64) {
	if cs.snapped || !cs.atKnown || t <= cs.at {
		return
	}
	cs.takeSnapshot()
}

func (cs *census) takeSnapshot() {
	cs.snapped = true
	cs.snap = make(map[netip.Addr]StateCounts)
	for _, h := range cs.tallies {
		if h.cur.Total() > 0 {
			cs.snap[h.addr] = h.cur
		}
	}
	cs.snapOth = cs.others.cur
}

func (cs *census) apply(e *stateChange) {
	cs.advance(e.t)
	cs.step(e, nil)
}

// step applies one change at e.t, all expiries due before it applied;
// timer is the expiry when it is the end of a TIME_WAIT by its timer.
func (cs *census) step(e *stateChange, timer *expiry) {
	// Both hosts of the flow are counted from its first change, so that
	// the hosts counted one by one are the first to appear, whichever end
	// changes (a SYN flood's server changes no state).
	if e.from == Unknown && e.side == Client {
		cs.hostOf(e, Server)
	}
	var h *hostTally
	if timer != nil {
		h = cs.tally(timer.host)
	} else {
		h = cs.hostOf(e, e.side)
	}
	h.changes++
	cs.series.move(cs, e.t)
	if counted(e.from) {
		h.cur[e.from]--
	}
	if counted(e.to) {
		h.cur[e.to]++
		switch e.to {
		case TimeWait:
			if h.cur[TimeWait] > h.twPeak {
				h.twPeak, h.twAt = h.cur[TimeWait], e.t
			}
		case SynRecv:
			if h.cur[SynRecv] > h.srPeak {
				h.srPeak, h.srAt = h.cur[SynRecv], e.t
			}
		}
	}
	cs.series.record(cs, h, e)
	switch {
	case e.to == TimeWait:
		pair := cs.pairOf(e)
		cs.fifo.push(expiry{at: e.t + cs.tw, flow: e.flow, side: e.side, pair: pair, host: h.id})
		cs.pressure(e, pair, +1)
	case e.from == TimeWait:
		var pair int32
		if timer != nil {
			pair = timer.pair
		} else {
			cs.left[endKey{e.flow, e.side}] = struct{}{}
			pair = cs.pairOf(e)
		}
		cs.pressure(e, pair, -1)
	}
}

// pairOf returns the index of the tally of e's client host and server
// ip:port, added at the first need; -1 for none, past MaxCensusHosts
// pairs. Pairs are never removed, so the index stays valid, and a pair
// without one at an end's entry in TIME_WAIT has none at its exit.
func (cs *census) pairOf(e *stateChange) int32 {
	k := pairKey{e.addrs.get(Client).Addr(), e.addrs.get(Server)}
	if i, ok := cs.pairs[k]; ok {
		return i
	}
	if len(cs.pairs) >= MaxCensusHosts {
		return -1
	}
	i := int32(len(cs.pairTallies))
	cs.pairs[k] = i
	cs.pairTallies = append(cs.pairTallies, pairTally{})
	cs.pairKeys = append(cs.pairKeys, k)
	return i
}

// pressure moves the TIME_WAIT load of pair (see pairOf), e's client host
// and server ip:port, by delta, as report.TimeWaitPressure does from the
// Timelines.
func (cs *census) pressure(e *stateChange, pair int32, delta int32) {
	if pair < 0 {
		return
	}
	p := &cs.pairTallies[pair]
	if before, after := cs.twEnds(e, int8(delta)); before == 0 || after == 0 {
		p.flows += delta
	}
	if e.side == Client {
		p.client += delta
	} else {
		p.server += delta
	}
	// Both ends of a simultaneous close enter TIME_WAIT at one instant:
	// the split at the peak counts both.
	if p.flows > p.peak || p.flows == p.peak && e.t == p.at {
		p.peak, p.at = p.flows, e.t
		p.peakClient, p.peakServer = p.client, p.server
	}
}

// twEnds moves the count of the ends of e's flow in TIME_WAIT by delta,
// and returns it before and after.
func (cs *census) twEnds(e *stateChange, delta int8) (before, after int8) {
	n, kept := int8(0), false
	if len(cs.flowTW) > 0 {
		n, kept = cs.flowTW[e.flow]
	}
	switch {
	case kept:
		before = n
	case delta < 0:
		before = 1 // the end leaving is its flow's only one there
	case e.flow != 0 && cs.peerInTimeWait(e):
		before = 1
	}
	after = before + delta
	switch {
	case after == 0:
		if kept {
			delete(cs.flowTW, e.flow)
		}
	case kept || after == 2 || e.flow == 0:
		cs.flowTW[e.flow] = after
	}
	return before, after
}

// peerInTimeWait reports whether the other end of e's flow is in
// TIME_WAIT as e's end enters it. Both ends of a flow in TIME_WAIT
// entered it at the same instant, on the acknowledgment of the later FIN
// (conn.timeWaitSince), so the other end's expiry is among the last ones
// queued, due at the same time as e's.
func (cs *census) peerInTimeWait(e *stateChange) bool {
	at := e.t + cs.tw
	for i := cs.fifo.len() - 1; i >= 0; i-- {
		x := cs.fifo.at(i)
		if x.at != at {
			return false
		}
		if x.flow == e.flow && x.side != e.side {
			_, gone := cs.left[endKey{x.flow, x.side}]
			return !gone
		}
	}
	return false
}

// close ends the census at end: expiries due by then are applied, and the
// result is built.
func (cs *census) close(end int64) *Census {
	if cs.result != nil || cs.forward != nil {
		return cs.result
	}
	cs.advance(end)
	cs.series.move(cs, end)
	r := &Census{}
	if cs.snapped {
		r.At = nanoTime(cs.at)
	} else {
		// The instant is the end, or after it: nothing changes after the
		// last packet but TIME_WAIT timers, which the capture cannot show.
		switch {
		case cs.atKnown:
			r.At = nanoTime(cs.at)
		case cs.started:
			r.At = nanoTime(end)
		}
		cs.takeSnapshot()
	}
	r.Hosts = make([]HostCensus, 0, len(cs.tallies))
	for _, h := range cs.tallies {
		hc := h.result(h.addr)
		hc.Sockets = cs.snap[h.addr]
		if hc.Sockets.Total() == 0 && hc.TimeWait.Count == 0 && hc.SynRecv.Count == 0 && hc.Flows == 0 {
			continue
		}
		r.Hosts = append(r.Hosts, hc)
	}
	slices.SortFunc(r.Hosts, func(a, b HostCensus) int { return a.Host.Compare(b.Host) })
	r.Others = cs.others.result(netip.Addr{})
	r.Others.Sockets = cs.snapOth
	for i, p := range cs.pairTallies {
		k := cs.pairKeys[i]
		pt := PairTimeWait{Client: k.client, Server: k.server, Peak: int(p.peak),
			ClientHeld: int(p.peakClient), ServerHeld: int(p.peakServer)}
		if p.at != 0 || pt.Peak > 0 {
			pt.At = nanoTime(p.at)
		}
		r.TimeWait = append(r.TimeWait, pt)
	}
	slices.SortFunc(r.TimeWait, func(a, b PairTimeWait) int {
		if c := a.Client.Compare(b.Client); c != 0 {
			return c
		}
		return a.Server.Compare(b.Server)
	})
	r.Series = cs.series.result()
	cs.result = r
	return r
}

func (h *hostTally) result(a netip.Addr) HostCensus {
	hc := HostCensus{Host: a, Flows: int(h.flows), Verdicts: h.verdicts}
	if h.twPeak > 0 {
		hc.TimeWait = PeakAt{int(h.twPeak), nanoTime(h.twAt)}
	}
	if h.srPeak > 0 {
		hc.SynRecv = PeakAt{int(h.srPeak), nanoTime(h.srAt)}
	}
	return hc
}

// seriesTally keeps Series online: SeriesBuckets buckets from the first
// change on, of width step; a change past the last bucket merges adjacent
// buckets (keeping the larger count) and doubles step.
type seriesTally struct {
	started bool
	start   int64
	step    int64
	// filled is the number of buckets that have begun: bucket filled-1 is
	// the current one.
	filled int
	hosts  []*seriesHost
	// next is when bucket filled begins: most changes come before, in the
	// current bucket, and move need not divide to find theirs.
	next int64
	// floor is at most the state changes of the quietest host with a
	// series (they only grow), so most hosts are turned away without
	// looking at every series host on each of their changes.
	floor uint32
}

type seriesHost struct {
	addr    netip.Addr
	tally   *hostTally
	since   int64
	buckets [SeriesBuckets]StateCounts
}

// move brings the series to instant t: the buckets up to t's begin with
// the counts carried from before.
func (s *seriesTally) move(cs *census, t int64) {
	if s.started && t < s.next {
		return
	}
	if !s.started {
		s.started, s.start, s.step = true, t, seriesStep0
	}
	for t-s.start >= int64(SeriesBuckets)*s.step {
		s.halve()
	}
	b := int((t - s.start) / s.step)
	for ; s.filled <= b; s.filled++ {
		for _, h := range s.hosts {
			h.buckets[s.filled] = h.tally.cur
		}
	}
	s.next = s.start + int64(s.filled)*s.step
}

// halve merges adjacent buckets and doubles the step.
func (s *seriesTally) halve() {
	for _, h := range s.hosts {
		for i := 0; i < SeriesBuckets/2; i++ {
			a, b := h.buckets[2*i], h.buckets[2*i+1]
			for st := range a {
				a[st] = max(a[st], b[st])
			}
			h.buckets[i] = a
		}
		clear(h.buckets[SeriesBuckets/2:])
	}
	s.filled = (s.filled + 1) / 2
	s.step *= 2
}

// record notes that h, the host of e's changing end, entered e.to at e.t,
// after move(e.t). A
// host gets a series while there is room, or when it has changed state
// more often than the quietest host with one, which it then replaces.
func (s *seriesTally) record(cs *census, h *hostTally, e *stateChange) {
	if h == &cs.others {
		return
	}
	if h.series == 0 {
		if !s.admit(h, e) {
			return
		}
	}
	sh := s.hosts[h.series-1]
	cur := &sh.buckets[s.filled-1]
	if to := e.to; counted(to) {
		cur[to] = max(cur[to], h.cur[to])
	}
}

// admit gives h, the host of e's changing end, a series if it deserves
// one (see record).
func (s *seriesTally) admit(h *hostTally, e *stateChange) bool {
	i := len(s.hosts)
	if i == SeriesHosts {
		// Replace the quietest host if h is busier.
		if h.changes <= s.floor+1 {
			return false
		}
		i = 0
		for j, o := range s.hosts {
			if o.tally.changes < s.hosts[i].tally.changes {
				i = j
			}
		}
		s.floor = s.hosts[i].tally.changes
		if h.changes <= s.floor+1 {
			return false
		}
		s.hosts[i].tally.series = 0
		s.hosts[i] = new(seriesHost)
	} else {
		s.hosts = append(s.hosts, new(seriesHost))
	}
	sh := s.hosts[i]
	sh.addr, sh.tally, sh.since = h.addr, h, e.t
	h.series = int32(i + 1)
	// The current bucket starts from what the host holds now; the counts
	// before this change are not known per bucket.
	sh.buckets[s.filled-1] = h.cur
	return true
}

func (s *seriesTally) result() Series {
	r := Series{Start: nanoTime(s.start), Step: time.Duration(s.step)}
	for _, h := range s.hosts {
		r.Hosts = append(r.Hosts, HostSeries{Host: h.addr, Since: nanoTime(h.since),
			Buckets: slices.Clone(h.buckets[:s.filled])})
	}
	slices.SortFunc(r.Hosts, func(a, b HostSeries) int { return cmp.Compare(a.Host.Compare(b.Host), 0) })
	return r
}

// SetCensusAt chooses the instant of Census.At, before the first Add. The
// zero Instant (the default) is the end of the capture.
func (t *Table) SetCensusAt(at Instant) { t.census.setAt(at) }

// Census returns the state census of everything added, after Close; nil
// before.
func (t *Table) Census() *Census { return t.census.result }
