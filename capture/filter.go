package capture

import (
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// filterSnaplen is the snapshot length filters are compiled for: the
// largest any capture holds, so no filter rejects a packet for its length.
const filterSnaplen = maxCaplen

// bpfFilter applies a tcpdump filter expression to packets read from
// files. A BPF program is specific to a link type, and a pcapng file may
// mix link types, so the expression is compiled (by libpcap) once per link
// type, on first use.
type bpfFilter struct {
	expr  string
	progs map[LinkType]*pcap.BPF
	// last caches the most recent lookup: link types rarely change.
	lastLink LinkType
	last     *pcap.BPF
}

// newBPFFilter checks the expression by compiling it for Ethernet, so a
// typo is reported before any file is read.
func newBPFFilter(expr string) (*bpfFilter, error) {
	f := &bpfFilter{expr: expr, progs: map[LinkType]*pcap.BPF{}}
	if _, err := f.program(LinkEthernet); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *bpfFilter) program(link LinkType) (*pcap.BPF, error) {
	if f.last != nil && f.lastLink == link {
		return f.last, nil
	}
	p, ok := f.progs[link]
	if !ok {
		var err error
		p, err = pcap.NewBPF(layers.LinkType(dlt(link)), filterSnaplen, f.expr)
		if err != nil {
			return nil, fmt.Errorf("filter %q for link type %s: %w", f.expr, link, err)
		}
		f.progs[link] = p
	}
	f.lastLink, f.last = link, p
	return p, nil
}

// match runs the filter on one packet. It does not allocate.
func (f *bpfFilter) match(p *packet) (bool, error) {
	prog, err := f.program(p.link)
	if err != nil {
		return false, err
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, p.ts), CaptureLength: len(p.data), Length: p.wireLen}
	return prog.Matches(ci, p.data), nil
}

// dlt maps a file's LINKTYPE_ value to the DLT_ value libpcap compiles
// filters for. They differ for raw IP: LINKTYPE_RAW is 101 in files, while
// DLT_RAW is 12 (14 on OpenBSD), and pcap_open_dead wants the DLT.
func dlt(link LinkType) int {
	switch link {
	case LinkRaw, LinkRaw12, LinkRaw14:
		return 12
	}
	return int(link)
}
