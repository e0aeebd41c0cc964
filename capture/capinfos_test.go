package capture

import (
	"bufio"
	"github.com/tcpaudit/tcpaudit/internal/peers"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// wiresharkFacts is what CORPUS-flows.txt records for one capture.
type wiresharkFacts struct {
	fileType string // capinfos' file type ("pcap", "pcapng", "erf", ...), "" if it refused the file
	packets  int    // packets capinfos read (before the damage, for a broken file)
	tcp      int    // TCP packets in tshark's flows
	allFlows bool   // every flow is listed, so tcp is the whole count
}

// readWiresharkFacts parses ../shared/peers/CORPUS-flows.txt.
func readWiresharkFacts(t *testing.T, peers string) map[string]*wiresharkFacts {
	f, err := os.Open(filepath.Join(peers, "CORPUS-flows.txt"))
	if err != nil {
		t.Skipf("CORPUS-flows.txt absent: %v", err)
	}
	defer f.Close()
	var (
		fileLine  = regexp.MustCompile(`^FILE (\S+) `)
		afterN    = regexp.MustCompile(`after reading (\d+) packets`)
		flowsLine = regexp.MustCompile(`^tcp flows: (\d+)`)
		flowN     = regexp.MustCompile(`^  s\d+ \S+ n=(\d+):`)
	)
	facts := map[string]*wiresharkFacts{}
	var cur *wiresharkFacts
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := fileLine.FindStringSubmatch(line); m != nil {
			cur = &wiresharkFacts{}
			facts[m[1]] = cur
			continue
		}
		if cur == nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "capinfos: "):
			fields := strings.Split(strings.SplitN(line, " | ", 2)[0], "\t")
			if m := afterN.FindStringSubmatch(line); m != nil {
				cur.packets, _ = strconv.Atoi(m[1])
				cur.fileType = "damaged"
			} else if len(fields) == 4 && fields[1] != "File type" {
				cur.fileType = fields[1]
				cur.packets, _ = strconv.Atoi(fields[3])
			}
		case flowsLine.MatchString(line):
			n, _ := strconv.Atoi(flowsLine.FindStringSubmatch(line)[1])
			cur.allFlows = n <= 40 // the file lists at most 40 flows
		case flowN.MatchString(line):
			n, _ := strconv.Atoi(flowN.FindStringSubmatch(line)[1])
			cur.tcp += n
		}
	}
	if len(facts) == 0 {
		t.Skip("no files in CORPUS-flows.txt")
	}
	return facts
}

// TestWiresharkCounts compares, for every capture of the peer corpus, our
// packet count with capinfos' and our TCP segment count with tshark's: the
// readers must see exactly the records Wireshark sees (including how many
// come before the damage in a broken file), and the decoder the same TCP.
func TestWiresharkCounts(t *testing.T) {
	peers := peers.Dir(t)
	// Where we knowingly differ from Wireshark, and why.
	differ := map[string]string{
		// Wireshark guesses among pcap variants from the first records and
		// reads this fuzzed file as another variant; as standard pcap its
		// second record claims 1409179648 bytes (CORPUS.md agrees: one
		// readable packet).
		"suricata-verify/bug-6875-01_fuzz.pcap": "pcap variant heuristics",
		// Wireshark stops at the section of unsupported version 2.0; we
		// skip that section with a warning and read the one after it.
		"gopacket/le_test901.pcapng": "unsupported section skipped",
	}
	agree := 0
	for name, w := range readWiresharkFacts(t, peers) {
		path := filepath.Join(peers, name)
		switch w.fileType {
		case "pcap", "pcapng", "nsecpcap", "damaged":
		case "":
			if err := readFileErr(t, path); err == nil {
				t.Errorf("%s: capinfos refuses it, we read it without error", name)
			}
			continue
		default:
			// Wireshark fell back to another format (ERF, MIME) for bytes
			// that are no valid pcap or pcapng: we refuse them.
			if err := readFileErr(t, path); err == nil {
				t.Errorf("%s: capinfos reads it as %s, we read it as a capture", name, w.fileType)
			}
			continue
		}
		src, err := OpenFiles([]string{path}, Options{})
		if err != nil {
			t.Errorf("%s: capinfos read %d packets, we refuse it: %v", name, w.packets, err)
			continue
		}
		readAll(t, src)
		st := src.Stats()
		defer src.Close()
		if why, ok := differ[name]; ok {
			t.Logf("%s: %d packets, capinfos %d (%s)", name, st.Packets, w.packets, why)
			continue
		}
		if int(st.Packets) != w.packets {
			t.Errorf("%s: %d packets, capinfos %d", name, st.Packets, w.packets)
			continue
		}
		// tshark lists a TCP header cut short or with a bad data offset
		// in its flows when it could read the ports (a malformed TCP
		// packet); we count it as undecodable.
		probs := src.Problems()
		badTCP := probs[ProblemTCPTruncated] + probs[ProblemTCPDataOffset] + probs[ProblemTCPBeyondIP]
		if w.allFlows && int(st.TCP) != w.tcp && int(st.TCP+badTCP) != w.tcp {
			t.Errorf("%s: %d TCP segments (+%d malformed), tshark %d", name, st.TCP, badTCP, w.tcp)
			continue
		}
		agree++
	}
	t.Logf("%d files agree with Wireshark", agree)
}
