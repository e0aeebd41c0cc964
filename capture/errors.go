package capture

import (
	"errors"
	"fmt"
	"strconv"
	"unicode"
)

// FormatError reports input that is not a valid capture: bad magic, lengths
// that lie, a truncated tail. It names the file and the byte offset of the
// damage so that an on-call engineer can look at it with xxd.
//
// Source.Next returns a FormatError only after delivering every good packet
// that precedes the damage.
type FormatError struct {
	// File is the name the input was opened with ("-" for standard input).
	File string
	// Offset is the byte offset of the block or record that is damaged,
	// counted in the decompressed stream when Compressed is set.
	Offset int64
	// Compressed is set when File is gzip-compressed and Offset therefore
	// counts decompressed bytes (what `zcat FILE | xxd` shows).
	Compressed bool
	// Err says what is wrong.
	Err error
}

// Error returns one line: "FILE: offset N: what is wrong".
func (e *FormatError) Error() string {
	where := "offset " + strconv.FormatInt(e.Offset, 10)
	if e.Compressed {
		where += " (decompressed)"
	}
	return printableName(e.File) + ": " + where + ": " + e.Err.Error()
}

// printableName quotes a file name that holds control characters (a
// newline, an escape sequence), so the error stays one harmless line.
func printableName(name string) string {
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return strconv.Quote(name)
		}
	}
	return name
}

// Unwrap returns the underlying error.
func (e *FormatError) Unwrap() error { return e.Err }

// Sentinel causes that callers and tests may match with errors.Is.
var (
	// ErrEmpty is the cause for a zero-length input.
	ErrEmpty = errors.New("empty file")
	// ErrTruncated is the cause for an input that ends inside a header or a
	// packet: everything before the damaged record was delivered.
	ErrTruncated = errors.New("truncated")
	// ErrNotCapture is the cause for an input whose first bytes are not a
	// pcap, pcapng or gzip magic number.
	ErrNotCapture = errors.New("not a pcap or pcapng capture")
)

// truncatedError says how many bytes a read wanted and how many it got,
// as libpcap does ("tried to read 24 file header bytes, only got 19").
func truncatedError(what string, want, got int) error {
	return fmt.Errorf("%w %s: needs %d bytes, only %d left", ErrTruncated, what, want, got)
}
