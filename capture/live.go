package capture

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// DefaultSnaplen keeps the link, IP and TCP headers with every TCP option
// (60 bytes of TCP header after up to 40 of IPv6 and a VLAN-tagged Ethernet
// or SLL2 header), and no payload: tcpaudit never needs the payload, and
// leaving it out keeps both the kernel buffer and -w files small.
const DefaultSnaplen = 256

// DefaultPoll is how long a live read waits on a quiet link before Next
// returns ErrNoPacket, so that timers and signals are noticed promptly.
const DefaultPoll = 100 * time.Millisecond

// LiveBufferSize is the kernel ring buffer, in bytes, asked of libpcap
// (tcpbench gives tcpdump the same, to compare like with like). 8 MiB holds
// about 30k headers-only packets, a few hundred milliseconds of a busy
// 10G link, which rides out a garbage-collection pause without drops.
const LiveBufferSize = 8 << 20

// LiveOptions configures Listen. The zero value captures headers only,
// without promiscuous mode and without a filter.
type LiveOptions struct {
	// Snaplen is the number of bytes kept per packet; 0 means DefaultSnaplen.
	Snaplen int
	// Promisc puts the interface in promiscuous mode.
	Promisc bool
	// Filter is a BPF expression in tcpdump syntax. It is compiled by
	// libpcap and runs in the kernel, so rejected packets cost nothing and
	// are not counted in Stats.
	Filter string
	// Poll bounds how long Next waits on a quiet link before it returns
	// ErrNoPacket; 0 means DefaultPoll.
	Poll time.Duration
	// Save, when set, receives every captured packet (TCP or not) before it
	// is decoded, so a live session can be kept as evidence (-w).
	Save *Writer
}

// PermissionError is returned by Listen when the process may not open a
// packet socket. Its message says how to fix it.
type PermissionError struct {
	Iface string
	Err   error
}

// Error is one line that an on-call engineer can act on.
func (e *PermissionError) Error() string {
	return fmt.Sprintf("capturing on %s needs root or CAP_NET_RAW (%v): run as root, or grant the capability once with: sudo setcap cap_net_raw,cap_net_admin=eip $(which tcpaudit)", e.Iface, e.Err)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// LiveStats are libpcap's counters for a live capture (pcap_stats).
type LiveStats struct {
	// Received counts packets that passed the filter.
	Received uint64
	// KernelDropped counts packets the kernel dropped for lack of buffer
	// space: tcpaudit did not read fast enough.
	KernelDropped uint64
	// IfaceDropped counts packets the interface or its driver dropped.
	IfaceDropped uint64
}

// Dropped reports whether any packet was lost before tcpaudit saw it.
func (s LiveStats) Dropped() bool { return s.KernelDropped > 0 || s.IfaceDropped > 0 }

// Live is a started live capture: a libpcap handle reading the kernel's
// ring in blocks (TPACKET_V3), handed over when full or after Poll. Its
// Source method turns it into the same Source files give, so decoding and
// counting are the same for an interface as for a file.
type Live struct {
	r       *liveReader
	snaplen int
}

// liveReader reads packets from a libpcap handle; it is the packetReader of
// a live Source.
type liveReader struct {
	iface  string
	handle *pcap.Handle
	link   LinkType
	save   *Writer

	// closeOnce makes Close safe to call from another goroutine while a
	// read blocks; stats keeps the last counters read, since they cannot be
	// read once the handle is closed.
	closeOnce sync.Once
	mu        sync.Mutex
	closed    bool
	stats     LiveStats
	saveErr   error
}

// Listen starts capturing on the network interface iface ("any" for all of
// them, delivered as Linux SLL2). Packets are handed over in blocks, when
// a block fills or after o.Poll, rather than one wakeup per packet
// (libpcap's immediate mode): a packet costs several times less CPU that
// way, which is what keeps a busy link from dropping (issue 5), and a quiet
// link still reports within o.Poll. When Listen
// returns, the kernel is already capturing: nothing sent afterwards is
// missed.
func Listen(iface string, o LiveOptions) (*Live, error) {
	if o.Snaplen <= 0 {
		o.Snaplen = DefaultSnaplen
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	in, err := pcap.NewInactiveHandle(iface)
	if err != nil {
		return nil, fmt.Errorf("live capture on %s: %w", iface, err)
	}
	defer in.CleanUp()
	for _, step := range []struct {
		what string
		err  error
	}{
		{"snaplen", in.SetSnapLen(o.Snaplen)},
		{"promiscuous mode", in.SetPromisc(o.Promisc)},
		{"read timeout", in.SetTimeout(o.Poll)},
		{"buffer size", in.SetBufferSize(LiveBufferSize)},
	} {
		if step.err != nil {
			return nil, fmt.Errorf("live capture on %s: setting %s: %w", iface, step.what, step.err)
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, activateError(iface, err)
	}
	preferSLL2(h)
	if o.Filter != "" {
		if err := h.SetBPFFilter(o.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("filter %q: %w", o.Filter, err)
		}
	}
	r := &liveReader{iface: iface, handle: h, link: LinkType(h.LinkType()), save: o.Save}
	return &Live{r: r, snaplen: h.SnapLen()}, nil
}

// preferSLL2 switches a handle that offers Linux cooked capture (the "any"
// device) to its version 2, as tcpdump does: SLL2 also records the
// interface each packet was seen on. The filter must be set afterwards,
// since it is compiled for the link type.
func preferSLL2(h *pcap.Handle) {
	if h.LinkType() != layers.LinkTypeLinuxSLL {
		return
	}
	links, err := h.ListDataLinks()
	if err != nil {
		return
	}
	for _, l := range links {
		if l.Name == pcap.DatalinkValToName(int(layers.LinkTypeLinuxSLL2)) {
			h.SetLinkType(layers.LinkTypeLinuxSLL2) // on failure SLL v1 still decodes
			return
		}
	}
}

// Link is the link type of the captured frames (LINUX_SLL2 for "any").
func (l *Live) Link() LinkType { return l.r.link }

// Snaplen is the number of bytes kept per packet.
func (l *Live) Snaplen() int { return l.snaplen }

// Source returns the capture as a Source. Its Next returns TCP segments as
// they arrive, and ErrNoPacket after every quiet poll interval, so that the
// caller runs its timers (a running view, --duration) and notices signals
// on its own goroutine, without locks. After Close, Next returns io.EOF.
func (l *Live) Source() *Source {
	return newSource([]packetReader{l.r}, Options{})
}

// Stats reads libpcap's counters; after Close it returns the last ones
// read. It is safe to call from any goroutine.
func (l *Live) Stats() LiveStats { return l.r.Stats() }

// Close stops the capture. It is safe to call more than once and from
// another goroutine while a read blocks; the Source's Close calls it too.
func (l *Live) Close() error { return l.r.Close() }

// activateError turns libpcap's activation failures into messages that say
// what to do. libpcap reports a missing privilege as PCAP_ERROR_PERM_DENIED,
// or, on some versions, as a generic error whose text names the errno.
func activateError(iface string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Permission Denied") || strings.Contains(msg, "Operation not permitted") ||
		strings.Contains(msg, "permission") {
		return &PermissionError{Iface: iface, Err: err}
	}
	if strings.Contains(msg, "No Such Device") {
		return fmt.Errorf("live capture: no interface %q (tcpaudit -D lists them)", iface)
	}
	if strings.Contains(msg, "Interface Not Up") {
		return fmt.Errorf("live capture: interface %s is down", iface)
	}
	return fmt.Errorf("live capture on %s: %w", iface, err)
}

// ReadPacket reads the next packet into p, or returns ErrNoPacket after a
// quiet poll interval, or io.EOF once the reader is closed. The data is
// valid until the next call.
func (r *liveReader) ReadPacket(p *packet) error {
	data, ci, err := r.handle.ZeroCopyReadPacketData()
	switch {
	case err == nil:
		p.data, p.ts, p.wireLen, p.link = data, ci.Timestamp.UnixNano(), ci.Length, r.link // as pcapReader does
		r.saveRaw(p)
		return nil
	case err == pcap.NextErrorTimeoutExpired:
		return ErrNoPacket
	case err == io.EOF:
		return io.EOF
	default:
		return fmt.Errorf("live capture on %s: %w", r.iface, err)
	}
}

// Name labels the reader's errors with its interface.
func (r *liveReader) Name() string { return r.iface }

// saveRaw copies a packet to the -w file. A failing -w (disk full) must not
// stop the audit: the report matters more than the raw copy, and it says
// that the copy is short.
func (r *liveReader) saveRaw(p *packet) {
	if r.save == nil || r.saveErr != nil {
		return
	}
	if err := r.save.WritePacket(p.data, p.ts, p.wireLen, p.link); err != nil {
		r.mu.Lock()
		r.saveErr = err
		r.mu.Unlock()
	}
}

// Stats reads libpcap's counters. After Close it returns the last counters
// read, which Close refreshes just before closing the handle.
func (r *liveReader) Stats() LiveStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return r.stats
	}
	if s, err := r.handle.Stats(); err == nil {
		r.stats = LiveStats{
			Received:      uint64(s.PacketsReceived),
			KernelDropped: uint64(s.PacketsDropped),
			IfaceDropped:  uint64(s.PacketsIfDropped),
		}
	}
	return r.stats
}

// Warnings says what the live reader could not do.
func (r *liveReader) Warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var w []string
	if r.saveErr != nil {
		w = append(w, "saving raw packets (-w) stopped early: "+r.saveErr.Error())
	}
	if r.stats.Dropped() {
		w = append(w, fmt.Sprintf("report incomplete: %d packets dropped by the kernel and %d by the interface on %s before tcpaudit saw them",
			r.stats.KernelDropped, r.stats.IfaceDropped, r.iface))
	}
	return w
}

// Close stops the capture. It may be called from another goroutine while
// ReadPacket blocks, which then returns io.EOF.
func (r *liveReader) Close() error {
	r.closeOnce.Do(func() {
		r.Stats()
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		r.handle.Close()
	})
	return nil
}

// Interface is a network interface live capture can use.
type Interface struct {
	Name        string
	Description string
	Addrs       []netip.Prefix
	Up, Running bool
	Loopback    bool
}

// libpcap's PCAP_IF_ flags.
const (
	pcapIfLoopback = 0x1
	pcapIfUp       = 0x2
	pcapIfRunning  = 0x4
)

// Interfaces lists the interfaces libpcap can capture on, as tcpdump -D
// does. It needs no privilege.
func Interfaces() ([]Interface, error) {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	out := make([]Interface, 0, len(devs))
	for _, d := range devs {
		it := Interface{
			Name:        d.Name,
			Description: d.Description,
			Loopback:    d.Flags&pcapIfLoopback != 0,
			Up:          d.Flags&pcapIfUp != 0,
			Running:     d.Flags&pcapIfRunning != 0,
		}
		for _, a := range d.Addresses {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			bits := ip.BitLen()
			if a.Netmask != nil {
				if ones, size := a.Netmask.Size(); size == ip.BitLen() {
					bits = ones
				}
			}
			it.Addrs = append(it.Addrs, netip.PrefixFrom(ip, bits))
		}
		out = append(out, it)
	}
	return out, nil
}
