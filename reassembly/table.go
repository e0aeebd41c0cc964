package reassembly

import (
	"cmp"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

// TableStats counts what the table did.
type TableStats struct {
	Packets uint64 // segments added
	Active  int    // flows tracked now
	Total   uint64 // flows created
	Emitted uint64 // flows handed to emit
	// Evicted counts flows finished early because the table was full
	// (Config.MaxFlows); IdleExpired those finished by Config.IdleTimeout.
	Evicted, IdleExpired uint64
	// Backwards counts segments whose timestamp was earlier than one
	// already seen; they are taken as simultaneous with the latest.
	Backwards uint64
}

// Table is the flow table: it routes segments to flows, creates flows, and
// hands each flow out once it is final.
//
// A Table is not safe for concurrent use. It keeps two recency lists, flows
// still in progress and flows that are finished (both ends CLOSED or in
// TIME_WAIT) but may still see stray packets; both are ordered by last
// packet, so expiry only ever looks at their heads. Flows in progress are
// listed only when something reads that list (cfg.IdleTimeout or
// cfg.MaxFlows; see listsActive).
type Table struct {
	cfg    Config
	emit   func(*Flow)
	slabs  slabs // the conns
	flows  flowIndex
	active connList // flows in progress (listActive), when listsActive
	done   connList // finished flows lingering for stray packets (listDone)
	nextID uint64
	recent handle // the flow of the previous segment, while tracked
	// rooms are recycled flowWithRooms for the next flows it finishes.
	rooms []*flowWithRoom
	// now is the latest packet time: later packets stamped earlier are
	// backwards. wall is the latest time given to Advance. Timers run on
	// the later of the two (clock).
	now    int64
	wall   int64
	seen   bool
	stats  TableStats
	census *census
	// settled, when set, is told of each flow as it settles (OnSettled).
	settled func(Settled)
	// servers holds the ports that answered a SYN with a SYN-ACK, for
	// the roles of flows seen without their SYN (roles).
	servers portSet
	// order, when set, is told of each flow as it begins and, just before
	// it is emitted, why it ends: a Sharded's shard reports both so that
	// the flows of all shards are numbered and emitted in this table's
	// order (see Sharded).
	order func(h handle, c *conn, f *Flow, ev flowEvent, key int64)
}

// flowEvent is what Table.order is told about a flow.
type flowEvent uint8

// The events of a flow, in the order Table emits flows ending at one
// packet: Add first expires lingering finished flows, then idle ones, then
// a new SYN replaces the packet's own flow, then the packet begins a flow.
// Close comes after every packet.
const (
	_           flowEvent = iota
	endLingered           // key: when its linger ran out
	endIdle               // key: when its idle timeout ran out
	endReplaced           // key: the capture index of the replacing SYN
	endEvicted            // key: the capture index of the new flow's packet
	flowBegun             // key: unused (the flow's FirstIndex says it)
	endClosed             // key: unused
)

func (e flowEvent) String() string {
	switch e {
	case endLingered:
		return "lingered"
	case endIdle:
		return "idle"
	case endReplaced:
		return "replaced"
	case endEvicted:
		return "evicted"
	case flowBegun:
		return "begun"
	case endClosed:
		return "closed"
	}
	return "flowEvent(" + strconv.Itoa(int(e)) + ")"
}

// NewTable returns an empty flow table. emit is called exactly once per
// flow, when the flow is finished and no later packet can change it (its
// TIME_WAIT expired, it was reset or refused and stayed quiet for the
// TIME_WAIT period, it was idle for cfg.IdleTimeout, it was evicted by
// cfg.MaxFlows, or a new SYN replaced it on the same 4-tuple), and by Close
// for every remaining flow. Emitted flows are final and owned by the
// receiver, which may give one back with a Recycler once done with it.
func NewTable(cfg Config, emit func(*Flow)) *Table {
	return &Table{cfg: cfg, emit: emit, active: connList{id: listActive}, done: connList{id: listDone}, census: newCensus(&cfg)}
}

// listsActive reports whether the active list is kept: an idle timeout or
// a flow cap reads it, and nothing else does. Offline, by default, neither
// is set, and moving a flow to the back of the list at each packet wrote
// to two other flows' slots, likely cache misses: 2% of the instructions
// of an audit and 5% of its time on one core (issue 5).
func (t *Table) listsActive() bool { return t.cfg.IdleTimeout > 0 || t.cfg.MaxFlows > 0 }

// Add feeds one segment, in capture order. It does not allocate for a
// segment of an existing flow unless an endpoint changes state.
func (t *Table) Add(seg *capture.Segment) { t.add(seg, 0) }

// add is Add with the segment's flowHash when the caller has it (a
// Sharded computed it to pick the shard), or 0.
func (t *Table) add(seg *capture.Segment, h uint64) {
	t.stats.Packets++
	t.census.packet(seg.Index, seg.Time)
	ts := seg.Time
	if !t.seen {
		t.now, t.seen = ts, true
	}
	var back int64
	if ts < t.now {
		// Timestamps going backwards (clock steps, merged captures with
		// skew) must not run timers backwards: take the packet as
		// simultaneous with the latest one, and say so in the flow's notes.
		back, ts = t.now-ts, t.now
		t.stats.Backwards++
	}
	t.now = ts
	t.expire()
	if isSynAck(seg) {
		t.servers.add(seg.Src.Port())
	}

	ch := t.recent
	if ch == 0 || !t.slabs.addrs(ch).joins(seg.Src, seg.Dst) {
		// Packets come in bursts per flow: skip the index when we can.
		if h == 0 {
			h = flowHash(seg.Src, seg.Dst)
		}
		ch = t.flows.find(h, seg.Src, seg.Dst, &t.slabs)
	}
	var c ref
	if ch != 0 {
		if c = t.ref(ch); c.startsNew(seg) {
			c.endTimeWait(ts)
			t.finish(ch, ts, "a new connection (SYN) on the same 4-tuple replaced it", endReplaced, int64(seg.Index))
			ch = 0
		}
	}
	if ch == 0 {
		if h == 0 {
			h = flowHash(seg.Src, seg.Dst) // the replaced flow was recent
		}
		ch = t.newConn(h, seg, ts)
		c = t.ref(ch)
	}
	if back > 0 {
		x := c.oddOnce()
		x.backwards++
		x.maxBack = max(x.maxBack, back)
	}
	from := Client
	if !c.addrs().is(Client, seg.Src) {
		from = Server
	}
	c.add(seg, from, ts)
	t.touch(ch, c.conn)
	t.recent = ch
}

// ref returns the conn in slot h with what it reaches in its slab.
func (t *Table) ref(h handle) ref { return t.slabs.ref(h, t.census) }

// Advance moves the table's clock to nowNanos without a packet and emits
// what is due by then: flows whose TIME_WAIT or linger ran out, and idle
// flows. A live capture calls it on a quiet link, where no packet would
// move the clock, so that endings reach a running view on time. The clock
// never moves back: an earlier nowNanos changes nothing.
//
// An Advance is not a packet: a segment added later but stamped earlier
// than nowNanos (a live capture hands packets over a little after their
// kernel timestamp) is taken at its own time and is not counted as
// backwards, as long as it is not earlier than the latest packet.
func (t *Table) Advance(nowNanos int64) {
	if nowNanos <= t.clock() {
		return
	}
	t.wall = nowNanos
	t.expire()
}

// clock is the time the table's timers have reached: the latest packet or
// Advance.
func (t *Table) clock() int64 { return max(t.now, t.wall) }

// Close finishes the capture at endNanos: every remaining flow is
// classified as of that instant (or its last packet, if later) and emitted,
// in ID order.
func (t *Table) Close(endNanos int64) {
	endNanos = max(endNanos, t.clock())
	// Each flow is concluded in place (not finish), and the table emptied
	// whole afterwards: finish would unlink each conn from its neighbours
	// in the index and a recency list, cache misses all, and free its
	// slot, for structures that go now.
	for _, h := range t.byFirstPacket() {
		t.emit(t.conclude(t.ref(h), h, max(endNanos, t.slabs.at(h).last()), "", endClosed, 0))
	}
	t.flows, t.slabs, t.recent = flowIndex{}, slabs{}, 0
	t.active.head, t.active.tail, t.done.head, t.done.tail = 0, 0, 0, 0
	t.census.close(endNanos)
}

// byFirstPacket returns the slots of the tracked flows in order of first
// packet, which is ID order (a shard's table, see Sharded, must not read
// the IDs its caller writes). Slots are read in slab order, which the
// processor reads ahead, rather than in the index's order, a cache miss
// a flow; and a first packet and a slot are sorted as one number where
// the first packet's index fits 32 bits (billions of packets), which
// sorts without a call per comparison.
func (t *Table) byFirstPacket() []handle {
	live := make([]uint64, (len(t.slabs.slabs)*slabLen+63)/64)
	wide := false
	t.flows.each(func(h handle) { live[h/64] |= 1 << (h % 64) })
	keys := make([]uint64, 0, t.flows.Len())
	for w, bitsLeft := range live {
		for ; bitsLeft != 0; bitsLeft &= bitsLeft - 1 {
			h := handle(w*64 + bits.TrailingZeros64(bitsLeft))
			first := t.slabs.at(h).firstIndex
			wide = wide || first > math.MaxUint32
			keys = append(keys, first<<32|uint64(h))
		}
	}
	if !wide {
		slices.Sort(keys)
	}
	out := make([]handle, len(keys))
	for i, k := range keys {
		out[i] = handle(k)
	}
	if !wide {
		return out
	}
	slices.SortFunc(out, func(a, b handle) int { return cmp.Compare(t.slabs.at(a).firstIndex, t.slabs.at(b).firstIndex) })
	return out
}

// Stats returns the table's counters.
func (t *Table) Stats() TableStats {
	s := t.stats
	s.Active = t.flows.Len()
	return s
}

// States calls fn for each end of every tracked flow with its current
// state, TIME_WAIT expiry applied as of the latest packet or Advance. It
// is meant for live snapshots.
func (t *Table) States(fn func(addr netip.AddrPort, s State)) {
	now := t.clock()
	t.flows.each(func(h handle) {
		c := t.ref(h)
		for side := range c.ends {
			st := c.ends[side].state
			if st == TimeWait && now-c.timeWaitSince() >= int64(t.cfg.TimeWait) {
				st = Closed
			}
			fn(c.addrs().get(Side(side)), st)
		}
	})
}

// Settled is a flow whose verdict is decided before the flow is emitted:
// both its ends are CLOSED or in TIME_WAIT (it was reset, refused, or
// closed by FINs both ways), so no packet can change how it ended, but it
// stays in the table for the TIME_WAIT period to absorb stray packets and
// is emitted only then. A running view can show the verdict at once.
type Settled struct {
	// FirstIndex identifies the flow: the Flow emitted later has the same.
	FirstIndex     uint64
	Client, Server netip.AddrPort
	// Verdict and Reason are those of the Flow emitted later. (A stray
	// packet may still add to the byte counts a Reason quotes.)
	Verdict Verdict
	Reason  string
	// Time is when the flow settled: the packet that closed its last end.
	Time time.Time
}

// OnSettled makes the table call fn once for each flow as it settles (see
// Settled), from inside Add. It changes nothing of emit: every flow is
// still emitted exactly once, when it is final. Flows that never settle
// (open, half closed, expired idle, evicted, or left at Close) are only
// emitted. Without it, settling costs nothing.
func (t *Table) OnSettled(fn func(Settled)) { t.settled = fn }

// settle tells OnSettled's receiver that c settled.
func (t *Table) settle(c ref) {
	c.mark(settled)
	v, why := c.verdictNow(c.last(), &t.cfg)
	t.settled(Settled{FirstIndex: c.firstIndex, Client: c.addrs().get(Client), Server: c.addrs().get(Server),
		Verdict: v, Reason: why, Time: nanoTime(c.last())})
}

// linger is how long a finished flow is kept for stray packets.
func (t *Table) linger() int64 { return max(int64(t.cfg.TimeWait), 0) }

// expire emits finished flows whose TIME_WAIT ran out and idle flows.
func (t *Table) expire() {
	now := t.clock()
	for h := t.done.head; h != 0 && now-t.slabs.at(h).last() >= t.linger(); h = t.done.head {
		last := t.slabs.at(h).last()
		t.finish(h, last+t.linger(), "", endLingered, last+t.linger())
	}
	idle := int64(t.cfg.IdleTimeout)
	if idle <= 0 {
		return
	}
	for h := t.active.head; h != 0 && now-t.slabs.at(h).last() >= idle; h = t.active.head {
		t.stats.IdleExpired++
		last := t.slabs.at(h).last()
		t.finish(h, last+idle, "no packet for the idle timeout ("+fmtDur(idle)+")", endIdle, last+idle)
	}
}

func (t *Table) newConn(h uint64, seg *capture.Segment, ts int64) handle {
	if t.cfg.MaxFlows > 0 && t.flows.Len() >= t.cfg.MaxFlows {
		victim := t.done.head
		if victim == 0 {
			victim = t.active.head
		}
		if victim != 0 {
			t.stats.Evicted++
			t.finish(victim, t.clock(), "evicted from a full flow table (--max-flows)", endEvicted, int64(seg.Index))
		}
	}
	t.nextID++
	client, server, reason := t.roles(seg)
	ch := t.slabs.alloc()
	*t.slabs.at(ch) = conn{roles: reason, firstIndex: seg.Index, first: ts}
	t.slabs.setAddrs(ch, client, server)
	c := t.ref(ch)
	c.setID(t.nextID)
	if !t.cfg.NoLadders {
		c.sideOnce().ladder = new(ladder)
	}
	c.ends[Client].wscale, c.ends[Server].wscale = -1, -1
	c.ends[Client].last, c.ends[Server].last = ts, ts // see conn.last
	if !seg.Flags.Has(capture.SYN) && !seg.Flags.Has(capture.RST) {
		// The connection was established before the capture began.
		c.setState(Client, Established, ts)
		c.setState(Server, Established, ts)
	}
	t.flows.insert(h, ch)
	if t.listsActive() {
		t.active.pushBack(&t.slabs, ch, c.conn)
	}
	if t.order != nil {
		t.order(ch, c.conn, nil, flowBegun, 0)
	}
	t.stats.Total++
	return ch
}

// touch moves c, in slot h, to the back of its recency list, or to the
// finished list once both ends are closed.
func (t *Table) touch(h handle, c *conn) {
	l := &t.active
	switch {
	case c.finished():
		l = &t.done
	case !t.listsActive():
		if c.list != listNone {
			t.list(c).remove(&t.slabs, h, c) // no longer finished: on no list
		}
		return
	}
	if l.tail == h {
		return // the common case: the same flow again
	}
	if l == &t.done && c.list != listDone && t.settled != nil && !c.is(settled) {
		t.settle(t.ref(h))
	}
	t.list(c).remove(&t.slabs, h, c)
	l.pushBack(&t.slabs, h, c)
}

// finish classifies the conn in slot h as of at, emits it and frees the
// slot; ev and key are for order.
func (t *Table) finish(h handle, at int64, why string, ev flowEvent, key int64) {
	c := t.ref(h)
	t.flows.remove(c.addrs().hash(), h)
	if t.recent == h {
		t.recent = 0
	}
	t.list(c.conn).remove(&t.slabs, h, c.conn)
	f := t.conclude(c, h, at, why, ev, key)
	t.slabs.release(h)
	t.emit(f)
}

// conclude classifies c, in slot h, as of at and tells the census and
// order of the Flow it returns.
func (t *Table) conclude(c ref, h handle, at int64, why string, ev flowEvent, key int64) *Flow {
	f := c.finalize(t.newFlowWithRoom(), at, &t.cfg, why)
	t.stats.Emitted++
	t.census.flowDone(f)
	if t.order != nil {
		t.order(h, c.conn, f, ev, key)
	}
	return f
}

// roles picks client and server from a flow's first segment: the SYN's
// sender is the client; without a SYN, a SYN-ACK's receiver is; then the
// end whose port answered SYNs in earlier flows (of any host: a service
// keeps its port) is the server; then the end with the more server-like
// port is (well-known below 1024, then registered below Linux's ephemeral
// range, then the lower port); then the first packet's sender is the
// client. reason is roleBySYN when a SYN said it.
func (t *Table) roles(seg *capture.Segment) (client, server netip.AddrPort, reason roleReason) {
	switch {
	case seg.Flags.Has(capture.SYN) && !seg.Flags.Has(capture.ACK):
		return seg.Src, seg.Dst, roleBySYN
	case seg.Flags.Has(capture.SYN):
		return seg.Dst, seg.Src, roleBySynAck
	}
	sp, dp := seg.Src.Port(), seg.Dst.Port()
	switch ss, ds := t.servers.has(sp), t.servers.has(dp); {
	case ds && !ss:
		return seg.Src, seg.Dst, roleByServerPort
	case ss && !ds:
		return seg.Dst, seg.Src, roleByServerPort
	}
	sr, dr := portRank(sp), portRank(dp)
	switch {
	case dr < sr, dr == sr && dr < 2 && dp < sp:
		return seg.Src, seg.Dst, roleByPorts
	case sr < dr, sr == dr && sr < 2 && sp < dp:
		return seg.Dst, seg.Src, roleByPorts
	}
	return seg.Src, seg.Dst, roleByFirstPacket
}

// roleReason is how a flow's client and server were told apart: a byte per
// open flow rather than a 16-byte string header.
type roleReason uint8

const (
	roleBySYN roleReason = iota // the client sent the SYN: nothing inferred
	roleBySynAck
	roleByServerPort
	roleByPorts
	roleByFirstPacket
)

// String is the Flow's RoleReason: "" when the roles were not inferred.
func (r roleReason) String() string {
	switch r {
	case roleBySynAck:
		return "SYN-ACK"
	case roleByServerPort:
		return "server port of other flows"
	case roleByPorts:
		return "ports"
	case roleByFirstPacket:
		return "first packet"
	}
	return ""
}

// isSynAck reports whether seg is a SYN-ACK: its source port is listening.
func isSynAck(seg *capture.Segment) bool {
	return seg.Flags&(capture.SYN|capture.ACK|capture.RST) == capture.SYN|capture.ACK
}

// portSet is a set of TCP ports, one bit each: 8 KiB, whatever the
// traffic. Only listening ports answer SYNs, so even a port scan leaves
// few set; when both ends of a flow are set the set decides nothing.
type portSet [1 << 16 / 64]uint64

func (p *portSet) has(port uint16) bool { return p[port/64]&(1<<(port%64)) != 0 }

// add puts port in the set and reports whether it was new.
func (p *portSet) add(port uint16) bool {
	if p.has(port) {
		return false
	}
	p[port/64] |= 1 << (port % 64)
	return true
}

// portRank orders ports by how server-like they are.
func portRank(p uint16) int {
	switch {
	case p < 1024:
		return 0
	case p < 32768: // below Linux's default ip_local_port_range
		return 1
	}
	return 2
}

// list returns the recency list c is on, or nil.
func (t *Table) list(c *conn) *connList {
	switch c.list {
	case listActive:
		return &t.active
	case listDone:
		return &t.done
	}
	return nil
}

// listID names the recency list a conn is on: a byte in every conn
// rather than a pointer.
type listID uint8

const (
	listNone listID = iota
	listActive
	listDone
)

// connList is an intrusive doubly linked list of the conns in slabs s,
// oldest first, by handle. Its functions take the conn of handle h as c
// too, which every caller has at hand.
type connList struct {
	head, tail handle
	id         listID
}

func (l *connList) pushBack(s *slabs, h handle, c *conn) {
	c.list, c.prev, c.next = l.id, l.tail, 0
	if l.tail != 0 {
		s.at(l.tail).next = h
	} else {
		l.head = h
	}
	l.tail = h
}

func (l *connList) remove(s *slabs, h handle, c *conn) {
	if l == nil || c.list != l.id {
		return
	}
	if c.prev != 0 {
		s.at(c.prev).next = c.next
	} else {
		l.head = c.next
	}
	if c.next != 0 {
		s.at(c.next).prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next, c.list = 0, 0, listNone
}
