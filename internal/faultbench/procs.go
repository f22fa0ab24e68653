package faultbench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// line is one JSON line a watchium-tui process printed, with when the
// harness read it.
type line struct {
	at time.Time
	m  map[string]any
}

func (l line) typ() string         { s, _ := l.m["type"].(string); return s }
func (l line) str(k string) string { s, _ := l.m[k].(string); return s }
func (l line) payload() map[string]any {
	p, _ := l.m["payload"].(map[string]any)
	return p
}

// proc is a watchium-tui child process whose stdout JSON lines are kept.
type proc struct {
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []line
	stderr strings.Builder
	exited chan struct{}
}

func startProc(name, binary string, args ...string) (*proc, error) {
	p := &proc{name: name, cmd: exec.Command(binary, args...), exited: make(chan struct{})}
	env, cleanup, err := ownIdentity(name)
	if err != nil {
		return nil, err
	}
	go func() { <-p.exited; cleanup() }()
	p.cmd.Env = env
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errp, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.mu.Lock()
				p.lines = append(p.lines, line{time.Now(), m})
				p.mu.Unlock()
			}
		}
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(errp)
		for sc.Scan() {
			p.mu.Lock()
			if p.stderr.Len() < 1<<16 {
				p.stderr.WriteString(sc.Text() + "\n")
			}
			p.mu.Unlock()
		}
	}()
	go func() { wg.Wait(); _ = p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// waitLine returns the time of the first line after `after` matching pred.
func (p *proc) waitLine(ctx context.Context, after time.Time, d time.Duration, pred func(line) bool) (time.Time, error) {
	deadline := time.Now().Add(d)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if !l.at.Before(after) && pred(l) {
				p.mu.Unlock()
				return l.at, nil
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s: nothing within %v", p.name, d)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(10 * time.Millisecond): // polling collected output, bounded by the deadline
		}
	}
}

func (p *proc) all() []line {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]line(nil), p.lines...)
}

// stop interrupts the process and waits for it (killing it by pid if it
// does not stop).
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // in case a case left it stopped
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *proc) kill9() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func isNotice(sub string) func(line) bool {
	return func(l line) bool { return l.typ() == "notice" && strings.Contains(l.str("text"), sub) }
}

func isConn(state string) func(line) bool {
	return func(l line) bool { return l.typ() == "connection" && l.str("state") == state }
}

// serverProc is `watchium-tui serve` on a fixed loopback address with its
// data in dir, so it can be killed and started again.
type serverProc struct {
	binary, addr, dir string
	cmd               *exec.Cmd
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (s *serverProc) start(ctx context.Context) error {
	s.cmd = exec.Command(s.binary, "serve", "--addr", s.addr, "--data", s.dir)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			s.kill9()
			return fmt.Errorf("serve did not come up on %s: %v", s.addr, err)
		}
		select {
		case <-ctx.Done():
			s.kill9()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling for the port, with a deadline
		}
	}
}

func (s *serverProc) kill9() {
	if s.cmd != nil && s.cmd.Process != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

func (s *serverProc) url() string { return "http://" + s.addr }

// ownIdentity is an environment in which a watchium-tui process signs in as
// a user of its own: sessions live under XDG_CONFIG_HOME, and processes
// sharing one are the same user (the host would never see "f1 joined").
// cleanup removes the directory.
func ownIdentity(name string) (env []string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "faultbench-"+name+"-")
	if err != nil {
		return nil, nil, err
	}
	env = append(os.Environ(), "WATCHIUM_KEY=", "HOME="+dir, "XDG_CONFIG_HOME="+dir)
	return env, func() { _ = os.RemoveAll(dir) }, nil
}
