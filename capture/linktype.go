package capture

import "strconv"

// LinkType is a capture file's link-layer header type: the LINKTYPE_ value
// of pcap and pcapng headers (https://www.tcpdump.org/linktypes.html). The
// zero value is LinkNull (BSD loopback), which is a real link type, so
// "unknown" is expressed by the Kind a Decoder returns, not by a LinkType.
type LinkType uint16

// Link types the Decoder understands. Values are LINKTYPE_ numbers, which
// equal the DLT_ numbers except where noted.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in the writer's byte order
	LinkEthernet  LinkType = 1   // Ethernet II / 802.3
	LinkPPP       LinkType = 9   // PPP (RFC 1661), optional HDLC address/control
	LinkRaw12     LinkType = 12  // DLT_RAW on most BSDs; some writers store it unmapped
	LinkRaw14     LinkType = 14  // DLT_RAW on OpenBSD; stored unmapped by old writers
	LinkPPPHDLC   LinkType = 50  // PPP in HDLC-like framing (RFC 1662)
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, version nibble decides
	LinkLoop      LinkType = 108 // OpenBSD loopback: address family in network byte order
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1 (tcpdump -i any before libpcap 1.10)
	LinkPPPDir    LinkType = 204 // PPP with a one-byte direction prefix
	LinkIPoIB     LinkType = 242 // IP over InfiniBand (RFC 4391) with 40-byte address pseudo-header
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2 (tcpdump -i any since libpcap 1.10)
)

var linkNames = map[LinkType]string{
	LinkNull:      "NULL",
	LinkEthernet:  "EN10MB",
	LinkPPP:       "PPP",
	LinkRaw12:     "RAW(12)",
	LinkRaw14:     "RAW(14)",
	LinkPPPHDLC:   "PPP_HDLC",
	LinkRaw:       "RAW",
	LinkLoop:      "LOOP",
	LinkLinuxSLL:  "LINUX_SLL",
	LinkPPPDir:    "PPP_WITH_DIR",
	LinkIPoIB:     "IPOIB",
	LinkIPv4:      "IPV4",
	LinkIPv6:      "IPV6",
	LinkLinuxSLL2: "LINUX_SLL2",
}

// String returns the name tcpdump prints for the link type (as in
// "link-type EN10MB"), or "LINKTYPE_<n>" for one tcpaudit does not decode.
func (l LinkType) String() string {
	if n, ok := linkNames[l]; ok {
		return n
	}
	return "LINKTYPE_" + strconv.Itoa(int(l))
}

// Supported reports whether the Decoder can find IP packets in frames of
// this link type.
func (l LinkType) Supported() bool {
	_, ok := linkNames[l]
	return ok
}
