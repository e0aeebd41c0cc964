package reassembly

import "testing"

// The ring hands elements back in the order they were pushed, across
// growth and wrap-around, whatever the mix of pushes and pops, and at
// finds each where it stands.
func TestRingIsFIFO(t *testing.T) {
	var r ring[int]
	next, want := 0, 0
	for round := range 2000 {
		for range round % 7 * 13 { // bursts of pushes of varying size
			r.push(next)
			next++
		}
		for range round % 5 * 17 {
			if r.len() == 0 {
				break
			}
			if got := *r.front(); got != want {
				t.Fatalf("front = %d, want %d", got, want)
			}
			if got := r.pop(); got != want {
				t.Fatalf("pop = %d, want %d", got, want)
			}
			want++
		}
		if r.len() != next-want {
			t.Fatalf("len = %d, want %d", r.len(), next-want)
		}
		for i := range r.len() {
			if got := *r.at(i); got != want+i {
				t.Fatalf("at(%d) = %d, want %d", i, got, want+i)
			}
		}
	}
}
