package reassembly

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/internal/segsynth"
)

// Finished flows give their slots back: a capture of many flows, few of
// them open or lingering at once, is held in the slabs of those few however
// long it runs (issue 5's memory over time): every slot is in use or
// free, once, and Close gives them all up.
func TestSlotsAreReused(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TimeWait = 100 * time.Millisecond
	tab := NewTable(cfg, func(*Flow) {})
	// Clean closes of 9 segments, 10,000 segments a second: about 5 s of
	// capture, 1,100 flows a second, each lingering 0.1 s after it ends,
	// so some 130 flows at once.
	const conns = 20 * slabLen
	s := segsynth.New(segsynth.Config{Conns: conns, Concurrency: 20, GapNanos: 100_000, Seed: 4, DataSegments: 2})
	var seg capture.Segment
	for s.Next(&seg) {
		tab.Add(&seg)
	}
	if n := len(tab.slabs.slabs); n != 1 {
		t.Errorf("%d flows, some 130 at once, took %d slabs, want 1", conns, n)
	}
	// Every slot is in use or on its slab's free list, once.
	free := map[handle]bool{}
	for i := range tab.slabs.slabs {
		for h := tab.slabs.free[i]; h != 0; h = tab.slabs.at(h).next {
			if free[h] || int(h>>slabBits) != i {
				t.Fatalf("slot %d is on a free list twice, or on slab %d's", h, i)
			}
			free[h] = true
		}
	}
	open := tab.Stats().Active
	if want := len(tab.slabs.slabs)*slabLen - 1 - open; len(free) != want {
		t.Errorf("%d slots free with %d flows open, want %d", len(free), open, want)
	}
	tab.Close(seg.Time)
	if st := tab.Stats(); st.Emitted != st.Total || st.Total < conns {
		t.Fatalf("%d flows emitted of %d, want all, at least %d", st.Emitted, st.Total, conns)
	}
	// Close ends every flow and empties the table whole.
	if n, open := len(tab.slabs.slabs), tab.Stats().Active; n != 0 || open != 0 {
		t.Errorf("after Close: %d slabs, %d flows tracked, want none", n, open)
	}
}

// A slot comes from the lowest slab with a free one, and empty slabs at
// the top are given back but one: whatever the order flows come and go
// in, the slabs are those the highest slot in use needs, and one more at
// most (a random walk of allocations and releases, checked against a
// model of the slots in use).
func TestSlabsFollowTheSlotsInUse(t *testing.T) {
	var s slabs
	rng := rand.New(rand.NewPCG(1, 2))
	inUse := map[handle]bool{}
	var live []handle
	perSlab := map[int]int{}
	for step := range 200_000 {
		// Phases of growth and shrinking, up to some 40 slabs.
		grow := step/20_000%2 == 0
		if len(live) == 0 || grow && rng.IntN(10) < 6 || !grow && rng.IntN(10) < 3 {
			lowest := -1
			for i := range s.slabs {
				if s.free[i] != 0 {
					lowest = i
					break
				}
			}
			h := s.alloc()
			if h == 0 || inUse[h] {
				t.Fatalf("step %d: alloc returned slot %d, which is in use or none", step, h)
			}
			if lowest >= 0 && int(h>>slabBits) != lowest {
				t.Fatalf("step %d: slot %d is in slab %d, but slab %d had a free one", step, h, h>>slabBits, lowest)
			}
			inUse[h] = true
			perSlab[int(h>>slabBits)]++
			live = append(live, h)
		} else {
			k := rng.IntN(len(live))
			h := live[k]
			live[k] = live[len(live)-1]
			live = live[:len(live)-1]
			delete(inUse, h)
			perSlab[int(h>>slabBits)]--
			s.release(h)
		}
		need := len(s.slabs)
		for need > 1 && perSlab[need-1] == 0 {
			need--
		}
		if n := len(s.slabs); n < need || n > need+1 {
			t.Fatalf("step %d: %d slabs, but the slots in use need %d", step, n, need)
		}
	}
}

// After a burst of flows that all ended, a table holds the slabs of the
// flows open now: a long live capture does not keep its busiest minute's
// memory.
func TestSlabsAreGivenBackAfterABurst(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TimeWait = 100 * time.Millisecond
	tab := NewTable(cfg, func(*Flow) {})
	var seg capture.Segment
	// 50 slabs' worth of flows open at once, closed within a second.
	burst := segsynth.New(segsynth.Config{Conns: 50 * slabLen, Concurrency: 50 * slabLen, GapNanos: 1000, Seed: 6, DataSegments: 1})
	for burst.Next(&seg) {
		tab.Add(&seg)
	}
	peak := len(tab.slabs.slabs)
	if peak < 50 {
		t.Fatalf("the burst took %d slabs, want at least 50", peak)
	}
	// Then a few flows at a time, well past the burst's TIME_WAIT.
	quiet := segsynth.New(segsynth.Config{Conns: 2000, Concurrency: 5, GapNanos: 1_000_000, Seed: 7, DataSegments: 1})
	start := seg.Time + int64(time.Second)
	for quiet.Next(&seg) {
		seg.Time += start
		tab.Add(&seg)
	}
	if n := len(tab.slabs.slabs); n > 2 {
		t.Errorf("after the burst, %d flows open at most take %d slabs (the burst took %d), want at most 2", tab.Stats().Active, n, peak)
	}
	if n := len(tab.flows.tags); n > 16*minIndexSlots {
		t.Errorf("after the burst, the index has %d slots for %d flows (the burst needed %d)", n, tab.flows.Len(), 50*slabLen)
	}
}

// A slot keeps an IPv4 endpoint in its conn and an IPv6 one as its number
// in the table's v6Addrs: both must come back as they went in, an
// IPv4-mapped IPv6 address as IPv6; an address shared by flows is kept
// once, and forgotten when the last flow that names it is released.
func TestSlotAddrsRoundTrip(t *testing.T) {
	var s slabs
	v4 := s.alloc()
	s.setAddrs(v4, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"))
	if len(s.v6.numbers) != 0 {
		t.Errorf("an IPv4 flow numbered %d IPv6 addresses", len(s.v6.numbers))
	}
	pairs := [][2]string{
		{"10.0.0.1:40000", "10.0.0.2:80"},
		{"[::ffff:10.0.0.1]:40000", "10.0.0.2:80"},
		{"[2001:db8::1]:443", "[fe80::1]:0"},
		{"10.9.9.9:1", "[2001:db8::7]:2"},
		{"[2001:db8::1]:444", "[2001:db8::7]:2"},
	}
	var hs []handle
	for _, p := range pairs {
		client, server := netip.MustParseAddrPort(p[0]), netip.MustParseAddrPort(p[1])
		h := s.alloc()
		s.setAddrs(h, client, server)
		hs = append(hs, h)
		a := s.addrs(h)
		if a.get(Client) != client || a.get(Server) != server {
			t.Errorf("%v - %v came back as %v - %v", client, server, a.get(Client), a.get(Server))
		}
		if f := a.full(); f.get(Client) != client || f.get(Server) != server {
			t.Errorf("%v - %v: full form %v - %v", client, server, f.get(Client), f.get(Server))
		}
		if !a.joins(client, server) || !a.joins(server, client) {
			t.Errorf("%v - %v: does not join its own 4-tuple", client, server)
		}
		if got, want := a.hash(), flowHash(client, server); got != want {
			t.Errorf("%v - %v: hashes to %#x from the slot, %#x from netip", client, server, got, want)
		}
	}
	// ::ffff:10.0.0.1, 2001:db8::1, fe80::1 and 2001:db8::7, each once.
	if n := len(s.v6.numbers); n != 4 {
		t.Errorf("%d IPv6 addresses numbered, want 4", n)
	}
	for _, h := range hs {
		s.release(h)
	}
	if n := len(s.v6.numbers); n != 0 {
		t.Errorf("%d IPv6 addresses still numbered after their flows were released", n)
	}
	// A number freed is reused, and the IPv4 flow is unchanged.
	h := s.alloc()
	s.setAddrs(h, netip.MustParseAddrPort("[2001:db8::9]:1"), netip.MustParseAddrPort("[2001:db8::7]:2"))
	if a := s.addrs(h); a.get(Client).String() != "[2001:db8::9]:1" || len(s.v6.addrs) != 5 {
		t.Errorf("after reuse: %v, %d numbers made (want 5 with the unused 0)", a.get(Client), len(s.v6.addrs))
	}
	if a := s.addrs(v4); a.get(Client) != netip.MustParseAddrPort("10.0.0.1:40000") {
		t.Errorf("the IPv4 flow's client is now %v", a.get(Client))
	}
}
