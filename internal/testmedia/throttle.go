package testmedia

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// Throttled serves one file over HTTP on loopback at a bounded rate, with
// range requests (mpv seeks in a stream with them), so a player buffers as
// on a slow link. Close it when done.
type Throttled struct {
	*httptest.Server
	URL  string // the file's URL
	rate atomic.Int64
}

// SetRate changes the bandwidth, in bytes per second, for data sent from now.
func (t *Throttled) SetRate(bytesPerSecond int64) { t.rate.Store(bytesPerSecond) }

// ServeThrottled starts a server for path at bytesPerSecond.
func ServeThrottled(path string, bytesPerSecond int64) (*Throttled, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	t := &Throttled{}
	t.rate.Store(bytesPerSecond)
	name := "/" + filepath.Base(path)
	t.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != name {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.ServeContent(&slowWriter{ResponseWriter: w, rate: &t.rate, done: r.Context().Done()}, r, st.Name(), st.ModTime(), f)
	}))
	t.URL = t.Server.URL + name
	return t, nil
}

// slowWriter paces writes at the current rate: each piece (at most 50 ms
// of the rate) is followed by the time it takes at that rate. A fixed 50 ms
// pause per Write capped the link at 32 KiB per 50 ms (ServeContent writes
// 32 KiB at a time), so "ten times the bitrate" of a 1080p file was about
// two, and seeks over the fast link took seconds.
type slowWriter struct {
	http.ResponseWriter
	rate *atomic.Int64
	done <-chan struct{}
}

const throttleSlice = 50 * time.Millisecond

func (s *slowWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := max(int(s.rate.Load()*int64(throttleSlice)/int64(time.Second)), 1)
		n := min(chunk, len(p))
		m, err := s.ResponseWriter.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		if f, ok := s.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		p = p[n:]
		pace := time.Duration(int64(n) * int64(time.Second) / max(s.rate.Load(), 1))
		select {
		case <-time.After(pace): // pacing the link, not waiting on a condition
		case <-s.done:
			return written, http.ErrAbortHandler
		}
	}
	return written, nil
}
