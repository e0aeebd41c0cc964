package main

// Hostile and broken input (issue 6), through the whole command: every
// malformed capture gets either exit 2 with exactly one error line naming
// the file and the offset, or exit 0 with a warning counting what was
// skipped; never a panic, never memory in proportion to a length a file
// claims. The corpus is testdata/malformed (see hostile_gen_test.go).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcpaudit/tcpaudit/capture"
	"github.com/tcpaudit/tcpaudit/internal/peers"
	"github.com/tcpaudit/tcpaudit/report"
)

// cmdResult is one in-process run of the command.
type cmdResult struct {
	args           []string
	code           int
	stdout, stderr string
	// allocated is what the run allocated in total (MemStats.TotalAlloc
	// delta): a reader that trusted a 2 GiB length shows up here even if
	// the allocation was never touched.
	allocated uint64
	// peakHeap is the largest live heap seen while the command ran,
	// sampled every few milliseconds.
	peakHeap uint64
}

func (r cmdResult) String() string {
	return fmt.Sprintf("tcpaudit %s: exit %d\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stderr)
}

// runCommand runs tcpaudit in-process with an empty standard input. A
// panic fails the test with its stack instead of killing the test binary,
// so that one bad file does not hide the verdict on the others.
func runCommand(t *testing.T, args ...string) cmdResult {
	t.Helper()
	return runCommandStdin(t, strings.NewReader(""), args...)
}

// runCommandStdin is runCommand with stdin as the command's standard input.
func runCommandStdin(t *testing.T, stdin io.Reader, args ...string) cmdResult {
	t.Helper()
	var stdout bytes.Buffer
	r := runCommandTo(t, stdin, &stdout, args...)
	r.stdout = stdout.String()
	return r
}

// runCommandTo runs the command with its standard output going to stdout;
// cmdResult.stdout stays empty.
func runCommandTo(t *testing.T, stdin io.Reader, stdout io.Writer, args ...string) (r cmdResult) {
	t.Helper()
	r.args = args
	var stderr bytes.Buffer
	stopWatch := watchHeap(&r.peakHeap)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("tcpaudit %s panicked: %v\n%s", strings.Join(args, " "), p, debug.Stack())
			}
		}()
		r.code = run(args, stdin, stdout, &stderr)
	}()
	runtime.ReadMemStats(&after)
	stopWatch()
	r.allocated = after.TotalAlloc - before.TotalAlloc
	r.stderr = stderr.String()
	return r
}

// watchHeap samples the live heap into *peak until the returned function
// is called. runtime/metrics does not stop the world, unlike ReadMemStats.
func watchHeap(peak *uint64) (stop func()) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > *peak {
			*peak = v
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				read()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		read()
	}
}

// hostileReport is the part of --format json these tests read. Enumerations
// are read as their text tokens, so the test does not depend on which
// types implement UnmarshalText.
type hostileReport struct {
	Flows []struct {
		Client      string   `json:"client"`
		Server      string   `json:"server"`
		Handshake   string   `json:"handshake"`
		Verdict     string   `json:"verdict"`
		Reason      string   `json:"reason"`
		ResetBy     string   `json:"reset_by"`
		ClientState string   `json:"client_state"`
		ServerState string   `json:"server_state"`
		Notes       []string `json:"notes"`
		ClientStats struct {
			Packets, Bytes, Retransmits, SYNs, RSTs uint64
		} `json:"client_stats"`
		ServerStats struct {
			Packets, Bytes, Retransmits, SYNs, RSTs uint64
		} `json:"server_stats"`
	} `json:"flows"`
	Summary struct {
		Flows    int      `json:"flows"`
		Warnings []string `json:"warnings"`
		Capture  struct {
			Packets, TCP, NonTCP, Undecodable, Evicted uint64
		} `json:"capture"`
	} `json:"summary"`
}

func parseReport(t *testing.T, r cmdResult) *hostileReport {
	t.Helper()
	var rep hostileReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v\nreport is not JSON: %v\n%.2000s", r, err, r.stdout)
	}
	return &rep
}

// offsetRE finds the offset an error line names.
var offsetRE = regexp.MustCompile(`\boffset (\d+)\b`)

// checkDamaged checks the bad-input contract: exit 2, exactly one line on
// stderr, naming the file and "offset N", and returns N.
func checkDamaged(t *testing.T, r cmdResult, file string) int64 {
	t.Helper()
	if r.code != exitBadInput {
		t.Errorf("%v\nwant exit %d", r, exitBadInput)
		return -1
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || lines[0] == "" {
		t.Errorf("%v\nwant exactly one error line on stderr, got %d", r, len(lines))
		return -1
	}
	if !strings.Contains(lines[0], file) {
		t.Errorf("error line %q does not name the file %s", lines[0], file)
	}
	m := offsetRE.FindStringSubmatch(lines[0])
	if m == nil {
		t.Errorf("error line %q names no offset", lines[0])
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// skippedRE finds the count of a "skipped N undecodable ..." warning.
var skippedRE = regexp.MustCompile(`skipped (\d+) undecodable`)

// skippedInWarnings adds up the "skipped N undecodable ..." warnings.
func skippedInWarnings(ws []string) uint64 {
	var n uint64
	for _, w := range ws {
		if m := skippedRE.FindStringSubmatch(w); m != nil {
			k, _ := strconv.ParseUint(m[1], 10, 64)
			n += k
		}
	}
	return n
}

// claimLimit bounds what reading any malformed file may allocate: the
// buffers of one input and a report. A reader that believed a record's
// 2 GiB or a block's 4 GiB length would blow through it.
const claimLimit = 64 << 20

// TestMalformedCaptures runs the command on every file of the corpus and
// checks the outcome its README promises.
func TestMalformedCaptures(t *testing.T) {
	for _, mf := range corpus() {
		t.Run(mf.name, func(t *testing.T) {
			path := filepath.Join(malformedDir, mf.name)
			r := runCommand(t, "--format", "json", path)
			if r.allocated > claimLimit {
				t.Errorf("%v\nallocated %d MiB reading a %d-byte file (limit %d MiB)", r, r.allocated>>20, len(mf.data), claimLimit>>20)
			}
			checkOutcome(t, r, path, mf.want)
		})
	}
}

// checkOutcome checks one run against what the corpus promises for it.
func checkOutcome(t *testing.T, r cmdResult, path string, want outcome) {
	t.Helper()
	if want.damaged {
		if off := checkDamaged(t, r, path); off >= 0 && off != want.errAt {
			t.Errorf("%v\nerror names offset %d, want %d (see testdata/malformed/README.md)", r, off, want.errAt)
		}
	} else if r.code != exitOK || r.stderr != "" {
		t.Errorf("%v\nwant exit 0 and nothing on stderr", r)
	}
	if want.damaged && want.tcp == 0 && r.stdout == "" {
		return // nothing was read: an empty report is optional
	}
	rep := parseReport(t, r)
	if got := rep.Summary.Capture.TCP; got != want.tcp {
		t.Errorf("%v\nreport covers %d TCP packets, want %d", r, got, want.tcp)
	}
	if got := rep.Summary.Capture.Undecodable; got != want.skipped {
		t.Errorf("%v\n%d packets counted undecodable, want %d", r, got, want.skipped)
	}
	if got := skippedInWarnings(rep.Summary.Warnings); got != want.skipped {
		t.Errorf("%v\nwarnings count %d skipped packets, want %d: %q", r, got, want.skipped, rep.Summary.Warnings)
	}
	if want.damaged && want.tcp > 0 && !slices.ContainsFunc(rep.Summary.Warnings, func(w string) bool { return strings.Contains(w, "offset") }) {
		t.Errorf("%v\nthe report does not say where the damage is: warnings %q", r, rep.Summary.Warnings)
	}
}

// TestStdinTruncated pipes a capture cut inside its fifth record into
// "tcpaudit -", as "tcpdump -w - | tcpaudit -" gives it when tcpdump is
// killed: the error names standard input and the offset, and the report
// covers the four whole packets.
func TestStdinTruncated(t *testing.T) {
	p := validPcap()
	cut := p.b[:p.records[4]+30]
	r := runCommandStdin(t, bytes.NewReader(cut), "--format", "json", "-")
	checkOutcome(t, r, "-", outcome{damaged: true, errAt: p.records[4], tcp: 4})
}

// TestDamagedAmongGood reads a valid capture together with each malformed
// one, as a merge of rotated files would: the damage in one input must not
// cost the report of the others. Exit 2 with one line naming the damaged
// file, and a report covering the good file and whatever the damaged one
// held before its damage.
func TestDamagedAmongGood(t *testing.T) {
	good := filepath.Join(t.TempDir(), "good.pcap")
	// Another connection than the corpus's, so that the two do not merge.
	f := newPcap(262144)
	f.segs(cleanConn(corpusClient6, corpusServer6))
	if err := os.WriteFile(good, f.b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mf := range corpus() {
		if !mf.want.damaged {
			continue
		}
		t.Run(mf.name, func(t *testing.T) {
			bad := filepath.Join(malformedDir, mf.name)
			r := runCommand(t, "--format", "json", good, bad)
			checkDamaged(t, r, bad)
			if r.stdout == "" {
				t.Fatalf("%v\nno report: the packets of %s are lost", r, good)
			}
			rep := parseReport(t, r)
			if got, want := rep.Summary.Capture.TCP, uint64(len(f.records))+mf.want.tcp; got != want {
				t.Errorf("%v\nreport covers %d TCP packets, want %d", r, got, want)
			}
		})
	}
}

// cutCapture is a valid capture to cut, described by where its parts start.
type cutCapture struct {
	name string
	data []byte
	// starts are the offsets of the file header (or header blocks) and of
	// every record or block, in order; starts[firstPacket:] are the packets.
	starts      []int64
	firstPacket int
	// firstWhole is the first index of starts at which a cut leaves a
	// valid file: after the pcap file header, or after pcapng's Section
	// Header Block (a section with no interface is valid pcapng, empty).
	firstWhole int
}

// validCaptures returns the valid capture behind the corpus as pcap,
// pcapng and gzipped pcap.
func validCaptures() []cutCapture {
	p := validPcap()
	ng := validNg()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(p.b)
	zw.Close()
	return []cutCapture{
		{"cut.pcap", p.b, append([]int64{0}, p.records...), 1, 1},
		{"cut.pcapng", ng.b, ng.blocks, 2, 1},
		{"cut.pcap.gz", gz.Bytes(), nil, 0, 0},
	}
}

// cutOutcome is what the command must do with c cut at n: a cut between
// two parts is a shorter valid capture; anywhere else it is damage in the
// part it falls in, and the error names that part's start. Either way
// every packet wholly before the cut is reported.
func (c cutCapture) cutOutcome(n int64) outcome {
	i := len(c.starts) - 1
	for c.starts[i] > n {
		i--
	}
	tcp := uint64(max(0, i-c.firstPacket))
	if n == c.starts[i] && i >= c.firstWhole {
		return outcome{tcp: tcp}
	}
	return outcome{damaged: true, errAt: c.starts[i], tcp: tcp}
}

// TestCutAtEveryOffset truncates the valid capture at every byte offset
// and checks cutOutcome. gzip cuts always lose the gzip trailer, so they
// are always damage; where in the decompressed stream depends on the
// compressor, so only "a record start, or the end of the data" is checked.
func TestCutAtEveryOffset(t *testing.T) {
	dir := t.TempDir()
	p := validPcap()
	recordStarts := append([]int64{0}, p.records...)
	recordStarts = append(recordStarts, int64(len(p.b)))
	for _, c := range validCaptures() {
		t.Run(c.name, func(t *testing.T) {
			for n := 0; n < len(c.data) && !t.Failed(); n++ {
				path := filepath.Join(dir, fmt.Sprintf("%d-%s", n, c.name))
				if err := os.WriteFile(path, c.data[:n], 0o644); err != nil {
					t.Fatal(err)
				}
				r := runCommand(t, "--format", "json", path)
				if c.starts == nil {
					if off := checkDamaged(t, r, path); off >= 0 && !slices.Contains(recordStarts, off) {
						t.Errorf("cut at %d: error names decompressed offset %d, not a record start %v", n, off, recordStarts)
					}
					continue
				}
				checkOutcome(t, r, path, c.cutOutcome(int64(n)))
			}
		})
	}
}

// TestLibpcapRejects runs the command on libpcap's own malformed test files:
// where libpcap refuses a file (EXPECTED_ERRORS.txt quotes its error),
// tcpaudit must refuse it too, with one line naming the file and an offset,
// but for one valid file libpcap cannot open.
func TestLibpcapRejects(t *testing.T) {
	dir := filepath.Join(peers.Dir(t), "libpcap")
	f, err := os.Open(filepath.Join(dir, "EXPECTED_ERRORS.txt"))
	if err != nil {
		t.Skipf("libpcap expectations not found: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.SplitN(line, "\t", 3)
		if len(fields) != 3 {
			t.Fatalf("EXPECTED_ERRORS.txt: bad line %q", line)
		}
		name, libpcapErr := fields[0], fields[2]
		n++
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if name == "pcapng-no-idb.pcapng" {
				// The one exception, decided in corpus_test.go: a lone
				// Section Header Block is valid, empty pcapng (the spec
				// wants an IDB only before a packet block; Wireshark reads
				// it; libpcap's refusal is from its unmerged PR 1704). It
				// is read, and the report says it held nothing.
				r := runCommand(t, "--format", "json", path)
				rep := parseReport(t, r)
				if r.code != exitOK || !slices.ContainsFunc(rep.Summary.Warnings, func(w string) bool { return strings.Contains(w, "no Interface Description Block") }) {
					t.Errorf("%v\nwant exit 0 and a warning that the file describes no interface: %q", r, rep.Summary.Warnings)
				}
				return
			}
			r := runCommand(t, path)
			if off := checkDamaged(t, r, path); off >= 0 {
				t.Logf("libpcap: %s\nours:    %s", libpcapErr, strings.TrimSpace(r.stderr))
			}
		})
	}
	if n == 0 {
		t.Error("EXPECTED_ERRORS.txt lists no file")
	}
}

// brokenPeers are the damaged captures of ../shared/peers/CORPUS.md, with
// what tcpdump makes of each (checked with tcpdump 4.99 -r): where the
// damage is and how many packets precede it.
var brokenPeers = []struct {
	path string
	want outcome
}{
	// 6 good packets, then a record header claiming 4325376 captured bytes.
	{"suricata-verify/bug-1450-04_tls_DER-incomplete-header.pcap", outcome{damaged: true, errAt: 5035, tcp: 6}},
	// One packet with TCP data offset 0, then a record claiming 1409179648 bytes.
	{"suricata-verify/bug-6875-01_fuzz.pcap", outcome{damaged: true, errAt: 228, skipped: 1}},
	// 2696 packets, then one stray byte of a record header.
	{"suricata-verify/http-mime-truncated_input.pcap", outcome{damaged: true, errAt: 2715459, tcp: 2696}},
	// A RST whose payload lost its last byte to the snaplen: the TCP
	// header is whole, so the segment counts.
	{"tcpdump/tcp_rst_data-trunc.pcap", outcome{tcp: 1}},
	// Snaplen 46 cuts the TCP header after 12 bytes: no flags.
	{"tcpdump/tcp_header_heapoverflow.pcap", outcome{skipped: 1}},
}

// TestBrokenPeerCaptures checks the damaged real captures CORPUS.md lists.
func TestBrokenPeerCaptures(t *testing.T) {
	dir := peers.Dir(t)
	for _, c := range brokenPeers {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			path := filepath.Join(dir, c.path)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("%s absent: %v", path, err)
			}
			r := runCommand(t, "--format", "json", path)
			checkOutcome(t, r, path, c.want)
		})
	}
}

// TestPeerCapturesNoPanic runs the command on every capture under
// ../shared/peers: each one is read without a panic, ends with exit 0 or
// with the bad-input contract (exit 2, one line, file and offset), and no
// file makes the reader allocate more than claimLimit beyond its own size.
// Every other report format must then end the same way on it.
func TestPeerCapturesNoPanic(t *testing.T) {
	dir := peers.Dir(t)
	files := peers.Captures(t)
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		t.Run(rel, func(t *testing.T) {
			r := runCommand(t, "--format", "json", path)
			switch r.code {
			case exitOK:
			case exitBadInput:
				checkDamaged(t, r, path)
			default:
				t.Errorf("%v\nwant exit 0 or 2", r)
			}
			if st, err := os.Stat(path); err == nil && r.allocated > claimLimit+20*uint64(st.Size()) {
				t.Errorf("%v\nallocated %d MiB for a %d-byte file", r, r.allocated>>20, st.Size())
			}
			for _, format := range report.Formats() {
				if format == "json" {
					continue
				}
				if other := runCommand(t, "--format", format, path); other.code != r.code {
					t.Errorf("%v\nbut --format json exits %d", other, r.code)
				}
			}
		})
	}
	t.Logf("%d captures read", len(files))
}

// ---- adversarial traffic ---------------------------------------------------

// writeCapture streams segments into a new pcap file at path without
// holding the capture in memory. next returns the i-th segment and its
// time after corpusEpoch, or false when there are no more.
func writeCapture(t *testing.T, path string, next func(i int) (seg, time.Duration, bool)) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(newPcap(262144).b)
	var rec pcapFile
	for i := 0; ; i++ {
		s, at, ok := next(i)
		if !ok {
			break
		}
		rec.b, rec.records = rec.b[:0], rec.records[:0]
		rec.packetAt(at, frame(s))
		w.Write(rec.b)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeSegs writes segs one millisecond apart.
func writeSegs(t *testing.T, path string, segs []seg) {
	t.Helper()
	writeCapture(t, path, func(i int) (seg, time.Duration, bool) {
		if i >= len(segs) {
			return seg{}, 0, false
		}
		return segs[i], time.Duration(i) * time.Millisecond, true
	})
}

// spoofed returns the i-th of up to 2^24 distinct spoofed sources in
// 10.0.0.0/8, with a port that varies too.
func spoofed(i int) netip.AddrPort {
	a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	return netip.AddrPortFrom(a, uint16(1024+i%60000))
}

// TestSynFloodBoundedMemory feeds SYN floods from spoofed sources through
// the command with --max-flows 10000: first 100 000 sources, then (without
// -short) a million. The live heap must stay bounded by the table size, not
// grow with the number of sources, and the report must say how many flows
// were evicted. The smaller flood goes first so that a table that does not
// bound memory fails the test instead of exhausting the machine's memory.
func TestSynFloodBoundedMemory(t *testing.T) {
	sizes := []int{100_000, 1_000_000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		if !synFlood(t, n) {
			return
		}
	}
}

// synFlood runs one flood of n SYNs and reports whether it stayed within
// bounds.
func synFlood(t *testing.T, n int) bool {
	t.Helper()
	const (
		maxFlows = 10_000
		// A tracked single-SYN flow costs a few KiB; the limit leaves room
		// for maxFlows of them, the reader's buffers and the report's
		// state, not for 100 000 flows.
		heapLimit = 128 << 20
	)
	path := filepath.Join(t.TempDir(), "synflood.pcap")
	server := netip.MustParseAddrPort("192.0.2.1:443")
	rng := rand.New(rand.NewPCG(1, 2))
	// One SYN a microsecond: a million sources within a second.
	writeCapture(t, path, func(i int) (seg, time.Duration, bool) {
		return seg{src: spoofed(i), dst: server, seq: rng.Uint32(), flags: capture.SYN}, time.Duration(i) * time.Microsecond, i < n
	})
	runtime.GC()
	// The report is decoded as it is written, through a pipe, so that the
	// heap measured is the command's and not this test's copy of a report
	// of a million flows.
	pr, pw := io.Pipe()
	var rep hostileReport
	var flows int
	decoded := make(chan error, 1)
	go func() {
		err := decodeStreamed(pr, &flows, &rep.Summary)
		io.Copy(io.Discard, pr) // never leave the command blocked on a write
		decoded <- err
	}()
	start := time.Now()
	r := runCommandTo(t, strings.NewReader(""), pw, "--format", "json", "--max-flows", strconv.Itoa(maxFlows), path)
	elapsed := time.Since(start)
	pw.Close()
	if err := <-decoded; err != nil {
		t.Fatalf("%v\nreport: %v", r, err)
	}
	if r.code != exitOK {
		t.Fatalf("%v\nwant exit 0", r)
	}
	t.Logf("%d SYNs, --max-flows %d: %v, peak heap %d MiB, allocated %d MiB, %d flows reported, %d evicted",
		n, maxFlows, elapsed.Round(time.Millisecond), r.peakHeap>>20, r.allocated>>20, flows, rep.Summary.Capture.Evicted)
	if got := rep.Summary.Capture.TCP; got != uint64(n) {
		t.Errorf("report covers %d TCP packets, want %d", got, n)
	}
	if ev := rep.Summary.Capture.Evicted; ev < uint64(n-maxFlows) {
		t.Errorf("report says %d flows evicted; at least %d of %d single-SYN flows cannot fit a table of %d", ev, n-maxFlows, n, maxFlows)
	}
	if r.peakHeap > heapLimit {
		t.Errorf("peak live heap %d MiB for %d flows over a %d-flow table, want under %d MiB", r.peakHeap>>20, n, maxFlows, heapLimit>>20)
		return false
	}
	return !t.Failed()
}

// decodeStreamed reads a JSON report token by token: it counts the flows
// without keeping them and decodes the summary into summary.
func decodeStreamed(r io.Reader, flows *int, summary any) error {
	dec := json.NewDecoder(r)
	want := func(d json.Delim) error {
		tok, err := dec.Token()
		if err == nil && tok != d {
			err = fmt.Errorf("got %v, want %v", tok, d)
		}
		return err
	}
	if err := want('{'); err != nil {
		return err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		switch key {
		case "flows":
			if err := want('['); err != nil {
				return err
			}
			for ; dec.More(); *flows++ {
				if err := dec.Decode(&struct{}{}); err != nil {
					return err
				}
			}
			if err := want(']'); err != nil {
				return err
			}
		case "summary":
			if err := dec.Decode(summary); err != nil {
				return err
			}
		default:
			if err := dec.Decode(&struct{}{}); err != nil {
				return err
			}
		}
	}
	return want('}')
}

// flowsOf returns the flows of rep whose client port is port.
func (rep *hostileReport) flowsOf(port string) []int {
	var idx []int
	for i, f := range rep.Flows {
		if strings.HasSuffix(f.Client, ":"+port) {
			idx = append(idx, i)
		}
	}
	return idx
}

// blindNote reports whether a flow's notes call some reset blind or
// spoofed and give their number.
func blindNote(notes []string, count int) bool {
	return slices.ContainsFunc(notes, func(n string) bool {
		l := strings.ToLower(n)
		return (strings.Contains(l, "blind") || strings.Contains(l, "spoof")) && strings.Contains(n, strconv.Itoa(count))
	})
}

// TestRandomSequenceResets injects 500 RSTs with random, out-of-window
// sequence numbers into an established connection, both ways. Following
// RFC 5961 section 3.2 they must not end it: the flow then closes cleanly
// and the report calls the RSTs blind or spoofed. A second connection gets
// the same noise and then an in-window RST, which does end it.
func TestRandomSequenceResets(t *testing.T) {
	const noise = 500
	c, s := corpusClient, corpusServer
	c2 := netip.AddrPortFrom(c.Addr(), c.Port()+1)
	rng := rand.New(rand.NewPCG(5961, 3))
	// outOfWindow picks a sequence number at least 2^20 away from nxt: far
	// outside any window the connection advertises (64240, unscaled).
	outOfWindow := func(nxt uint32) uint32 {
		for {
			seq := rng.Uint32()
			if d := seq - nxt; d > 1<<20 && -d > 1<<20 {
				return seq
			}
		}
	}
	var segs []seg
	noisy := func(conn []seg, client, server netip.AddrPort) {
		segs = append(segs, conn[:4]...) // handshake and a request
		for i := range noise {
			// The client's next sequence is 1041 and the server's 5001.
			if i%2 == 0 {
				segs = append(segs, seg{client, server, outOfWindow(1041), 0, capture.RST, 0})
			} else {
				segs = append(segs, seg{server, client, outOfWindow(5001), 0, capture.RST, 0})
			}
		}
	}
	a := cleanConn(c, s)
	noisy(a, c, s)
	segs = append(segs, a[4:]...)
	b := cleanConn(c2, s)
	noisy(b, c2, s)
	segs = append(segs, b[4], seg{c2, s, 1041, 0, capture.RST, 0}) // exactly RCV.NXT: in window
	path := filepath.Join(t.TempDir(), "random-rst.pcap")
	writeSegs(t, path, segs)

	r := runCommand(t, "--format", "json", path)
	if r.code != exitOK {
		t.Fatalf("%v\nwant exit 0", r)
	}
	rep := parseReport(t, r)
	if len(rep.Flows) != 2 {
		t.Fatalf("%d flows, want 2: the RSTs must not split or end the connections", len(rep.Flows))
	}
	for _, tc := range []struct {
		port               string
		verdict, resetBy   string
		clientSt, serverSt string
	}{
		{strconv.Itoa(int(c.Port())), "clean", "", "TIME_WAIT", "CLOSED"},
		{strconv.Itoa(int(c2.Port())), "reset", "client", "CLOSED", "CLOSED"},
	} {
		idx := rep.flowsOf(tc.port)
		if len(idx) != 1 {
			t.Errorf("client port %s: %d flows, want 1", tc.port, len(idx))
			continue
		}
		f := rep.Flows[idx[0]]
		if f.Verdict != tc.verdict || f.ResetBy != tc.resetBy || f.ClientState != tc.clientSt || f.ServerState != tc.serverSt {
			t.Errorf("client port %s: verdict %s, reset_by %q, states %s/%s; want %s, %q, %s/%s (reason %q)",
				tc.port, f.Verdict, f.ResetBy, f.ClientState, f.ServerState, tc.verdict, tc.resetBy, tc.clientSt, tc.serverSt, f.Reason)
		}
		if !blindNote(f.Notes, noise) {
			t.Errorf("client port %s: no note reports the %d blind/spoofed RSTs: %q", tc.port, noise, f.Notes)
		}
	}
}

// TestCapturedOnBothEnds merges a capture taken on the client with one
// taken on the server, 5 ms apart: every packet is there twice, once as
// sent and once as received. That is one clean connection, not a
// retransmitting one or two of them.
func TestCapturedOnBothEnds(t *testing.T) {
	const delay = 5 * time.Millisecond
	conn := cleanConn(corpusClient, corpusServer)
	// When each segment is sent: an answer leaves 10 µs after what it
	// answers arrives; a segment that follows one from the same side, 100 µs
	// after it.
	sent := make([]time.Duration, len(conn))
	for i := 1; i < len(conn); i++ {
		if conn[i].src == conn[i-1].src {
			sent[i] = sent[i-1] + 100*time.Microsecond
		} else {
			sent[i] = sent[i-1] + delay + 10*time.Microsecond
		}
	}
	dir := t.TempDir()
	var paths []string
	for _, host := range []netip.AddrPort{corpusClient, corpusServer} {
		var idx []int // conn indices in the order this host sees them
		at := func(i int) time.Duration {
			if conn[i].src == host {
				return sent[i]
			}
			return sent[i] + delay
		}
		for i := range conn {
			idx = append(idx, i)
		}
		slices.SortStableFunc(idx, func(a, b int) int { return int(at(a) - at(b)) })
		path := filepath.Join(dir, host.Addr().String()+".pcap")
		writeCapture(t, path, func(i int) (seg, time.Duration, bool) {
			if i >= len(idx) {
				return seg{}, 0, false
			}
			return conn[idx[i]], at(idx[i]), true
		})
		paths = append(paths, path)
	}
	r := runCommand(t, append([]string{"--format", "json"}, paths...)...)
	if r.code != exitOK {
		t.Fatalf("%v\nwant exit 0", r)
	}
	rep := parseReport(t, r)
	if rep.Summary.Capture.TCP != uint64(2*len(conn)) || len(rep.Flows) != 1 {
		t.Fatalf("%d TCP packets in %d flows, want %d in 1", rep.Summary.Capture.TCP, len(rep.Flows), 2*len(conn))
	}
	f := rep.Flows[0]
	if f.Verdict != "clean" || f.Handshake != "complete" || f.ClientState != "TIME_WAIT" || f.ServerState != "CLOSED" {
		t.Errorf("%s, handshake %s, states %s/%s; want clean, complete, TIME_WAIT/CLOSED (reason %q)",
			f.Verdict, f.Handshake, f.ClientState, f.ServerState, f.Reason)
	}
}

// generated returns testdata/NAME as written by cmd/tcpgen, or skips.
func generated(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not generated yet (go run ./cmd/tcpgen -o testdata all): %v", path, err)
	}
	return path
}

// auditGenerated runs the command on a tcpgen capture and checks that it
// read cleanly.
func auditGenerated(t *testing.T, name string) *hostileReport {
	t.Helper()
	r := runCommand(t, "--format", "json", generated(t, name))
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("%v\nwant exit 0 and nothing on stderr", r)
	}
	return parseReport(t, r)
}

// oneFlow returns the single flow of a client port, failing otherwise.
func (rep *hostileReport) oneFlow(t *testing.T, port string) int {
	t.Helper()
	idx := rep.flowsOf(port)
	if len(idx) != 1 {
		t.Fatalf("client port %s: %d flows, want 1 (all flows: %d)", port, len(idx), len(rep.Flows))
	}
	return idx[0]
}

// TestAdversarialCaptures checks tcpgen's adversarial captures (issue 6)
// for the facts the attack is about, beyond the verdicts expect.json holds.
func TestAdversarialCaptures(t *testing.T) {
	t.Run("blind resets", func(t *testing.T) {
		rep := auditGenerated(t, "adv-blind-rst.pcap")
		a := rep.Flows[rep.oneFlow(t, "40037")]
		if a.Verdict != "reset" || a.ResetBy != "client" {
			t.Errorf("40037: %s by %q, want reset by client: only the in-window RST counts (reason %q)", a.Verdict, a.ResetBy, a.Reason)
		}
		if !blindNote(a.Notes, 6) {
			t.Errorf("40037: no note reports the 6 blind RSTs: %q", a.Notes)
		}
		b := rep.Flows[rep.oneFlow(t, "40038")]
		if b.Verdict != "clean" || !blindNote(b.Notes, 4) {
			t.Errorf("40038: %s with notes %q, want clean and a note on the 4 blind RSTs", b.Verdict, b.Notes)
		}
	})
	t.Run("SYN-ACKs with differing ISNs", func(t *testing.T) {
		rep := auditGenerated(t, "adv-synack-isn.pcap")
		if len(rep.Flows) != 2 {
			t.Errorf("%d flows, want 2: a SYN-ACK with another ISN is not a new connection", len(rep.Flows))
		}
		for _, c := range []struct{ port, verdict string }{{"40039", "clean"}, {"40040", "open"}} {
			f := rep.Flows[rep.oneFlow(t, c.port)]
			if f.Verdict != c.verdict || f.Handshake != "complete" {
				t.Errorf("%s: %s, handshake %s; want %s, complete (reason %q)", c.port, f.Verdict, f.Handshake, c.verdict, f.Reason)
			}
		}
	})
	t.Run("overlapping and contradictory retransmissions", func(t *testing.T) {
		rep := auditGenerated(t, "adv-overlap-retrans.pcap")
		f := rep.Flows[rep.oneFlow(t, "40041")]
		if f.Verdict != "clean" {
			t.Errorf("verdict %s, want clean (reason %q)", f.Verdict, f.Reason)
		}
		// The repacketized segment and the contradictory one re-send
		// sequence space already sent: two retransmissions, no new data.
		if f.ClientStats.Retransmits != 2 {
			t.Errorf("client retransmits %d, want 2", f.ClientStats.Retransmits)
		}
	})
	t.Run("timestamps going backwards", func(t *testing.T) {
		rep := auditGenerated(t, "adv-backwards-time.pcap")
		f := rep.Flows[rep.oneFlow(t, "40042")]
		if f.Verdict != "clean" || f.ClientState != "TIME_WAIT" {
			t.Errorf("%s, client %s; want one clean flow, client TIME_WAIT (reason %q)", f.Verdict, f.ClientState, f.Reason)
		}
		// The reader must be told that the clock stepped back: durations
		// across the step are not to be trusted.
		if !slices.ContainsFunc(rep.Summary.Warnings, func(w string) bool { return strings.Contains(w, "earlier") }) {
			t.Errorf("no warning says that timestamps go backwards: %q", rep.Summary.Warnings)
		}
	})
	t.Run("SPAN duplicates", func(t *testing.T) {
		rep := auditGenerated(t, "adv-span-duplicates.pcap")
		f := rep.Flows[rep.oneFlow(t, "40043")]
		if f.Verdict != "clean" || f.ClientState != "TIME_WAIT" || f.ServerState != "CLOSED" {
			t.Errorf("%s, %s/%s; want clean, TIME_WAIT/CLOSED (reason %q)", f.Verdict, f.ClientState, f.ServerState, f.Reason)
		}
		if len(rep.Flows) != 1 || f.Handshake != "complete" {
			t.Errorf("%d flows, handshake %s; want one flow with a complete handshake: a SYN seen twice is one connection", len(rep.Flows), f.Handshake)
		}
	})
}

// ---- safe output -----------------------------------------------------------

// hostile is text an attacker controls: a pcapng interface name,
// description or comment, or the name of a capture file from a ticket. It
// carries HTML, Markdown table pipes, terminal escapes (clear screen, set
// the window title, ring the bell, move the cursor back), a line break that
// would forge a second line, and a right-to-left override.
const hostile = "<script>alert(1)</script>|pipe|**bold**\x1b[2J\x1b]0;pwned\x07\r\nforged line\u202e"

// hostileCapture writes a pcapng file whose section comment, interface
// name and description, and packet comments are all hostile, and which is
// damaged at the end so that the file name (hostile too) appears in the
// warnings and on stderr.
func hostileCapture(t *testing.T, dir string) string {
	t.Helper()
	g := newNg(ngOption(optComment, []byte(hostile)))
	g.idb(ngOption(optIfName, []byte(hostile)), ngOption(optIfDesc, []byte(hostile)), ngOption(optComment, []byte(hostile)))
	for _, s := range cleanConn(corpusClient, corpusServer)[:3] {
		g.epb(0, frame(s), ngOption(optComment, []byte(hostile)))
	}
	g.b = append(g.b, 6, 0, 0, 0) // four bytes of a block header: damage
	path := filepath.Join(dir, "ticket"+strings.ReplaceAll(hostile, "/", "_")+".pcapng")
	if err := os.WriteFile(path, g.b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHostileStringsEscaped runs every report format on the hostile capture
// and checks that nothing from it reaches the output raw.
func TestHostileStringsEscaped(t *testing.T) {
	path := hostileCapture(t, t.TempDir())
	for _, format := range []string{"text", "md", "html", "json", "csv", "zeek"} {
		t.Run(format, func(t *testing.T) {
			r := runCommand(t, "--format", format, path)
			if r.code != exitBadInput {
				t.Fatalf("%v\nwant exit 2 for the damaged tail", r)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
				t.Errorf("stderr is not one line: %q", r.stderr)
			}
			for name, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
				for _, bad := range []string{"\x1b", "\x07", "\r", "\nforged", "\u202e"} {
					// JSON is for programs: its encoder escapes control
					// characters and keeps other text as it was.
					if format == "json" && name == "stdout" && bad == "\u202e" {
						continue
					}
					if strings.Contains(out, bad) {
						t.Errorf("%s carries the raw control character %q", name, bad)
					}
				}
			}
			// The hostile file name reaches every report (inputs, the
			// damage warning): it must arrive there escaped, not dropped.
			// ('/' cannot be in a file name: "</script>" is "<_script>".)
			want := map[string][]string{
				"text": {`\x1b[2J`, `\u202e`},
				"md":   {`&lt;script&gt;`, `\|pipe\|`, `\*\*bold\*\*`},
				"html": {`&lt;script&gt;`},
			}[format]
			for _, w := range want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("%s output lacks the escaped form %q of the hostile file name", format, w)
				}
			}
			switch format {
			case "html", "md":
				// The HTML report has scripts of its own; the hostile one
				// is the one that calls alert.
				if strings.Contains(r.stdout, "<script>alert") {
					t.Errorf("%s output carries the hostile <script> tag raw", format)
				}
				if format == "md" && strings.Contains(r.stdout, "|pipe|") {
					t.Error("markdown output carries unescaped pipes, which split a table row")
				}
			case "json":
				rep := parseReport(t, r)
				if len(rep.Summary.Warnings) == 0 {
					t.Error("json output has no warning about the damaged tail")
				}
			}
		})
	}
}

// TestOutputOverInputRefused checks that a report or evidence path naming
// an input (directly, through a symbolic link, or through ..) is refused
// before anything is written, and that the capture is left as it was.
func TestOutputOverInputRefused(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "incident.pcap")
	data := validPcap().b
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pcap")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	dotdot := filepath.Join(dir, "sub", "..", "incident.pcap")
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	for _, args := range [][]string{
		{"-o", in, in},
		{"--output", link, in},
		{"-o", dotdot, in},
		{"-o", in, "-r", link},
		{"--evidence", in, in},
	} {
		r := runCommand(t, args...)
		if r.code != exitBadInput || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v\nwant exit 2 and one error line", r)
		}
		if got, err := os.ReadFile(in); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("tcpaudit %s changed the input capture (err %v)", strings.Join(args, " "), err)
		}
	}
}
