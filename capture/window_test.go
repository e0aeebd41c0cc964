package capture

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestWindowReadsLikeTheSource takes a stream apart in uneven pieces
// through every kind of short read a source can give, and checks that the
// pieces put back together are the stream, that the end is reported as
// bufio would (partial bytes with io.EOF) and that nothing is lost across
// refills.
func TestWindowReadsLikeTheSource(t *testing.T) {
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	sources := map[string]func() io.Reader{
		"whole":    func() io.Reader { return bytes.NewReader(data) },
		"one byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) },
		"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(data)) },
		"data+EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) },
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			w := newWindow(src(), 64)
			var got []byte
			for step := 0; ; step++ {
				var b []byte
				var err error
				switch n := 1 + step*13%64; step % 4 {
				case 0, 1:
					b, err = w.take(n)
				case 2:
					var p []byte
					if p, err = w.peek(n); err == nil {
						if !bytes.Equal(p, data[len(got):len(got)+n]) {
							t.Fatalf("peek at %d: wrong bytes", len(got))
						}
					}
					b, err = w.take(len(p))
				case 3:
					p := make([]byte, n)
					var m int
					m, err = io.ReadFull(w, p)
					b = p[:m]
				}
				got = append(got, b...)
				if err != nil {
					if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("after %d bytes: %v", len(got), err)
					}
					break
				}
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, want the %d of the source, in order", len(got), len(data))
			}
			if b, err := w.take(1); len(b) != 0 || err != io.EOF {
				t.Errorf("take after the end: %d bytes, %v; want 0, EOF", len(b), err)
			}
		})
	}
}

func TestWindowDiscard(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	w := newWindow(iotest.OneByteReader(bytes.NewReader(data)), 4)
	if n, err := w.discard(7); n != 7 || err != nil {
		t.Fatalf("discard(7) = %d, %v", n, err)
	}
	if b, err := w.take(3); string(b) != "789" || err != nil {
		t.Fatalf("take(3) after discard = %q, %v", b, err)
	}
	if n, err := w.discard(100); n != 10 || err != io.EOF {
		t.Fatalf("discard past the end = %d, %v; want 10, EOF", n, err)
	}
}

// A source that keeps returning nothing, and no error, is broken: the
// window gives up as bufio does instead of spinning.
func TestWindowGivesUpOnEmptyReads(t *testing.T) {
	w := newWindow(emptyReader{}, 16)
	if b, err := w.take(4); len(b) != 0 || err != io.ErrNoProgress {
		t.Fatalf("take from a silent source = %d bytes, %v; want io.ErrNoProgress", len(b), err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

// A read error is kept and returned once the bytes read before it are used.
func TestWindowKeepsTheSourceError(t *testing.T) {
	boom := errors.New("disk on fire")
	w := newWindow(io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(boom)), 16)
	if b, err := w.take(2); string(b) != "ab" || err != nil {
		t.Fatalf("take(2) = %q, %v", b, err)
	}
	if b, err := w.take(5); string(b) != "c" || err != boom {
		t.Fatalf("take(5) = %q, %v; want the last byte and the source's error", b, err)
	}
}
