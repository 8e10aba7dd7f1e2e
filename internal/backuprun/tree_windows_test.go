//go:build windows

package backuprun

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestHelperTree is not a test: as BACKUPRUN_TREE=child it starts a
// grandchild, prints "grandchild <pid>" and waits on its stdin; as
// grandchild it waits on its stdin. Neither ends but by a kill.
func TestHelperTree(t *testing.T) {
	switch os.Getenv("BACKUPRUN_TREE") {
	case "child":
		gc := exec.Command(os.Args[0], "-test.run=^TestHelperTree$")
		gc.Env = append(os.Environ(), "BACKUPRUN_TREE=grandchild")
		if _, err := gc.StdinPipe(); err != nil {
			os.Exit(2)
		}
		if err := gc.Start(); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Printf("grandchild %d\n", gc.Process.Pid)
		io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		os.Exit(3)
	case "grandchild":
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}
}

// TestRunKillsTheTreeOnSignal: on Windows a signal cannot be passed on;
// a child that has not ended within the grace is killed with every
// process it started (its job object), and the run says so.
func TestRunKillsTheTreeOnSignal(t *testing.T) {
	stdin, keep, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	defer stdin.Close()
	t.Setenv("BACKUPRUN_TREE", "child")
	sigs := make(chan os.Signal, 1)
	pid := make(chan int, 1)
	var log strings.Builder
	type ran struct {
		r   Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		r, err := Run(Options{
			Args: []string{os.Args[0], "-test.run=^TestHelperTree$"}, Stdin: stdin, Log: &syncWriter{w: &log},
			Signals: sigs, TreeGrace: 200 * time.Millisecond,
			OnStdout: func(line string) {
				if n, ok := strings.CutPrefix(line, "grandchild "); ok {
					p, _ := strconv.Atoi(n)
					pid <- p
				}
			},
		})
		done <- ran{r, err}
	}()
	var gc int
	select {
	case gc = <-pid:
	case <-time.After(60 * time.Second):
		t.Fatal("the child never started its grandchild")
	}
	sigs <- os.Interrupt
	var got ran
	select {
	case got = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the run did not end after the signal and the grace")
	}
	if got.err != nil || got.r.Forwarded != os.Interrupt {
		t.Errorf("Run = %+v, %v; want the interrupt forwarded", got.r, got.err)
	}
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(gc))
	if err == nil {
		ev, err := windows.WaitForSingleObject(h, 60_000)
		windows.CloseHandle(h)
		if err != nil || ev != windows.WAIT_OBJECT_0 {
			t.Errorf("the grandchild (pid %d) runs on after the run", gc)
		}
	}
	if !strings.Contains(log.String(), "killing it and every process it started") {
		t.Errorf("the log does not say the tree was killed:\n%s", log.String())
	}
}

// syncWriter guards w: the log is read while the run may still write.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
