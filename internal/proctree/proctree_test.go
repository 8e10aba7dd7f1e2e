package proctree

import (
	"os"
	"os/exec"
	"testing"
)

// TestHoldAnyChild: every system holds a started child (a job object on
// Windows, nothing elsewhere); the nil Tree, which a caller keeps when
// Hold failed, is safe to kill and close.
func TestHoldAnyChild(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tree, err := Hold(cmd.Process)
	if err != nil {
		t.Fatalf("Hold: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("the child: %v", err)
	}
	if err := tree.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	var none *Tree
	if none.Kill() != nil || none.Close() != nil {
		t.Error("the nil Tree is not a no-op")
	}
}
