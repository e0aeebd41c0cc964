package reassembly

import "math"

// censusMerger keeps a Sharded table's census on a goroutine of its own.
// The shards' state changes must be applied in capture order, merged from
// every shard, which is a fifth of what the caller's goroutine did, and
// that goroutine (reading, decoding, handing segments and flows on) was
// the one the others waited for. The caller sends what it used to apply
// itself, in the order it would have applied it, so the census is the
// same; it reads the result only after the merger is done (Close). On two
// cores the merger runs on the caller's goroutine (see inlineShare).
type censusMerger struct {
	cs *census
	in chan mergeWork
	// result receives the census once the merger has closed it.
	result chan *Census
	// spareDone carries the done slices it has counted back to the caller.
	spareDone spares[finishedFlow]

	// waiting[i][heads[i]:] are shard i's changes not applied yet.
	waiting [][]stateChange
	heads   []int
}

// mergeWork is one delivery of work for the merger.
type mergeWork struct {
	// first, when set, is the first packet added: it anchors a relative
	// census instant.
	first      bool
	index      uint64
	firstTime  int64
	shard      int
	changes    []stateChange
	spare      spares[stateChange] // where changes goes back once copied
	bound      uint64              // apply the changes up to this capture index
	done       []finishedFlow
	close      bool
	closeNanos int64
}

// newCensusMerger returns a merger of shards' changes into cs, on a
// goroutine of its own when async is set, else on the caller's (send
// merges at once).
func newCensusMerger(cs *census, shards int, async bool) *censusMerger {
	m := &censusMerger{cs: cs, result: make(chan *Census, 1),
		waiting: make([][]stateChange, shards), heads: make([]int, shards), spareDone: make(spares[finishedFlow], 4)}
	if async {
		m.in = make(chan mergeWork, 64)
		go m.run()
	}
	return m
}

// send hands w to the merger.
func (m *censusMerger) send(w mergeWork) {
	if m.in == nil {
		m.do(w)
		return
	}
	m.in <- w
}

func (m *censusMerger) run() {
	for w := range m.in {
		if m.do(w) {
			return
		}
	}
}

// do applies w; it reports whether w closed the census, whose result is
// then on m.result.
func (m *censusMerger) do(w mergeWork) (closed bool) {
	if w.first {
		m.cs.packet(w.index, w.firstTime)
	}
	for _, f := range w.done {
		m.cs.count(f)
	}
	m.spareDone.put(w.done)
	if w.changes != nil {
		m.take(w.shard, w.changes)
		w.spare.put(w.changes)
	}
	m.merge(w.bound)
	if w.close {
		m.result <- m.cs.close(w.closeNanos)
	}
	return w.close
}

// take queues a shard's changes behind those still waiting.
func (m *censusMerger) take(shard int, changes []stateChange) {
	q, head := m.waiting[shard], m.heads[shard]
	if head > 0 && 2*head >= len(q) {
		// Move the live part down, so that the dead head does not grow
		// the slice while the merge keeps some changes waiting.
		n := copy(q, q[head:])
		clear(q[n:])
		q, m.heads[shard] = q[:n], 0
	}
	m.waiting[shard] = append(q, changes...)
}

// merge applies the waiting changes in capture order, up to bound: the
// latest capture index every shard with segments outstanding has
// processed, so later changes can only come from later segments.
func (m *censusMerger) merge(bound uint64) {
	for {
		next := -1
		for i, q := range m.waiting {
			if h := m.heads[i]; h < len(q) && q[h].seq <= bound &&
				(next < 0 || q[h].seq < m.waiting[next][m.heads[next]].seq) {
				next = i
			}
		}
		if next < 0 {
			return
		}
		m.cs.apply(&m.waiting[next][m.heads[next]])
		if m.heads[next]++; m.heads[next] == len(m.waiting[next]) {
			m.waiting[next], m.heads[next] = m.waiting[next][:0], 0 // drained: reuse it
		}
	}
}

// noBound applies every change: no shard has segments outstanding.
const noBound = math.MaxUint64
