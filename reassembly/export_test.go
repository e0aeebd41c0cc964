package reassembly

import "net/netip"

// ShardOf exposes the choice of a segment's shard to the external tests.
func ShardOf(a, b netip.AddrPort, n int) int { return shardOf(flowHash(a, b), n) }
