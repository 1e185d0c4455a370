package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// proc is one child process the harness started, in a process group of
// its own so that a kill reaches everything it started.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error
}

// procs starts child processes and kills all of them at the end, even
// when the harness fails part-way.
type procs struct {
	dir string // where each child's output goes, as NAME.log
	mu  sync.Mutex
	all []*proc
}

// start runs bin with args and env (added to the harness's own
// environment), writing its output to dir/name.log.
func (s *procs) start(name string, env []string, bin string, args ...string) (*proc, error) {
	log, err := os.OpenFile(filepath.Join(s.dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own group, so kill -9 reaches its children too; and killed with
	// the harness if the harness dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	s.mu.Lock()
	s.all = append(s.all, p)
	s.mu.Unlock()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process group and waits for the process.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
	<-p.done
}

// stop asks the process group to end (SIGTERM) and kills it after grace.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM) //nolint:errcheck
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

// stopAll ends every process still running: politely, then by force.
func (s *procs) stopAll() {
	s.mu.Lock()
	all := append([]*proc(nil), s.all...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Go(func() { p.stop(5 * time.Second) })
	}
	wg.Wait()
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitTCP waits until addr accepts connections or p ends.
func waitTCP(ctx context.Context, addr string, p *proc, limit time.Duration) error {
	return poll(ctx, limit, 50*time.Millisecond, func() (bool, error) {
		if p != nil && p.exited() {
			return false, fmt.Errorf("%s exited before listening on %s (see %s.log)", p.name, addr, p.name)
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, nil
		}
		c.Close()
		return true, nil
	})
}

// waitHTTP waits until url answers 200 or p ends.
func waitHTTP(ctx context.Context, url string, p *proc, limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return poll(ctx, limit, 100*time.Millisecond, func() (bool, error) {
		if p != nil && p.exited() {
			return false, fmt.Errorf("%s exited before %s answered (see %s.log)", p.name, url, p.name)
		}
		resp, err := client.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

var errTimedOut = errors.New("timed out")

// poll calls cond every interval until it is true, fails, or limit or ctx
// runs out: every wait in the harness is bounded.
func poll(ctx context.Context, limit, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s", errTimedOut, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
