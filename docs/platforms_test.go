package docs

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// xmlBlocks are the ```xml blocks of a page.
func xmlBlocks(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, part := range strings.Split(string(b), "```xml\n")[1:] {
		end := strings.Index(part, "```")
		if end < 0 {
			t.Fatalf("%s: an xml block never ends", file)
		}
		out = append(out, part[:end])
	}
	return out
}

func decoder(s string) *xml.Decoder {
	d := xml.NewDecoder(strings.NewReader(s))
	// Task Scheduler's files say UTF-16; the page's text is UTF-8.
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	return d
}

// TestPlatformSnippets parses the Task Scheduler task and the launchd
// plist of docs/platforms.md (plutil is not to be had here): both are
// well-formed, and both run restic under `backupwatch run --`.
func TestPlatformSnippets(t *testing.T) {
	blocks := xmlBlocks(t, "platforms.md")
	if len(blocks) != 2 {
		t.Fatalf("platforms.md has %d xml blocks, want the task and the plist", len(blocks))
	}

	var task struct {
		XMLName xml.Name `xml:"http://schemas.microsoft.com/windows/2004/02/mit/task Task"`
		Exec    struct {
			Command   string
			Arguments string
		} `xml:"Actions>Exec"`
		UserID   string `xml:"Principals>Principal>UserId"`
		Interval int    `xml:"Triggers>CalendarTrigger>ScheduleByDay>DaysInterval"`
	}
	if err := decoder(blocks[0]).Decode(&task); err != nil {
		t.Fatalf("the task: %v", err)
	}
	if !strings.HasSuffix(task.Exec.Command, `\backupwatch.exe`) || !strings.Contains(task.Exec.Arguments, " run ") || !strings.Contains(task.Exec.Arguments, " -- ") || task.Interval != 1 || task.UserID != "S-1-5-18" {
		t.Errorf("the task runs %q %q as %s every %d days; want backupwatch.exe run ... -- restic, daily, as SYSTEM", task.Exec.Command, task.Exec.Arguments, task.UserID, task.Interval)
	}

	// A plist is a dict of key, value pairs: read it as plutil would.
	d := decoder(blocks[1])
	var keys []string
	var args []string
	var inArgs bool
	var last string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the plist: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "array" && last == "ProgramArguments" {
				inArgs = true
			}
		case xml.EndElement:
			if tok.Name.Local == "array" {
				inArgs = false
			}
		case xml.CharData:
			s := string(bytes.TrimSpace(tok))
			if s == "" {
				continue
			}
			if inArgs {
				args = append(args, s)
			} else {
				last = s
				keys = append(keys, s)
			}
		}
	}
	for _, k := range []string{"Label", "ProgramArguments", "StartCalendarInterval"} {
		if !slices.Contains(keys, k) {
			t.Errorf("the plist lacks %s", k)
		}
	}
	if i := slices.Index(args, "--"); len(args) < 4 || args[0] != "/usr/local/bin/backupwatch" || !slices.Contains(args, "run") || i < 0 || !strings.HasSuffix(args[i+1], "restic") {
		t.Errorf("the plist runs %q; want backupwatch run -- restic", args)
	}
}
