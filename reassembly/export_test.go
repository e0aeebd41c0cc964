package reassembly

import (
	"net/netip"

	"github.com/tcpaudit/tcpaudit/capture"
)

// ShardOf exposes the choice of a segment's shard to the external tests.
func ShardOf(a, b netip.AddrPort, n int) int { return evenRoute(n).of(flowHash(a, b)) }

// SegmentsOfFuzzInput exposes FuzzTable's decoding of its input to the external
// tests' fuzz targets.
func SegmentsOfFuzzInput(data []byte) []capture.Segment { return fuzzSegments(data) }
