package faultbench

import (
	"io"
	"net"
	"sync"
)

// silentProxy forwards TCP between clients and a target until frozen: then
// it stops forwarding in both directions without closing anything, as a
// dropped Wi-Fi does (no FIN, no RST). Connections made while frozen are
// held. Thawing closes the connections from before the freeze (both ends
// gave up on them long ago on a real network) and lets the held ones flow.
type silentProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	gen    int // freeze generation a connection was made in
	conns  map[*proxied]struct{}
	thawed *sync.Cond
}

type proxied struct {
	client, server net.Conn
	gen            int
}

func startProxy(target string) (*silentProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &silentProxy{ln: ln, target: target, conns: map[*proxied]struct{}{}}
	p.thawed = sync.NewCond(&p.mu)
	go p.accept()
	return p, nil
}

func (p *silentProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *silentProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		pc := &proxied{client: c, server: s, gen: p.gen}
		p.conns[pc] = struct{}{}
		p.mu.Unlock()
		go p.pipe(pc, c, s)
		go p.pipe(pc, s, c)
	}
}

// pipe copies src to dst, chunk by chunk, waiting while frozen.
func (p *silentProxy) pipe(pc *proxied, src, dst net.Conn) {
	defer func() {
		src.Close()
		dst.Close()
		p.mu.Lock()
		delete(p.conns, pc)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen {
				p.thawed.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
	}
}

// freeze stops all forwarding, silently.
func (p *silentProxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.gen++
	p.mu.Unlock()
}

// thaw drops the connections from before the freeze and resumes the rest.
func (p *silentProxy) thaw() {
	p.mu.Lock()
	var old []*proxied
	for pc := range p.conns {
		if pc.gen < p.gen {
			old = append(old, pc)
		}
	}
	for _, pc := range old {
		pc.client.Close()
		pc.server.Close()
	}
	p.frozen = false
	p.thawed.Broadcast()
	p.mu.Unlock()
}

func (p *silentProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for pc := range p.conns {
		pc.client.Close()
		pc.server.Close()
	}
	p.frozen = false
	p.thawed.Broadcast()
	p.mu.Unlock()
}
