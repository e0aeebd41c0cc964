package reassembly

// Seq is a TCP sequence number. Sequence space is a circle of 2^32 numbers
// (RFC 9293 section 3.4), so ordering is only meaningful between numbers less
// than 2^31 apart: every comparison here is done on the signed distance, never
// with the built-in < on raw values, which breaks when the space wraps.
type Seq uint32

// Size is an amount of sequence space.
type Size uint32

// Add returns s advanced by n, modulo 2^32.
func (s Seq) Add(n Size) Seq { return s + Seq(n) }

// Sub returns the signed distance from o to s: positive when s is after o.
func (s Seq) Sub(o Seq) int32 { return int32(s - o) }

// LessThan reports whether s comes before o.
func (s Seq) LessThan(o Seq) bool { return int32(s-o) < 0 }

// LessThanEq reports whether s comes before o or equals it.
func (s Seq) LessThanEq(o Seq) bool { return int32(s-o) <= 0 }

// InWindow reports whether s lies in [first, first+size).
func (s Seq) InWindow(first Seq, size Size) bool {
	return uint32(s-first) < uint32(size)
}

// InRange reports whether s lies in [a, b), with b after a.
func (s Seq) InRange(a, b Seq) bool {
	return a.LessThanEq(s) && s.LessThan(b)
}

// Max returns whichever of s and o comes later.
func (s Seq) Max(o Seq) Seq {
	if s.LessThan(o) {
		return o
	}
	return s
}
