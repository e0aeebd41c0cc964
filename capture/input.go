package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
)

// Magic numbers, as the first four bytes of a file read big-endian.
const (
	magicPcapMicro    = 0xa1b2c3d4 // pcap, microsecond timestamps
	magicPcapNano     = 0xa1b23c4d // pcap, nanosecond timestamps
	magicPcapModified = 0xa1b2cd34 // Kuznetzov's patched pcap: 8 extra bytes per record
	magicPcapNG       = 0x0a0d0d0a // pcapng Section Header Block type
)

// maxCaplen bounds a packet's captured length. It is libpcap's
// MAXIMUM_SNAPLEN: no capture tool writes more, and a larger value in a
// record header means the file is damaged, not that we should allocate it.
const maxCaplen = 262144

// readBufSize is the read buffer (a window) in front of each file (and behind its
// gzip layer). Large enough that reads are rare and nearly every packet is
// handed out as a view into it; small enough that merging a week of hourly
// rotated files (all open at once) costs tens of MiB, not hundreds. A packet
// larger than this (GRO/TSO captures reach 64 KiB) is copied instead.
const readBufSize = 64 << 10

// A gzipped capture is decompressed ahead on a goroutine of its own, in up
// to gunzipBlocks blocks of gunzipBlockSize bytes, so that inflating (which
// cannot be split: a deflate stream is one sequence) overlaps decoding and
// tracking: a 605 MB capture, 171 MB gzipped, was read in 2.1 s on two
// cores, against 3.3 s decompressed inline by the same inflater and 4.4 s
// by compress/gzip (issue 5). Larger or more blocks measured the same. With
// more than aheadInputs files, their read-ahead (512 KB each) would add up
// for files mostly read one after another (rotated captures), so they are
// decompressed inline.
const (
	gunzipBlockSize = 128 << 10
	gunzipBlocks    = 4
	aheadInputs     = 8
)

// input is one opened file: the raw file, an optional gzip layer, and a
// buffered reader that counts the bytes consumed so that every error can
// name its offset.
type input struct {
	name       string
	compressed bool
	raw        *countingReader // bytes read from the file itself, for Progress
	size       int64           // file size, or 0 when unknown (a pipe)
	br         *window
	off        int64 // bytes consumed from br (decompressed stream)
	closer     io.Closer
	// ahead decompresses a gzip layer on its own goroutine; gunzip is
	// that layer, closed with the input (which stops its goroutine).
	ahead  bool
	gunzip io.Closer
}

// countingReader counts bytes read from a file. The counter is atomic so a
// progress display may read it from another goroutine.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// formatError wraps err with this input's name, at offset off.
func (in *input) formatError(off int64, err error) *FormatError {
	return &FormatError{File: in.name, Offset: off, Compressed: in.compressed, Err: err}
}

// readError turns a failed read of what started at offset start into a
// FormatError: "truncated WHAT: needs WANT bytes, only GOT left" when the
// input ended, else the read error itself (an I/O or gzip error).
func (in *input) readError(start int64, err error, what string, want, got int) error {
	if errorIsTruncation(err) {
		return in.formatError(start, truncatedError(what, want, got))
	}
	return in.formatError(start, err)
}

// readFull fills b, advancing the offset by what was read. It returns
// io.EOF only when nothing at all was read, and io.ErrUnexpectedEOF when
// the input ends inside b.
func (in *input) readFull(b []byte) (int, error) {
	n, err := io.ReadFull(in.br, b)
	in.off += int64(n)
	return n, err
}

// view returns the next n bytes without copying them when they fit in the
// read buffer, else copied into *spill. The bytes are valid until the next
// read. Errors are those of readFull, with the number of bytes available.
func (in *input) view(n int, spill *[]byte) ([]byte, int, error) {
	w := in.br
	if w.w-w.r < n {
		return in.viewSlow(n, spill)
	}
	b := w.buf[w.r : w.r+n : w.r+n]
	w.r += n
	in.off += int64(n)
	return b, n, nil
}

// viewSlow is view's path when the bytes are not all buffered yet: the
// buffer needs a refill, the record is larger than the buffer, or the input
// ended or failed.
func (in *input) viewSlow(n int, spill *[]byte) ([]byte, int, error) {
	if n <= in.br.Size() {
		b, err := in.br.take(n)
		in.off += int64(len(b))
		if err == nil {
			return b, n, nil
		}
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, len(b), err
	}
	if cap(*spill) < n {
		*spill = make([]byte, n)
	}
	b := (*spill)[:n]
	got, err := in.readFull(b)
	if err != nil {
		return nil, got, err
	}
	return b, n, nil
}

// discard skips n bytes.
func (in *input) discard(n int) (int, error) {
	d, err := in.br.discard(n)
	in.off += int64(d)
	if err == io.EOF && d < n {
		err = io.ErrUnexpectedEOF
	}
	return d, err
}

// openInput opens path ("-" is standard input), sees through gzip by its
// magic bytes (never by the file name), and returns a reader positioned at
// the start of the capture.
//
// ahead asks that a gzip layer be decompressed on a goroutine of its own.
func openInput(path string, stdin io.Reader, ahead bool) (*input, error) {
	in := &input{name: path, ahead: ahead}
	var f io.ReadCloser
	if path == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		f = io.NopCloser(stdin)
	} else {
		file, err := os.Open(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = fmt.Errorf("open %s: %w", printableName(path), pe.Err)
			}
			return nil, err
		}
		if st, err := file.Stat(); err == nil {
			if st.IsDir() {
				file.Close()
				return nil, fmt.Errorf("%s: is a directory, not a capture file", printableName(path))
			}
			if st.Mode().IsRegular() {
				in.size = st.Size()
			}
		}
		f = file
	}
	in.closer = f
	in.raw = &countingReader{r: f}
	if err := in.start(); err != nil {
		in.Close()
		return nil, err
	}
	return in, nil
}

// newInput wraps an already open stream (tests, fuzzing), decompressing
// gzip ahead as a single file is.
func newInput(name string, r io.Reader) (*input, error) {
	in := &input{name: name, raw: &countingReader{r: r}, closer: io.NopCloser(nil), ahead: true}
	if err := in.start(); err != nil {
		in.Close()
		return nil, err
	}
	return in, nil
}

// start sets up buffering and the gzip layer.
func (in *input) start() error {
	in.br = newWindow(in.raw, readBufSize)
	head, err := in.br.peek(4)
	if len(head) == 0 {
		if err == nil || err == io.EOF {
			err = ErrEmpty
		}
		return in.formatError(0, err)
	}
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := in.gunzipOf(in.br)
		if err != nil {
			return in.formatError(0, fmt.Errorf("gzip header: %w", err))
		}
		in.compressed, in.gunzip = true, zr
		in.br = newWindow(zr, readBufSize)
		head, err = in.br.peek(4)
		if len(head) == 0 {
			if err == nil || err == io.EOF {
				err = ErrEmpty
			}
			return in.formatError(0, fmt.Errorf("gzip stream: %w", err))
		}
	}
	return nil
}

// Name is the name the file was opened with, for errors and warnings.
// It is quoted when it holds control characters.
func (in *input) Name() string { return printableName(in.name) }

// lengthWarnings reports records whose lengths a reader tolerated.
func (in *input) lengthWarnings(what string, overSnaplen, lenUnderCaplen uint64) []string {
	var w []string
	if overSnaplen > 0 {
		w = append(w, fmt.Sprintf("%s: %d %s longer than the snaplen (read in full)", in.Name(), overSnaplen, what))
	}
	if lenUnderCaplen > 0 {
		w = append(w, fmt.Sprintf("%s: %d %s with an original length below the captured length (used the captured length)", in.Name(), lenUnderCaplen, what))
	}
	return w
}

// Close closes the underlying file.
func (in *input) Close() error {
	if in.gunzip != nil {
		in.gunzip.Close() // its errors were met reading, or do not matter now
	}
	return in.closer.Close()
}

// gunzipOf returns a reader of the gzip stream r, decompressing ahead or
// inline (see gunzipBlocks). Both read concatenated gzip members as one
// stream, as gzip -d does.
func (in *input) gunzipOf(r io.Reader) (io.ReadCloser, error) {
	if in.ahead {
		return pgzip.NewReaderN(r, gunzipBlockSize, gunzipBlocks)
	}
	return gzip.NewReader(r)
}

// progress returns the raw bytes consumed and the file size (0 if unknown).
func (in *input) progress() (int64, int64) { return in.raw.n.Load(), in.size }

// sniff classifies the first bytes of a stream that is not a capture, so
// the error says what the file is instead of only what it is not.
func sniff(head []byte) error {
	known := []struct {
		magic []byte
		what  string
	}{
		{[]byte{0x28, 0xb5, 0x2f, 0xfd}, "zstd-compressed (decompress it first: zstd -d)"},
		{[]byte{0xfd, '7', 'z', 'X', 'Z'}, "xz-compressed (decompress it first: xz -d)"},
		{[]byte("BZh"), "bzip2-compressed (decompress it first: bunzip2)"},
		{[]byte("PK\x03\x04"), "a zip archive (extract it first)"},
		{[]byte("\x04\x22\x4d\x18"), "lz4-compressed (decompress it first: lz4 -d)"},
		{[]byte("ETW"), "an ETL/other trace, not pcap"},
	}
	for _, k := range known {
		if bytes.HasPrefix(head, k.magic) {
			return fmt.Errorf("%w: the file is %s", ErrNotCapture, k.what)
		}
	}
	if looksLikeText(head) {
		return fmt.Errorf("%w: the file looks like text", ErrNotCapture)
	}
	return fmt.Errorf("%w: unknown magic number % x", ErrNotCapture, head[:min(len(head), 4)])
}

// looksLikeText reports whether b is printable UTF-8 (with tabs and line
// ends), as a text file, a log or an HTML error page would be. A rune cut
// short by the end of b still counts as text.
func looksLikeText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			return !utf8.FullRune(b) // only a cut rune at the very end
		}
		if !unicode.IsPrint(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
		b = b[n:]
	}
	return true
}

// errorIsTruncation reports whether a read error means the data ran out.
func errorIsTruncation(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
