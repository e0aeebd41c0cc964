package reassembly

import (
	"math"
	"testing"
)

// A route gives each shard the share of the flows asked for, to within one
// entry, and no entry to a shard that does not exist.
func TestRouteShares(t *testing.T) {
	count := func(r *route, n int) []int {
		c := make([]int, n)
		for _, s := range r {
			if int(s) >= n {
				t.Fatalf("an entry names shard %d of %d", s, n)
			}
			c[s]++
		}
		return c
	}
	entries := float64(len(route{}))
	if c := count(newRoute(inlineShare, 1-inlineShare), 2); math.Abs(float64(c[0])-inlineShare*entries) > 1 {
		t.Errorf("the caller's shard has %d of %v entries, want %v", c[0], entries, inlineShare*entries)
	}
	for _, n := range []int{2, 3, 5, 8, 100, len(route{})} {
		for i, k := range count(evenRoute(n), n) {
			if math.Abs(float64(k)-entries/float64(n)) > 1 {
				t.Errorf("%d shards: shard %d has %d entries, want %.1f", n, i, k, entries/float64(n))
			}
		}
	}
}
