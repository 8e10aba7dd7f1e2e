//go:build windows

package proctree

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestHelperProcess is not a test: as PROCTREE_ROLE=child it waits for a
// line, starts a grandchild, prints its pid and waits; as grandchild it
// waits. Each waits on its stdin, which nobody closes: only a kill ends it.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv("PROCTREE_ROLE") {
	case "child":
		in := bufio.NewReader(os.Stdin)
		in.ReadString('\n')
		gc := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		gc.Env = append(os.Environ(), "PROCTREE_ROLE=grandchild")
		if _, err := gc.StdinPipe(); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		if err := gc.Start(); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Println(gc.Process.Pid)
		io.Copy(io.Discard, in)
		os.Exit(3)
	case "grandchild":
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}
}

// startTree starts a child in a Tree, lets it start a grandchild and
// returns both.
func startTree(t *testing.T) (*Tree, *exec.Cmd, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "PROCTREE_ROLE=child")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tree, err := Hold(cmd.Process)
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("Hold: %v", err)
	}
	io.WriteString(in, "go\n")
	line, _ := bufio.NewReader(out).ReadString('\n')
	pid, err := strconv.Atoi(line[:max(len(line)-1, 0)])
	if err != nil {
		tree.Kill()
		t.Fatalf("the child said %q", line)
	}
	return tree, cmd, pid
}

// waitChild waits, within a minute, for cmd to end.
func waitChild(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("the child runs on")
	}
}

// ended waits, within a minute, for process pid to end.
func ended(t *testing.T, pid int) bool {
	t.Helper()
	h, err := windows.OpenProcess(windows.SYNCHRONIZE, false, uint32(pid))
	if err != nil {
		return true // gone already
	}
	defer windows.CloseHandle(h)
	ev, err := windows.WaitForSingleObject(h, 60_000)
	return err == nil && ev == windows.WAIT_OBJECT_0
}

// TestKillEndsTheTree: Kill ends the child and the grandchild it started.
func TestKillEndsTheTree(t *testing.T) {
	tree, cmd, gc := startTree(t)
	defer tree.Close()
	if err := tree.Kill(); err != nil {
		t.Fatal(err)
	}
	waitChild(t, cmd)
	if !ended(t, gc) {
		t.Errorf("the grandchild (pid %d) runs on after Kill", gc)
	}
}

// TestCloseEndsTheTree: the tree's handle closed, as when backupwatch is
// ended by TerminateProcess, ends the child and the grandchild.
func TestCloseEndsTheTree(t *testing.T) {
	tree, cmd, gc := startTree(t)
	if err := tree.Close(); err != nil {
		t.Fatal(err)
	}
	waitChild(t, cmd)
	if !ended(t, gc) {
		t.Errorf("the grandchild (pid %d) runs on after the job's handle closed", gc)
	}
}
