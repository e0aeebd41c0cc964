package main

import (
	"runtime"

	"github.com/tcpaudit/tcpaudit/reassembly"
)

// flowWriter encodes the flows of a streamed report (json, csv, zeek) on a
// goroutine of its own. The flow table emits them on the reading
// goroutine, which the table's workers wait for; encoding the bench
// capture's 200,000 flows as JSON there took about a quarter of that
// goroutine's time on two cores. The writer takes them in batches, in
// emission order, and gives each back (reassembly.Recycler) once written
// when nothing else holds it.
type flowWriter struct {
	a     *audit
	cur   []writtenFlow
	full  chan []writtenFlow
	empty chan []writtenFlow
	// done receives the first write error, or nil, once every flow is
	// written.
	done chan error
}

// writtenFlow is a flow to write, and whether to recycle it afterwards.
type writtenFlow struct {
	f       *reassembly.Flow
	recycle bool
}

// Batching: flowBatch flows a send, flowBatches of them in flight, which
// keeps a channel operation's cost far below the flows' and the memory
// held by flows waiting to be written small (2,300 flows, about 2 MB). On
// two cores the writer shares a core with the reading goroutine or the
// worker, and each of its wake-ups cost them more than its channel
// operation: bench capture, JSON, mean of the best half of 12 interleaved
// runs, 0.898 s with batches of 256 against 0.918 with 64 (0.892 with 512).
const (
	flowBatch   = 256
	flowBatches = 8
)

// newFlowWriter returns a writer for a's streamed report, or nil when
// there is one core: writing on the reading goroutine then costs less
// than handing the flows over.
func newFlowWriter(a *audit) *flowWriter {
	if runtime.GOMAXPROCS(0) == 1 {
		return nil
	}
	w := &flowWriter{a: a, full: make(chan []writtenFlow, flowBatches),
		empty: make(chan []writtenFlow, flowBatches+1), done: make(chan error, 1)}
	for range flowBatches + 1 {
		w.empty <- make([]writtenFlow, 0, flowBatch)
	}
	w.cur = <-w.empty
	go w.run()
	return w
}

// add queues f, to be recycled once written if recycle is set.
func (w *flowWriter) add(f *reassembly.Flow, recycle bool) {
	w.cur = append(w.cur, writtenFlow{f, recycle})
	if len(w.cur) == flowBatch {
		w.full <- w.cur
		w.cur = <-w.empty
	}
}

// close writes the flows still queued and returns the first write error.
func (w *flowWriter) close() error {
	w.full <- w.cur
	close(w.full)
	return <-w.done
}

func (w *flowWriter) run() {
	var err error
	var recycler reassembly.Recycler
	for batch := range w.full {
		for i, x := range batch {
			// The stream is begun before the first flow is sent, unless
			// that failed: then there is nothing to write to.
			if s := w.a.out.stream; err == nil && s != nil {
				err = s.Flow(x.f)
			}
			if x.recycle {
				recycler.Put(x.f)
			}
			batch[i] = writtenFlow{}
		}
		w.empty <- batch[:0]
	}
	w.done <- err
}
