package reassembly

import "testing"

// TestRecyclerBatches checks how given-back flows reach the tables: not
// one by one but when a batch is full, or a partial one at Flush; a table
// builds its next flows in them, each emptied first; and a batch that
// finds recycledRooms full is dropped rather than waited for.
func TestRecyclerBatches(t *testing.T) {
	drain := func() {
		for {
			select {
			case <-recycledRooms:
			default:
				return
			}
		}
	}
	drain()
	defer drain()
	built := func(n int) []*Flow {
		fs := make([]*Flow, n)
		for i := range fs {
			fr := new(flowWithRoom) // as a table builds one, without taking a batch
			fr.flow.room, fr.flow.ID = fr, uint64(i+1)
			fs[i] = &fr.flow
		}
		return fs
	}

	var r Recycler
	given := built(3)
	for _, f := range given {
		r.Put(f)
	}
	if n := len(recycledRooms); n != 0 {
		t.Fatalf("%d batches handed over before a batch was full or flushed", n)
	}
	r.Flush()
	tab := new(Table)
	reused := map[*Flow]bool{}
	for range given {
		fr := tab.newFlowWithRoom()
		if fr.flow.ID != 0 || fr.flow.room != fr {
			t.Fatalf("a recycled room comes back holding ID %d, room %p (want 0, %p)", fr.flow.ID, fr.flow.room, fr)
		}
		reused[&fr.flow] = true
	}
	for _, f := range given {
		if !reused[f] {
			t.Fatal("a flushed flow was not reused by the table's next flows")
		}
	}
	if fr := tab.newFlowWithRoom(); reused[&fr.flow] {
		t.Fatal("a room was handed out twice")
	}

	for range recycleBatches + 1 {
		for _, f := range built(recycleBatch) {
			r.Put(f)
		}
	}
	if n := len(recycledRooms); n != recycleBatches {
		t.Fatalf("%d batches waiting, want the bound %d (the extra one dropped)", n, recycleBatches)
	}
}
