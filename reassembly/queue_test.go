package reassembly

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The flow queue hands flows out in before order whatever order each
// shard's come in: in order (its run), out of order (the heap), or mixed.
func TestFlowQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name    string
		shuffle float64 // share of flows swapped with a neighbour of their shard
	}{
		{"in order", 0},
		{"some out of order", 0.1},
		{"mostly out of order", 0.9},
	} {
		const shards = 3
		var perShard [shards][]queuedFlow
		for i := range 3000 {
			q := queuedFlow{seq: uint64(i / 4), ev: flowEvent(1 + rng.IntN(int(endClosed))), tie: rng.Uint64N(1000),
				shard: rng.IntN(shards), first: uint64(i)}
			q.slot = handle(i)
			perShard[q.shard] = append(perShard[q.shard], q)
		}
		var pushes []queuedFlow
		for sh := range perShard {
			p := perShard[sh]
			slices.SortFunc(p, func(a, b queuedFlow) int {
				if a.before(&b) {
					return -1
				}
				return 1
			})
			for i := 1; i < len(p); i++ {
				if rng.Float64() < tc.shuffle {
					p[i-1], p[i] = p[i], p[i-1]
				}
			}
		}
		// Interleave the shards' flows, keeping each shard's order.
		for len(perShard[0])+len(perShard[1])+len(perShard[2]) > 0 {
			sh := rng.IntN(shards)
			if len(perShard[sh]) == 0 {
				continue
			}
			pushes = append(pushes, perShard[sh][0])
			perShard[sh] = perShard[sh][1:]
		}
		fq := newFlowQueue(shards)
		for _, q := range pushes {
			fq.push(q)
		}
		var got []queuedFlow
		for w := fq.next(); w >= 0; w = fq.next() {
			got = append(got, fq.take(w))
		}
		if len(got) != len(pushes) {
			t.Fatalf("%s: %d flows out of %d in", tc.name, len(got), len(pushes))
		}
		for i := 1; i < len(got); i++ {
			if got[i].before(&got[i-1]) {
				t.Fatalf("%s: flow %d (seq %d ev %d tie %d) came after (seq %d ev %d tie %d)", tc.name, i,
					got[i].seq, got[i].ev, got[i].tie, got[i-1].seq, got[i-1].ev, got[i-1].tie)
			}
		}
		seen := map[handle]bool{}
		for _, q := range got {
			if seen[q.slot] {
				t.Fatalf("%s: flow %d came out twice", tc.name, q.slot)
			}
			seen[q.slot] = true
		}
	}
}

// Flows taken as they come leave in order among those queued: each is
// the first of everything waiting when it is taken; and endAllAt makes
// what still waits end at Close, by first packet.
func TestFlowQueueTakesTheFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	fq := newFlowQueue(2)
	var waiting []queuedFlow
	last := [2]uint64{}
	for i := range 5000 {
		sh := rng.IntN(2)
		// Mostly later than the shard's last, sometimes earlier.
		seq := last[sh] + uint64(rng.IntN(5))
		if rng.IntN(10) == 0 && seq > 10 {
			seq -= 10
		}
		last[sh] = max(last[sh], seq)
		q := queuedFlow{seq: seq, ev: flowBegun, tie: uint64(i), shard: sh, slot: handle(i), first: rng.Uint64N(1 << 20)}
		fq.push(q)
		waiting = append(waiting, q)
		if rng.IntN(3) == 0 {
			w := fq.next()
			got := fq.take(w)
			for _, o := range waiting {
				if o.before(&got) {
					t.Fatalf("took seq %d tie %d while seq %d tie %d waited", got.seq, got.tie, o.seq, o.tie)
				}
			}
			waiting = slices.DeleteFunc(waiting, func(o queuedFlow) bool { return o.slot == got.slot })
		}
	}
	fq.endAllAt(1 << 40)
	var prev uint64
	for w := fq.next(); w >= 0; w = fq.next() {
		q := fq.take(w)
		if q.seq != 1<<40 || q.ev != endClosed || q.tie != q.first {
			t.Fatalf("after endAllAt: seq %d ev %v tie %d first %d", q.seq, q.ev, q.tie, q.first)
		}
		if q.first < prev {
			t.Fatalf("after endAllAt: first %d after %d", q.first, prev)
		}
		prev = q.first
		waiting = slices.DeleteFunc(waiting, func(o queuedFlow) bool { return o.slot == q.slot })
	}
	if len(waiting) > 0 {
		t.Fatalf("%d flows never came out", len(waiting))
	}
}
