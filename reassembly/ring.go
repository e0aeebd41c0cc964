package reassembly

// ring is a FIFO queue in a circular buffer that doubles when full: a
// queue that stays about the same length (the TIME_WAITs of the last
// minute) reuses its buffer forever instead of reallocating and copying
// it as a sliding slice does.
type ring[T any] struct {
	buf  []T // its length is a power of two, or zero
	head int
	n    int
}

func (r *ring[T]) len() int { return r.n }

// front returns the oldest element; the ring must not be empty.
func (r *ring[T]) front() *T { return &r.buf[r.head] }

// at returns the i-th oldest element, i < len().
func (r *ring[T]) at(i int) *T { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

func (r *ring[T]) push(v T) {
	if r.n == len(r.buf) {
		grown := make([]T, max(2*len(r.buf), 64))
		k := copy(grown, r.buf[r.head:])
		copy(grown[k:], r.buf[:r.head])
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = v
	r.n++
}

// pop removes and returns the oldest element; the ring must not be empty.
func (r *ring[T]) pop() T {
	var zero T
	v := r.buf[r.head]
	r.buf[r.head] = zero // let go of what it points to
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	return v
}
