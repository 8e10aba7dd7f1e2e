package main

import (
	"strings"
	"testing"
)

// TestLongNamesLocalStore (issue 16): the local store keeps every name
// validation accepts, the longest host with the longest job too, and
// validation refuses one character more, before anything is written.
func TestLongNamesLocalStore(t *testing.T) {
	name := func(n int, letter string) string {
		s := strings.Repeat(strings.Repeat(letter, 63)+".", 4)[:n]
		return strings.TrimSuffix(s, ".")
	}
	host, job := name(253, "h"), name(253, "j")
	store := "--store.dir=" + t.TempDir()
	for _, args := range [][]string{
		{store, "record", "--status=success", "--host=" + host},
		{store, "record", "--status=success", "--host=" + host, "--job=" + job},
		{store, "restore-test", "record", "--result=passed", "--host-tested=" + host, "--time-to-restore=1m", "--job=" + job},
		// The runbook's restore test too: status exits 3 without one.
		{store, "restore-test", "record", "--result=passed", "--host-tested=" + host, "--time-to-restore=1m"},
	} {
		if code, _, errOut := cli(t, args...); code != exitOK {
			t.Fatalf("%.60v: exit %d: %s", args, code, errOut)
		}
	}
	code, out, errOut := cli(t, store, "status")
	if code != exitOK || !strings.Contains(out, host[:60]) {
		t.Errorf("status: exit %d, want %d listing the long host:\n%s%s", code, exitOK, out, errOut)
	}
	for _, args := range [][]string{
		{store, "record", "--status=success", "--host=" + name(253, "h") + "h"},
		{store, "record", "--status=success", "--host=db", "--job=" + job + "j"},
	} {
		if code, _, errOut := cli(t, args...); code != exitUsage || !strings.Contains(errOut, "more than 253") {
			t.Errorf("a name of 254 characters: exit %d, %q; want %d", code, errOut, exitUsage)
		}
	}
}
