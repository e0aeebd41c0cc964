package capture

import (
	"errors"
	"io"
)

// window is a read buffer whose unread bytes can be handed out in place,
// as bufio.Reader's Peek and Discard do, but with the common case (the
// bytes are already buffered) a bounds check and a slice, in input.view.
// Through bufio that case cost two calls, Peek and Discard, and about a
// twentieth of all the instructions of auditing a capture (issue 5).
//
// The bytes handed out stay valid until the next call that reads from the
// source: a refill moves the unread bytes to the front of the buffer.
type window struct {
	src  io.Reader
	buf  []byte
	r, w int   // buf[r:w] is buffered and unread
	err  error // the source's error, returned once buf[r:w] is used up
}

func newWindow(src io.Reader, size int) *window {
	return &window{src: src, buf: make([]byte, size)}
}

// maxEmptyReads bounds the source's successive reads that return nothing
// and no error, as bufio does: such a source is broken, not slow.
const maxEmptyReads = 100

// Size is the buffer's size: the most that peek can return.
func (w *window) Size() int { return len(w.buf) }

// fill reads until at least n bytes are buffered (n <= len(buf)) or the
// source fails.
func (w *window) fill(n int) {
	if w.r > 0 && len(w.buf)-w.r < n {
		w.w = copy(w.buf, w.buf[w.r:w.w])
		w.r = 0
	}
	for empty := 0; w.w-w.r < n && w.err == nil; {
		m, err := w.src.Read(w.buf[w.w:])
		if m < 0 || m > len(w.buf)-w.w {
			err = errors.New("capture: source returned an invalid count")
			m = 0
		}
		w.w += m
		w.err = err
		if m > 0 {
			empty = 0
		} else if empty++; empty >= maxEmptyReads {
			w.err = io.ErrNoProgress
		}
	}
}

// peek returns the next n bytes without consuming them: fewer, with the
// source's error, when it ends or fails first. n must not exceed Size.
func (w *window) peek(n int) ([]byte, error) {
	if w.w-w.r < n {
		w.fill(n)
		if avail := w.w - w.r; avail < n {
			return w.buf[w.r:w.w], w.err
		}
	}
	return w.buf[w.r : w.r+n], nil
}

// take consumes the next n bytes, in place; fewer, with the source's
// error, when it ends or fails first. (input.view takes them itself when
// they are buffered.)
func (w *window) take(n int) ([]byte, error) {
	b, err := w.peek(n)
	w.r += len(b)
	return b, err
}

// discard skips up to n bytes, returning how many it skipped and, when
// fewer than n, why.
func (w *window) discard(n int) (int, error) {
	done := 0
	for done < n {
		if w.r == w.w {
			if w.err != nil {
				return done, w.err
			}
			w.r, w.w = 0, 0
			w.fill(1)
			continue
		}
		k := min(n-done, w.w-w.r)
		w.r += k
		done += k
	}
	return done, nil
}

// Read makes a window an io.Reader (for gzip and io.ReadFull): buffered
// bytes first, then the source's.
func (w *window) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if w.r == w.w {
		if w.err != nil {
			return 0, w.err
		}
		w.r, w.w = 0, 0
		w.fill(1)
		if w.r == w.w {
			return 0, w.err
		}
	}
	n := copy(p, w.buf[w.r:w.w])
	w.r += n
	return n, nil
}
