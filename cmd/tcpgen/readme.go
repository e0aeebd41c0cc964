package main

import (
	"bytes"
	"fmt"
	"strings"
)

const readmeHead = `# Test captures

Everything here except ` + "`*.golden*`" + ` and ` + "`real/`" + ` is written by the generator in
` + "`cmd/tcpgen`" + ` and must not be edited by hand. Regenerate with

    go run ./cmd/tcpgen -o testdata all

The output is byte-for-byte reproducible (fixed seeds, base time
2026-01-01T00:00:00Z, real checksums); ` + "`go test ./cmd/tcpgen`" + ` fails when a
committed file differs from what the generator writes.

` + "`expect.json`" + ` holds, for every flow of every file, what tcpaudit must report:
verdict, client and server end state (netstat names), the active closer and
who reset (when present), whether the roles had to be inferred, and Zeek's
conn_state/history where Zeek's rules leave no doubt. ` + "`inputs`" + ` lists the
files to read together (rotated captures are two). ` + "`first_seen`" + ` tells apart
flows that reuse a 4-tuple. States are judged at the last packet of the
capture with tcpaudit's default timers: TIME_WAIT 60 s, fin-timeout 60 s,
stall-timeout 20 s. ` + "`files`" + ` gives each file's packet and TCP segment counts.

Some states are what the wire shows, not what the kernel had: a host that
crashed is left ESTABLISHED, a server that never saw a SYN is CLOSED, and an
orphaned Linux FIN_WAIT2 socket would have gone after tcp_fin_timeout, which
no packet reveals (issue 2 wants FIN_WAIT2/CLOSE_WAIT for lingering flows).

Not committed: a spoofed SYN flood (` + "`go run ./cmd/tcpgen synflood -n 1000000 -o FILE`" + `)
and the benchmark capture (` + "`go run ./cmd/tcpgen bench -o FILE`" + `), which tests
and ` + "`make bench`" + ` write into temporary directories.

| file | shows | flows: verdict (client / server) |
|---|---|---|
`

// readme renders testdata/README.md from the catalogue and the
// expectations, so that the documentation cannot drift from the files.
func readme(flows []flowExpect) []byte {
	var b bytes.Buffer
	b.WriteString(readmeHead)
	for _, d := range catalogue {
		var summary []string
		counts := map[string]int{}
		var files []string
		for _, f := range flows {
			if f.Inputs[0] != f.File || !strings.HasPrefix(f.File, d.name) {
				continue
			}
			files = f.Inputs
			key := fmt.Sprintf("%s (%s / %s)", f.Verdict, f.ClientState, f.ServerState)
			if counts[key] == 0 {
				summary = append(summary, key)
			}
			counts[key]++
		}
		for i, k := range summary {
			if counts[k] > 1 {
				summary[i] = fmt.Sprintf("%d× %s", counts[k], k)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", strings.Join(files, ", "), d.about, strings.Join(summary, "; "))
	}
	return b.Bytes()
}
