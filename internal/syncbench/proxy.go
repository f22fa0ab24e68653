package syncbench

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// delayProxy forwards TCP connections to a target, holding every chunk for
// a one-way delay with jitter in each direction, without reordering bytes
// (as TCP over a real path would).
type delayProxy struct {
	ln            net.Listener
	target        string
	delay, jitter time.Duration
	wg            sync.WaitGroup
	mu            sync.Mutex
	conns         []net.Conn
}

func startDelayProxy(target string, delay, jitter time.Duration) (*delayProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{ln: ln, target: target, delay: delay, jitter: jitter}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *delayProxy) Addr() string { return p.ln.Addr().String() }

func (p *delayProxy) Close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *delayProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies src to dst, each chunk delivered delay ± jitter after it was
// read, never before an earlier chunk.
func (p *delayProxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	q := make(chan chunk, 4096)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d) // the link's delay itself, not a wait for a condition
			}
			if _, err := dst.Write(c.data); err != nil {
				_ = src.Close()
				for range q {
				}
				return
			}
		}
	}()
	var last time.Time
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			j := time.Duration(0)
			if p.jitter > 0 {
				j = time.Duration((rand.Float64()*2 - 1) * float64(p.jitter))
			}
			due := time.Now().Add(p.delay + j)
			if due.Before(last) {
				due = last
			}
			last = due
			q <- chunk{data: append([]byte(nil), buf[:n]...), due: due}
		}
		if err != nil {
			close(q)
			<-done
			if err != io.EOF {
				_ = dst.Close()
			} else if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			return
		}
	}
}
