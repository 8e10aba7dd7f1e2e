package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckPageAfter: check reads page_after (escalation, issue 20) and
// refuses a bad one with exit 2, saying where and what.
func TestCheckPageAfter(t *testing.T) {
	dir := t.TempDir()
	store := "--store.dir=" + filepath.Join(dir, "records")
	for _, tt := range []struct {
		name, file string
		want       int
		wantOut    string
	}{
		{"good", "page_after: {failures: 2}\nhosts:\n  - name: db\n    page_after: {failures: 3, or: 12h}\nschedules:\n  - host: \"nas-*\"\n    page_after: {or: 36h}\n", exitOK, "OK"},
		{"negative count", "hosts:\n  - name: db\n    page_after: {failures: -3}\n", exitUsage, "hosts[0].page_after.failures: -3: must be 1"},
		{"unparsable duration", "page_after: {or: twelve hours}\n", exitUsage, `page_after.or: not a duration`},
		{"unknown key", "page_after: {failures: 3, after: 12h}\n", exitUsage, "field after not found"},
		{"empty", "schedules:\n  - host: web\n    page_after: {}\n", exitUsage, "schedules[0].page_after: give failures"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("VAULT_TOKEN", "")
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yml")
			if err := os.WriteFile(p, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := cli(t, store, "check", "--config.file="+p)
			if code != tt.want {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.want, out, errOut)
			}
			where := out
			if tt.want != exitOK {
				where = errOut
			}
			if !strings.Contains(where, tt.wantOut) {
				t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", tt.wantOut, out, errOut)
			}
		})
	}
}
