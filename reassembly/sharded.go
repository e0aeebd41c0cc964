package reassembly

import (
	"math"
	"net/netip"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
)

// Sharded is a flow table spread over worker goroutines, one Table each, so
// that reading and decoding packets (on the caller's goroutine) and tracking
// state (on the workers) use more than one core. On two cores, the caller's
// goroutine also runs one of the two Tables, with a small share of the
// flows, and the census (inlineShare).
//
// A segment goes to the shard chosen by a hash of its two endpoints that is
// the same in both directions, so every packet of a flow reaches the same
// Table, in capture order. Each Table therefore sees exactly the packets it
// would see alone, and a flow's verdict is the single-threaded verdict.
//
// Segments travel in batches (batchSize of them per channel send), which
// keeps the cost of a channel operation far below the cost of a packet.
//
// The shards also share the table's clock: Sharded tracks the latest
// timestamp of all segments and hands it to a shard with each segment whose
// timestamp goes backwards, and before States and Close, so that timers and
// backwards-time handling decide as one Table would.
//
// Sharded has Table's API and contract, and its results: the same flows
// with the same IDs, emitted in the same order, so that a report does not
// depend on the number of cores. What differs is when: emit is only called
// from inside Add, Sync, Advance, States, Stats and Close, on the caller's
// goroutine (so it needs no locking), a few thousand segments after Table
// would have called it.
//
// Flows are numbered and emitted in Table's order by naming, for each
// flow, the event (a segment or an Advance, counted by the caller, which
// sees them all in capture order) at which Table numbers or emits it, and
// handing flows out in event order once every shard has processed past
// it. A shard's table tells (Table.order) why each flow ended: a new SYN
// names its segment; a linger or idle timeout names the instant it ran
// out, and Table ends it at the first event after the flow's last packet
// whose clock has reached that instant. Flows ending at one event keep
// Table's order among themselves: lingering ones, then idle ones, each by
// last packet, then the replaced one; Close emits the rest by first packet.
// Every batch also carries the caller's clock, and its shard expires what
// is due by then, so that a shard is never behind the events it has seen;
// every shard receives a batch at least every flushEvery segments and
// every flushSpan of capture time.
//
// The state census (Census) must see state changes in the order a single
// Table makes them, which is capture order: TIME_WAIT expiries, peaks and
// the snapshot at an instant depend on it. Each shard's table therefore
// only records its changes, tagged with the capture index of the segment
// that caused them, and sends them back with its finished flows after each
// batch, with the index of the last segment it processed. The caller's
// goroutine passes them on to a goroutine of the census's own (merger.go),
// which merges them into one census in index order, applying a change
// only once no shard can still send an earlier one (every shard with
// segments outstanding has processed past it). Partial batches are sent
// at least every flushEvery segments, so that a quiet shard cannot hold
// the merge back and the changes waiting for it stay bounded.
//
// A Sharded must be used from one goroutine.
type Sharded struct {
	emit func(*Flow)
	// single is the whole table when there is nothing to shard onto: one
	// core, or a MaxFlows cap (see NewSharded). Add then costs what
	// Table.Add costs.
	single *Table
	shards []*shard
	// route picks each flow's shard (see route.of).
	route *route
	// out carries finished flows and state changes from the workers to the
	// caller.
	out chan shardReport
	// census is the state census of all shards, which merger keeps on its
	// own goroutine from what the caller sends it: the first packet, the
	// shards' changes with how far they may be applied, and the flows
	// emitted (done, sent with the next delivery). added counts the
	// segments added, for flushEvery.
	census    *census
	merger    *censusMerger
	firstSent bool
	done      []finishedFlow
	added     uint64
	flushedAt int64 // s.now at the latest flush
	wall      int64 // latest Advance
	// servers are the ports seen answering a SYN, each announced once to
	// every shard (batch.servers).
	servers portSet
	// onSettled receives the flows the shards settle (OnSettled).
	onSettled func(Settled)
	// now is the latest segment time added, the clock a single Table
	// would have; seen is set once there is one.
	now  int64
	seen bool
	// closed is set by Close; the workers are gone afterwards. closing
	// is set while the shards close (see shard.closedTo).
	closed, closing bool
	stats           TableStats

	// seq counts events: segments added and Advances that moved the
	// clock. marks[markHead:] are the events the flows still coming from
	// the shards may end at; queue holds the flows waiting for every
	// shard to process past their event; nextID numbers flows, and
	// ids[shard][slot] keeps the number of the flow begun in that slab slot
	// of that shard's table and not yet ended: a slice per shard, as long
	// as its table's slabs, where a map keyed by flow took about 7% of the
	// CPU time on two cores, in cache misses (issue 5).
	seq      uint64
	last     uint64 // capture index of the latest segment
	marks    []mark
	markHead int
	queue    flowQueue
	nextID   uint64
	ids      [][]uint64
}

// mark is one event: a segment (at is twice its capture index) or an
// Advance (at is one more than its preceding segment's), with the table's
// clock (the later of the latest packet and Advance) once it happened.
type mark struct {
	seq   uint64
	at    uint64
	clock int64
}

// Batching parameters. A batch of 1024 segments is about 130 KB; fewer,
// larger batches cost the reading goroutine, the one the workers wait for,
// less handing over than batches of 256 did (bench capture on two cores:
// 1.23 s against 1.16 s for 1024, 1.15 s for 2048 and 1.18 s for 4096,
// best of 4), while a few in flight per shard still fit in a core's L2.
// queueDepth batches may wait per shard before Add blocks, which absorbs a
// worker's hiccups (a table growing) without letting the reader run far
// ahead in memory.
const (
	batchSize  = 1024
	queueDepth = 4
)

// shard is one worker's Table and the batches flowing to it.
type shard struct {
	table *Table
	// cur is the batch the caller is filling; nil until the first segment.
	cur *batch
	// in carries batches (and control messages) to the worker, nil for
	// the shard the caller's goroutine runs itself; free carries emptied
	// batches back, so batches are allocated once.
	in   chan *batch
	free chan *batch
	// items collects the flows the table began and ended during the
	// current batch, changes the state changes it made; the worker owns
	// them until it sends them on Sharded.out.
	items   []shardItem
	changes []stateChange
	settled []Settled

	// spareItems and spareChanges carry emptied item and change slices
	// back from the caller and the merger, so that they are allocated once
	// rather than grown anew after every batch (growslice took a tenth of
	// the CPU time on two cores).
	spareItems   spares[shardItem]
	spareChanges spares[stateChange]

	// On the caller's goroutine: id is the shard's index, queued counts
	// the segments handed to the shard, processed those it reported done,
	// lastDone is the capture index of the latest of them.
	id                int
	queued, processed uint64
	lastDone          uint64
	// caughtUp is the latest event the shard has processed and expired
	// its flows at: it can only end flows at later events.
	caughtUp uint64

	// While the shards close (Sharded.Close): stream, set on the worker,
	// is where its table's order sends every closeChunk flows it ends,
	// and closedTo, on the caller's goroutine, is the first packet of the
	// latest the shard sent: it sends them by first packet, so every
	// other it ends has a later one.
	stream    chan<- shardReport
	closedTo  uint64
	closeDone bool // set on the worker once its table is closed
}

// closeChunk is how many of the flows a shard's table ends at Close it
// sends at a time.
const closeChunk = 1024

// shardItem is a flow a shard's table began or ended, with what it told
// Table.order. A flow that begins has no Flow yet (it is built when the
// flow ends): its shard and slot name it, as the index of Sharded.ids;
// first and last are its FirstIndex and LastIndex. The table reuses the
// slot for a later flow only after this flow ended, at an event no later
// than the next flow's begun, and ends come first at an event: the merger
// has read the slot's number before it is numbered again.
type shardItem struct {
	f           *Flow
	shard       int
	slot        handle
	first, last uint64
	ev          flowEvent
	key         int64
}

// shardReport is what a worker sends back after a batch.
type shardReport struct {
	shard   *shard
	items   []shardItem
	changes []stateChange
	settled []Settled
	// segs segments were processed, the latest with capture index last.
	segs uint64
	last uint64
	// tick is the batch's tick: the shard has caught up with that event.
	tick uint64
	// more is set on a chunk of the flows a shard's table ends at Close
	// (shard.stream): more follow in the same batch. closeDone is set on
	// the reports of a closed table.
	more, closeDone bool
}

// spares holds emptied slices for reuse. put and get never block: a slice
// that finds no room is left to the collector, and get returns nil when
// none is waiting, to be grown as before.
type spares[T any] chan []T

func (p spares[T]) put(s []T) {
	if cap(s) == 0 {
		return
	}
	select {
	case p <- s[:0]:
	default:
	}
}

func (p spares[T]) get() []T {
	select {
	case s := <-p:
		return s
	default:
		return nil
	}
}

// flushEvery bounds the segments that may wait in partial batches, which
// hold back the merge of state changes.
const flushEvery = 16 * batchSize

// flushSpan bounds the capture time between two flushes. A shard expires
// the flows due by the clock each of its batches carries: in a quiet
// stretch of a capture, a batch spans so long a time that its expiries
// came all at once (the bench capture's last minute, 45 packets a second:
// 15,000 flows ended by one batch), built into fresh memory while the
// flows given back meanwhile waited for the batch's end, and then for the
// caller to wait, to be handed out. Bench capture, two cores, mean of the
// best half of 10 interleaved runs: 0.822 s against 0.846, and 0.800 with
// the reports drained at each flush.
const flushSpan = int64(time.Second)

// batch is a slice of segments for one shard, or a control message.
type batch struct {
	segs []capture.Segment
	// hashes are the segments' flowHash, computed once to pick the shard
	// and used again by its table.
	hashes []uint64
	// back lists the segments whose timestamp is earlier than the table's
	// clock, with the clock: rare, so a short list beats a clock per
	// segment.
	back []backwards
	// servers lists ports other shards saw answer a SYN, each before the
	// segment it must precede: the table then knows, at every segment,
	// the server ports a single Table would (Table.roles).
	servers []serverPort
	// do, when set, runs on the worker with its table after the segments,
	// and done is signalled after it: Sync, States, Stats and Close use it.
	do   func(*Table)
	done chan struct{}
	// tick is the caller's latest event when the batch was sent, now its
	// latest segment time and wall its latest Advance: after the segments
	// the worker brings its table's clock to them and expires what a
	// single Table would have by then.
	tick      uint64
	now, wall int64
}

// serverPort makes port a server port before segs[i] (or after the last
// segment when i is len(segs)).
type serverPort struct {
	i    int
	port uint16
}

// backwards marks segs[i] as arriving when the shared clock read now.
type backwards struct {
	i   int
	now int64
}

// NewSharded returns an empty table spread over n workers. n <= 0 picks
// one worker per available CPU (runtime.GOMAXPROCS); with one CPU, or
// n == 1 and nothing to gain, it returns a table with no workers at all
// whose Add is a plain Table.Add. emit has Table's contract.
//
// When cfg.MaxFlows is set, the cap applies to the whole table and the
// oldest idle flow of all is evicted; no shard can know that, so the table
// then runs unsharded rather than evict different flows than Table would.
func NewSharded(cfg Config, n int, emit func(*Flow)) *Sharded {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	s := &Sharded{emit: emit}
	if n == 1 && runtime.GOMAXPROCS(0) == 1 || cfg.MaxFlows > 0 {
		s.single = NewTable(cfg, emit)
		return s
	}
	// On two cores, the caller's goroutine runs the census and one shard
	// with a small share of the flows itself, and one worker the rest:
	// two goroutines busy for two cores (inlineShare).
	inline := n == 2
	n = min(n, len(route{}))
	s.out = make(chan shardReport, n*queueDepth)
	s.census = newCensus(&cfg)
	s.merger = newCensusMerger(s.census, n, !inline)
	s.shards, s.ids = make([]*shard, n), make([][]uint64, n)
	s.queue = newFlowQueue(n)
	if inline {
		s.route = newRoute(inlineShare, 1-inlineShare)
	} else {
		s.route = evenRoute(n)
	}
	for i := range s.shards {
		sh := &shard{
			id:           i,
			free:         make(chan *batch, queueDepth+2),
			spareItems:   make(spares[shardItem], queueDepth+2),
			spareChanges: make(spares[stateChange], queueDepth+2),
		}
		if !inline || i > 0 {
			sh.in = make(chan *batch, queueDepth)
		}
		// queueDepth batches queued, one being worked on, one being
		// filled: the caller never waits for a batch that does not exist.
		for range queueDepth + 2 {
			sh.free <- &batch{segs: make([]capture.Segment, 0, batchSize), hashes: make([]uint64, 0, batchSize)}
		}
		// The flows travel in items, with the event they end at.
		sh.table = NewTable(cfg, func(*Flow) {})
		sh.table.order = func(h handle, c *conn, f *Flow, ev flowEvent, key int64) {
			last := uint64(0) // a flow just begun has no last packet yet
			if f != nil {
				last = f.LastIndex
			}
			sh.items = append(sh.items, shardItem{f: f, shard: i, slot: h, first: c.firstIndex, last: last, ev: ev, key: key})
			if sh.stream != nil && len(sh.items) == closeChunk {
				sh.stream <- shardReport{shard: sh, items: sh.items, more: true}
				sh.items = sh.spareItems.get()
			}
		}
		sh.table.census.forward = func(e *stateChange) { sh.changes = append(sh.changes, *e) }
		s.shards[i] = sh
		if sh.in != nil {
			go sh.work(s.out)
		}
	}
	return s
}

// inlineShare is the share of the flows that the caller's goroutine tracks
// itself on two cores, besides reading and decoding every packet, handing
// the others to the worker, ordering the flows and keeping the census.
// With a worker per core and the census on a goroutine of its own, four
// goroutines shared two cores. Bench capture, two cores, best of 7
// interleaved runs: the same 1.02 s for the text report, but 1.83 s of
// CPU against 1.95 s and a peak RSS of 200 MB against 301 MB; JSON 1.30 s
// against 1.34 s. Shares from 0.05 to 0.25 measured alike within the
// machine's noise; 0.15 balanced the two goroutines' profiles.
const inlineShare = 0.15

// shardFor picks the shard of a segment whose flowHash is h.
func (s *Sharded) shardFor(h uint64) *shard { return s.shards[s.route.of(h)] }

// work runs on the shard's goroutine until the channel is closed.
func (sh *shard) work(out chan<- shardReport) {
	for b := range sh.in {
		if r, ok := sh.process(b); ok {
			out <- r
		}
		sh.finish(b)
	}
}

// process runs batch b on the shard's table and returns what the table
// began, finished and changed meanwhile, if anything, for the caller
// (deliver). The slices it returns are the caller's from then on.
func (sh *shard) process(b *batch) (shardReport, bool) {
	back, servers := b.back, b.servers
	for i := range b.segs {
		for ; len(servers) > 0 && servers[0].i == i; servers = servers[1:] {
			sh.table.servers.add(servers[0].port)
		}
		if len(back) > 0 && back[0].i == i {
			sh.table.advance(back[0].now)
			back = back[1:]
		}
		sh.table.add(&b.segs[i], b.hashes[i])
	}
	for _, p := range servers {
		sh.table.servers.add(p.port)
	}
	if b.tick > 0 {
		sh.table.advance(b.now)
		sh.table.wall = max(sh.table.wall, b.wall)
		sh.table.expire()
	}
	if b.do != nil {
		b.do(sh.table)
	}
	if len(sh.items) == 0 && len(sh.changes) == 0 && len(sh.settled) == 0 && len(b.segs) == 0 && b.tick == 0 {
		return shardReport{}, false
	}
	r := shardReport{shard: sh, items: sh.items, changes: sh.changes, settled: sh.settled,
		segs: uint64(len(b.segs)), tick: b.tick, closeDone: sh.closeDone}
	if len(b.segs) > 0 {
		r.last = b.segs[len(b.segs)-1].Index
	}
	sh.items, sh.changes, sh.settled = sh.spareItems.get(), sh.spareChanges.get(), nil
	return r, true
}

// finish signals that b was processed, if asked to, and gives a batch of
// segments back to be filled again.
func (sh *shard) finish(b *batch) {
	if b.done != nil {
		b.done <- struct{}{}
	}
	if b.segs != nil {
		b.segs, b.hashes, b.back, b.servers = b.segs[:0], b.hashes[:0], b.back[:0], b.servers[:0]
		sh.free <- b
	}
}

// Add routes seg to its flow's shard. It does not allocate: the segment is
// copied into a batch that is reused once the worker is done with it.
func (s *Sharded) Add(seg *capture.Segment) {
	if s.single != nil {
		s.single.Add(seg)
		return
	}
	if !s.firstSent {
		s.firstSent = true
		s.merger.send(mergeWork{first: true, index: seg.Index, firstTime: seg.Time})
	}
	h := flowHash(seg.Src, seg.Dst)
	sh := s.shardFor(h)
	sh.queued++
	if s.added++; s.added%flushEvery == 0 || s.now-s.flushedAt >= flushSpan {
		s.flush()
	}
	if sh.cur == nil {
		sh.cur = s.take(sh)
	}
	// The segment is an event from here on: a batch sent before (flush,
	// take) must not claim it.
	s.seq++
	s.last = seg.Index
	switch {
	case !s.seen:
		s.now, s.seen = seg.Time, true
	case seg.Time < s.now:
		sh.cur.back = append(sh.cur.back, backwards{len(sh.cur.segs), s.now})
	default:
		s.now = seg.Time
	}
	s.marks = append(s.marks, mark{s.seq, 2 * seg.Index, max(s.now, s.wall)})
	if isSynAck(seg) && s.servers.add(seg.Src.Port()) {
		// Every shard learns the new server port at this point of the
		// capture, as one Table would (rare: once per port).
		for _, o := range s.shards {
			if o.cur == nil {
				o.cur = s.take(o)
			}
			o.cur.servers = append(o.cur.servers, serverPort{len(o.cur.segs), seg.Src.Port()})
		}
	}
	// Into the batch's next slot directly: append copied the segment
	// through a temporary first, 120 more bytes a packet (a segment holds
	// pointers). A batch has room for batchSize (take's come from free)
	// and is sent when full. Bench capture, two cores, mean of the best
	// half of 10 interleaved runs: 0.804 s against 0.824.
	b := sh.cur
	n := len(b.segs)
	b.segs, b.hashes = b.segs[:n+1], b.hashes[:n+1]
	b.segs[n], b.hashes[n] = *seg, h
	if n+1 == batchSize {
		s.send(sh, sh.cur)
		sh.cur = nil
	}
}

// take returns an empty batch for sh, emitting finished flows while it
// waits for one (a worker blocked on out would otherwise never free one).
func (s *Sharded) take(sh *shard) *batch {
	for {
		select {
		case b := <-sh.free:
			return b
		case r := <-s.out:
			s.deliver(r)
		}
	}
}

// send queues b for sh's worker, emitting finished flows while the queue
// is full.
func (s *Sharded) send(sh *shard, b *batch) {
	b.tick, b.now, b.wall = s.seq, s.now, s.wall
	if sh.in == nil {
		// The caller's own shard (inlineShare).
		if r, ok := sh.process(b); ok {
			s.deliver(r)
		}
		sh.finish(b)
		return
	}
	for {
		select {
		case sh.in <- b:
			return
		case r := <-s.out:
			s.deliver(r)
		}
	}
}

// deliver emits a worker's finished flows and merges the state changes
// that no shard can precede any more into the census.
func (s *Sharded) deliver(r shardReport) {
	sh := r.shard
	sh.processed += r.segs
	if r.segs > 0 {
		sh.lastDone = r.last
	}
	// A flow settles in an earlier batch than the one that emits it, or
	// in the same: its shard reports in order, so settled goes first.
	for _, x := range r.settled {
		s.onSettled(x)
	}
	sh.caughtUp = max(sh.caughtUp, r.tick)
	for _, it := range r.items {
		s.queue.push(s.place(it))
	}
	if s.closing {
		if r.more {
			sh.closedTo = r.items[len(r.items)-1].first
		} else if r.closeDone {
			sh.closedTo = math.MaxUint64
		}
	}
	sh.spareItems.put(r.items)
	s.release()
	if len(r.changes) == 0 {
		sh.spareChanges.put(r.changes)
		r.changes = nil
	}
	if r.changes != nil || len(s.done) > 0 {
		s.merger.send(mergeWork{shard: sh.id, changes: r.changes, spare: sh.spareChanges, bound: s.mergeBound(), done: s.done})
		s.done = s.merger.spareDone.get()
	}
}

// mergeBound is how far the census may apply the shards' changes: up to
// the latest capture index every shard with segments outstanding has
// processed, since their later changes can only come from later segments.
func (s *Sharded) mergeBound() uint64 {
	bound := uint64(noBound)
	for _, sh := range s.shards {
		if sh.queued != sh.processed {
			bound = min(bound, sh.lastDone)
		}
	}
	return bound
}

// place names the event at which a single Table would have numbered or
// emitted the item's flow, and its rank among the flows of that event.
func (s *Sharded) place(it shardItem) queuedFlow {
	q := queuedFlow{f: it.f, shard: it.shard, slot: it.slot, first: it.first, ev: it.ev}
	switch it.ev {
	case flowBegun:
		q.seq, q.tie = s.eventAt(2*it.first), it.first
	case endLingered, endIdle:
		// Table's recency lists keep flows in order of last packet.
		q.seq, q.tie = s.eventDue(2*it.last, it.key), it.last
	case endReplaced, endEvicted:
		q.seq, q.tie = s.eventAt(2*uint64(it.key)), it.first
	default: // endClosed
		q.seq, q.tie = s.seq+1, it.first
	}
	return q
}

// marksFrom returns the index in s.marks of the first live mark for which
// ok holds; ok must be false and then true along the marks.
func (s *Sharded) marksFrom(ok func(m *mark) bool) int {
	live := s.marks[s.markHead:]
	return s.markHead + sort.Search(len(live), func(i int) bool { return ok(&live[i]) })
}

// eventAt returns the event of the mark at at: a segment that has not been
// released yet, so its mark is live.
func (s *Sharded) eventAt(at uint64) uint64 {
	if i := s.marksFrom(func(m *mark) bool { return m.at >= at }); i < len(s.marks) {
		return s.marks[i].seq
	}
	return s.seq + 1
}

// eventDue returns the first event after the mark at at whose clock has
// reached due (marks' clocks never go back), or the next event to come.
func (s *Sharded) eventDue(at uint64, due int64) uint64 {
	i := max(s.marksFrom(func(m *mark) bool { return m.at > at }),
		s.marksFrom(func(m *mark) bool { return m.clock >= due }))
	if i < len(s.marks) {
		return s.marks[i].seq
	}
	return s.seq + 1
}

// release numbers and emits the queued flows of every event all shards
// have caught up with: no shard can report an earlier one any more. The
// marks of those events are no longer needed.
func (s *Sharded) release() {
	bound := uint64(math.MaxUint64)
	for _, sh := range s.shards {
		bound = min(bound, sh.caughtUp)
	}
	for q := s.queue.next(); q >= 0 && s.queue.at(q).seq <= bound; q = s.queue.next() {
		s.hand(s.queue.take(q))
	}
	if s.closing {
		// Every flow left ends at Close (seq is Close's event); a shard
		// can only send flows with later first packets than its closedTo.
		closedTo := uint64(math.MaxUint64)
		for _, sh := range s.shards {
			closedTo = min(closedTo, sh.closedTo)
		}
		for q := s.queue.next(); q >= 0 && s.queue.at(q).first <= closedTo; q = s.queue.next() {
			s.hand(s.queue.take(q))
		}
	}
	for s.markHead < len(s.marks) && s.marks[s.markHead].seq <= bound {
		s.markHead++
	}
	if s.markHead == len(s.marks) {
		s.marks, s.markHead = s.marks[:0], 0
	} else if s.markHead > 1024 && 2*s.markHead >= len(s.marks) {
		n := copy(s.marks, s.marks[s.markHead:])
		s.marks, s.markHead = s.marks[:n], 0
	}
}

// hand numbers a flow that begins, or emits one that ends.
func (s *Sharded) hand(q queuedFlow) {
	ids := s.ids[q.shard]
	if q.ev == flowBegun {
		if int(q.slot) >= len(ids) {
			ids = append(ids, make([]uint64, int(q.slot)+1-len(ids))...)
			s.ids[q.shard] = ids
		}
		s.nextID++
		ids[q.slot] = s.nextID
		return
	}
	// A flow begins at an earlier event than it ends, or at the same
	// one where begun comes first (flowEvent order): its number is known.
	q.f.ID = ids[q.slot]
	s.done = append(s.done, finishedOf(q.f))
	s.emit(q.f)
}

// flush sends every partial batch to its worker, and an empty one to a
// worker without one, so that every shard catches up with the latest
// event and the flows waiting for it are released.
func (s *Sharded) flush() {
	// What the workers did with earlier batches is handed out now rather
	// than when the caller next waits for them, which in a quiet capture
	// can be minutes of it later.
	s.drain()
	s.flushedAt = s.now
	for _, sh := range s.shards {
		if sh.cur == nil {
			sh.cur = s.take(sh)
		}
		s.send(sh, sh.cur)
		sh.cur = nil
	}
}

// barrier sends every partial batch, then runs do on each shard's worker
// and returns once all have run, with every flow they finished emitted.
// Unless parallel is set, the shards run do one at a time, so do needs no
// locking of its own.
func (s *Sharded) barrier(do func(*Table), parallel bool) {
	s.flush()
	done := make(chan struct{}, len(s.shards))
	// The workers first, so that they run do while the caller runs its
	// own shard's (inlineShare), shards[0].
	for i := len(s.shards) - 1; i >= 0; i-- {
		sh := s.shards[i]
		s.send(sh, &batch{do: do, done: done})
		if !parallel {
			s.wait(done)
		}
	}
	if parallel {
		for range s.shards {
			s.wait(done)
		}
	}
	// The workers sent their flows on out before signalling done.
	s.drain()
}

// drain delivers the reports the workers have sent, without waiting for
// more.
func (s *Sharded) drain() {
	for {
		select {
		case r := <-s.out:
			s.deliver(r)
		default:
			return
		}
	}
}

// wait blocks until done is signalled, emitting flows meanwhile.
func (s *Sharded) wait(done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case r := <-s.out:
			s.deliver(r)
		}
	}
}

// shardOfTable returns the shard whose table t is.
func (s *Sharded) shardOfTable(t *Table) *shard {
	for _, sh := range s.shards {
		if sh.table == t {
			return sh
		}
	}
	panic("reassembly: a table of no shard")
}

// Sync waits until every segment added so far has been processed and every
// flow finished by them emitted. A live view calls it before reading the
// running state; offline reading never needs it.
func (s *Sharded) Sync() {
	if s.single != nil || s.closed {
		return
	}
	s.barrier(s.catchUp, true)
}

// OnSettled makes the table call fn once for each flow as it settles, as
// Table.OnSettled does, on the caller's goroutine like emit: from inside
// Add, Sync, Advance, States, Stats and Close, once the shard has
// processed the segment that settled the flow. Set it before adding
// segments.
func (s *Sharded) OnSettled(fn func(Settled)) {
	if s.single != nil {
		s.single.OnSettled(fn)
		return
	}
	if s.closed {
		return
	}
	s.onSettled = fn
	s.barrier(func(t *Table) {
		sh := s.shardOfTable(t)
		t.OnSettled(func(x Settled) { sh.settled = append(sh.settled, x) })
	}, true)
}

// Advance moves every shard's clock to nowNanos without a packet, as
// Table.Advance does, after every segment added so far has been processed,
// and emits what is due by then.
func (s *Sharded) Advance(nowNanos int64) {
	if s.single != nil {
		s.single.Advance(nowNanos)
		return
	}
	if s.closed {
		return
	}
	if nowNanos > max(s.now, s.wall) {
		// Table expires at an Advance that moves its clock, not at others.
		s.seq++
		s.marks = append(s.marks, mark{s.seq, 2*s.last + 1, nowNanos})
	}
	s.wall = max(s.wall, nowNanos)
	s.barrier(func(t *Table) {
		s.catchUp(t)
		t.Advance(nowNanos)
	}, true)
}

// States calls fn with the current state of every tracked endpoint, as
// Table.States does, after every segment added so far has been processed.
func (s *Sharded) States(fn func(addr netip.AddrPort, st State)) {
	if s.single != nil {
		s.single.States(fn)
		return
	}
	if s.closed {
		return
	}
	s.barrier(func(t *Table) {
		s.catchUp(t)
		t.States(fn)
	}, false)
}

// Close ends the capture at endNanos in every shard: each classifies and
// emits its remaining flows, as Table.Close does. The workers exit; the
// table must not be used afterwards, except for Stats.
func (s *Sharded) Close(endNanos int64) {
	if s.single != nil {
		s.single.Close(endNanos)
		return
	}
	if s.closed {
		return
	}
	// Every flow still queued ends at Close, the next event: Table emits
	// them all by first packet, and so do the shards' tables with the
	// flows they still hold. Those can be most of a capture's flows (the
	// ones open or in TIME_WAIT at its end), so the shards stream them in
	// chunks as they build them (closeChunk), and release emits them
	// meanwhile: the flows are handed out, and given back (Recycler) to be
	// built again, while the shards are still closing, rather than all
	// built first and then handed out by the caller alone (bench capture,
	// two cores: the ending took 0.25 s of 1.1 s, and 0.19 s streamed; it
	// takes 0.12 s on one core).
	s.barrier(s.catchUp, true)
	s.queue.endAllAt(s.seq + 1)
	s.closing = true
	for _, sh := range s.shards {
		sh.closedTo = 0
	}
	var per []TableStats
	var mu sync.Mutex
	s.barrier(func(t *Table) {
		sh := s.shardOfTable(t)
		if sh.in != nil {
			// The caller's own shard (inlineShare) cannot send to the
			// caller, which is running it: it reports once, closed.
			sh.stream = s.out
		}
		t.Close(endNanos)
		sh.stream, sh.closeDone = nil, true
		mu.Lock()
		per = append(per, t.Stats())
		mu.Unlock()
	}, true)
	for _, sh := range s.shards {
		if sh.in != nil {
			close(sh.in)
		}
	}
	s.closed = true
	s.stats = sumStats(per)
	for _, sh := range s.shards {
		sh.closedTo = math.MaxUint64
	}
	s.release()
	s.merger.send(mergeWork{bound: noBound, done: s.done, close: true, closeNanos: max(endNanos, s.now, s.wall)})
	s.done = nil
	<-s.merger.result
}

// SetCensusAt chooses the instant of Census.At, as Table.SetCensusAt does.
func (s *Sharded) SetCensusAt(at Instant) {
	if s.single != nil {
		s.single.SetCensusAt(at)
		return
	}
	s.census.setAt(at)
}

// Census returns the state census of all shards, as Table.Census does: the
// same result a single Table gives for the same segments.
func (s *Sharded) Census() *Census {
	if s.single != nil {
		return s.single.Census()
	}
	return s.census.result
}

// Stats returns the counters of all shards together.
func (s *Sharded) Stats() TableStats {
	if s.single != nil {
		return s.single.Stats()
	}
	if s.closed {
		return s.stats
	}
	var per []TableStats
	s.barrier(func(t *Table) {
		s.catchUp(t)
		per = append(per, t.Stats())
	}, false)
	return sumStats(per)
}

// catchUp brings a shard's table to the shared clock, if there is one yet,
// and lets it expire what a single Table would have expired by now: its own
// clock only moves with its own segments.
func (s *Sharded) catchUp(t *Table) {
	if s.seen {
		t.advance(s.now)
		t.expire()
	}
}

// sumStats adds up the counters of the shards.
func sumStats(per []TableStats) TableStats {
	var sum TableStats
	for _, p := range per {
		sum.Packets += p.Packets
		sum.Active += p.Active
		sum.Total += p.Total
		sum.Emitted += p.Emitted
		sum.Evicted += p.Evicted
		sum.IdleExpired += p.IdleExpired
		sum.Backwards += p.Backwards
	}
	return sum
}

// route gives the shard of a segment from the flowHash of its two
// endpoints, which is the same in both directions, so both land on the
// same shard: the hash's top routeBits bits index it, as its low bits
// choose a slot in the shard's index. Each shard's share of the flows is
// its share of the entries: equal ones (evenRoute), or, on two cores, a
// small one for the caller's goroutine (inlineShare). A lookup costs a
// load from a table that stays in the cache; reducing the hash modulo the
// shards took a division per packet, about 5% of the reading goroutine's
// profile samples on two cores (issue 5).
type route [1 << routeBits]uint16

// routeBits sets the entries of a route, and so the finest share of the
// flows a shard can have, and the most shards.
const routeBits = 10

// of returns the shard of flowHash h.
func (r *route) of(h uint64) int { return int(r[h>>(64-routeBits)]) }

// newRoute returns a route that gives shard i about share[i] of the
// flows; the shares add up to 1.
func newRoute(share ...float64) *route {
	r := new(route)
	var upto float64
	i := 0
	for s, w := range share {
		upto += w
		for ; i < len(r) && (float64(i)+0.5)/float64(len(r)) < upto; i++ {
			r[i] = uint16(s)
		}
	}
	for ; i < len(r); i++ { // rounding: the last shard takes what is left
		r[i] = uint16(len(share) - 1)
	}
	return r
}

// evenRoute returns a route that gives each of n shards an equal share.
func evenRoute(n int) *route {
	share := make([]float64, n)
	for i := range share {
		share[i] = 1 / float64(n)
	}
	return newRoute(share...)
}

// advance moves the table's clock to now, the latest time of all shards,
// before a segment or query, so that the shard decides as if it had seen
// every segment. The clock never moves back.
func (t *Table) advance(now int64) {
	if !t.seen || now > t.now {
		t.now, t.seen = now, true
	}
}

// queuedFlow is a flow waiting for its turn: the event at which Table
// numbers (flowBegun) or emits it, and its rank among that event's.
type queuedFlow struct {
	seq   uint64
	ev    flowEvent
	tie   uint64
	f     *Flow
	shard int
	slot  handle // see shardItem
	first uint64
}

func (a *queuedFlow) before(b *queuedFlow) bool {
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	if a.ev != b.ev {
		return a.ev < b.ev
	}
	return a.tie < b.tie
}

// flowQueue holds the queued flows, the next first: each shard's in the
// order they come, as long as they come in order, and the others in a
// heap. A shard's table numbers and ends its flows in capture order, so
// nearly all do (all 400,000 of the bench capture): the next is then the
// first of a few heads. A heap of them all took a fifth of the reading
// goroutine's time at Close, which queues 100,000 flows at once, and 3%
// of an audit's time on two cores before (issue 5).
type flowQueue struct {
	runs []ring[queuedFlow] // by shard
	heap flowHeap
}

func newFlowQueue(shards int) flowQueue {
	return flowQueue{runs: make([]ring[queuedFlow], shards)}
}

// push queues q: after its shard's run when it comes later than the run's
// last, else in the heap.
func (fq *flowQueue) push(q queuedFlow) {
	r := &fq.runs[q.shard]
	if n := r.len(); n > 0 && q.before(r.at(n-1)) {
		fq.heap.push(q)
		return
	}
	r.push(q)
}

// next returns where the next queued flow is, for at and take: -1 for
// none, the heap's top as len(runs), else a run's head.
func (fq *flowQueue) next() int {
	best := -1
	var first *queuedFlow
	if len(fq.heap) > 0 {
		best, first = len(fq.runs), &fq.heap[0]
	}
	for i := range fq.runs {
		if r := &fq.runs[i]; r.len() > 0 && (first == nil || r.front().before(first)) {
			best, first = i, r.front()
		}
	}
	return best
}

// at returns the flow at where (next).
func (fq *flowQueue) at(where int) *queuedFlow {
	if where == len(fq.runs) {
		return &fq.heap[0]
	}
	return fq.runs[where].front()
}

// take removes and returns the flow at where (next).
func (fq *flowQueue) take(where int) queuedFlow {
	if where == len(fq.runs) {
		return fq.heap.pop()
	}
	return fq.runs[where].pop()
}

// endAllAt makes every queued flow end at event seq, in first packet
// order, as the flows a Table still holds at Close do.
func (fq *flowQueue) endAllAt(seq uint64) {
	for i := range fq.runs {
		for r := &fq.runs[i]; r.len() > 0; {
			fq.heap = append(fq.heap, r.pop())
		}
	}
	for i := range fq.heap {
		q := &fq.heap[i]
		q.seq, q.ev, q.tie = seq, endClosed, q.first
	}
	fq.heap.init()
}

// flowHeap is a binary min-heap of queued flows; container/heap would
// box each one into an interface.
type flowHeap []queuedFlow

func (h *flowHeap) push(q queuedFlow) {
	*h = append(*h, q)
	h.up(len(*h) - 1)
}

func (h *flowHeap) pop() queuedFlow {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = queuedFlow{}
	*h = q[:n]
	h.down(0)
	return top
}

func (h *flowHeap) init() {
	for i := len(*h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h flowHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(&h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (h flowHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].before(&h[l]) {
			m = r
		}
		if !h[m].before(&h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
