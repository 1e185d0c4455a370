package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCluster is a PostgreSQL cluster of the harness's own, on a free
// loopback port, that it can stop and start at will. As root it runs as
// the postgres user (PostgreSQL refuses to run as root).
type pgCluster struct {
	bindir string
	data   string
	addr   string
	procs  *procs
	server *proc
	asUser []string // command prefix that drops root, or nothing
	uid    int
	gid    int
}

// dropRoot returns, when the harness runs as root, the command prefix
// that runs a program as the postgres user (PostgreSQL and PgBouncer
// refuse to run as root) and hands dir to that user; otherwise nothing
// and -1 ids.
func dropRoot(dir string) (prefix []string, uid, gid int, err error) {
	if os.Getuid() != 0 {
		return nil, -1, -1, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, -1, -1, fmt.Errorf("running as root needs a postgres user to run PostgreSQL and PgBouncer: %w", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, -1, -1, err
	}
	return []string{"setpriv", "--reuid=" + u.Uid, "--regid=" + u.Gid, "--init-groups", "--pdeathsig", "KILL", "--"}, uid, gid, nil
}

// findPGBin returns the newest PostgreSQL server's bin directory.
func findPGBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var ok []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", fmt.Errorf("no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin or PATH")
	}
	sort.Slice(ok, func(i, j int) bool { return pgVersion(ok[i]) < pgVersion(ok[j]) })
	return ok[len(ok)-1], nil
}

func pgVersion(bindir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return n
}

// newPGCluster initialises a cluster in a new directory and starts it.
// logDir receives postgres.log.
func newPGCluster(ctx context.Context, logDir string) (*pgCluster, error) {
	bindir, err := findPGBin()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	c := &pgCluster{bindir: bindir, procs: &procs{dir: logDir}, uid: -1, gid: -1}
	// The data directory lives apart from the work directory, which may
	// not be open to the postgres user.
	base, err := os.MkdirTemp("", "protect-chaos-pg-")
	if err != nil {
		return nil, err
	}
	c.data = filepath.Join(base, "data")
	if c.asUser, c.uid, c.gid, err = dropRoot(base); err != nil {
		return nil, err
	}
	initdb := c.command(filepath.Join(bindir, "initdb"), "-D", c.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(base)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if c.addr, err = freeAddr(); err != nil {
		return nil, err
	}
	if err := c.start(ctx); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *pgCluster) command(bin string, args ...string) *exec.Cmd {
	all := append(append(append([]string{}, c.asUser...), bin), args...)
	cmd := exec.Command(all[0], all[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// adminURL is the cluster's postgres database.
func (c *pgCluster) adminURL() string {
	return "postgres://postgres@" + c.addr + "/postgres?sslmode=disable"
}

// start runs the server and waits until it accepts queries.
func (c *pgCluster) start(ctx context.Context) error {
	_, port, _ := strings.Cut(c.addr, ":")
	args := append(append([]string{}, c.asUser...), filepath.Join(c.bindir, "postgres"), "-D", c.data, "-p", port,
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+filepath.Dir(c.data), "-c", "max_connections=200")
	var err error
	if c.server, err = c.procs.start("postgres", nil, args[0], args[1:]...); err != nil {
		return err
	}
	return poll(ctx, time.Minute, 100*time.Millisecond, func() (bool, error) {
		if c.server.exited() {
			return false, fmt.Errorf("postgres exited at start (see postgres.log)")
		}
		conn, err := pgx.Connect(ctx, c.adminURL())
		if err != nil {
			return false, nil
		}
		conn.Close(ctx)
		return true, nil
	})
}

// stop shuts the server down the fast way (SIGINT): clients are
// disconnected, nothing committed is lost.
func (c *pgCluster) stop() {
	if c.server == nil || c.server.exited() {
		return
	}
	syscall.Kill(-c.server.cmd.Process.Pid, syscall.SIGINT) //nolint:errcheck
	select {
	case <-c.server.done:
	case <-time.After(30 * time.Second):
		c.server.kill()
	}
}

// close stops the server and removes the cluster.
func (c *pgCluster) close() {
	c.stop()
	os.RemoveAll(filepath.Dir(c.data))
}
