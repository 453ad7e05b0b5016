package e2e

import (
	"bufio"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// TestSluiceUpProcess runs `sluice up` as a process: it prints exactly one
// `sluice ready <url>` line, serves a query to trino-go-client, and exits 0 on SIGINT.
func TestSluiceUpProcess(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(sluiceBin, "up", "--data-dir", newDataDir(t), "--nats-listen", "127.0.0.1:0", "--http-addr", addr)
	cmd.Env = os.Environ()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line := <-lines:
		if want := "sluice ready http://" + addr; line != want {
			t.Fatalf("first stdout line %q, want %q", line, want)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no ready line within 60s")
	}
	db, err := sql.Open("trino", "http://up@"+addr+"?catalog=tpch&schema=tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRow("SELECT r_name FROM region WHERE r_regionkey = 1").Scan(&name); err != nil || name != "AMERICA" {
		t.Fatalf("r_name = %q, %v; want AMERICA", name, err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("sluice up exited with %v after SIGINT, want status 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sluice up did not exit within 20s of SIGINT")
	}
	for line := range lines {
		if regexp.MustCompile(`ready`).MatchString(line) {
			t.Fatalf("a second ready line on stdout: %q", line)
		}
	}
}
