package reassembly

// ShardOf exposes shardOf to the external tests.
var ShardOf = shardOf
