package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golemtrust/backupwatch/internal/status"
)

// TestReportText: the report's numbers are those of the history it is
// given: runs in the period only, failures with their last reason, what
// is overdue now, sizes and their growth, the restore test.
func TestReportText(t *testing.T) {
	e := newRunEnv(t, nil)
	st := mustStore(t, e.g)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Hour)
	write := func(host, job, outcome string, at time.Time, size int64, msg string) {
		t.Helper()
		code := int64(0)
		if outcome == status.Failed {
			code = 1
		}
		res := status.Result{Host: host, Job: job, Outcome: outcome, At: at, ExitCode: &code, Message: msg}
		if size > 0 {
			res.Extra = map[string]string{status.FieldBytesProcessed: strconv.FormatInt(size, 10)}
		}
		if err := st.Update(ctx, res.Key(), func(old map[string]any) (map[string]any, bool, error) {
			doc, changed := status.Apply(old, res)
			return doc, changed, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// db: daily for 10 days, the 8th and 9th days back outside the
	// period; two failures inside it, the last 2 days ago.
	for i := 10; i >= 1; i-- {
		outcome, msg := status.Success, ""
		if i == 2 || i == 5 || i == 9 {
			outcome, msg = status.Failed, "exit status 1\nFatal: unable to open repository"
		}
		write("db", "", outcome, now.Add(-time.Duration(i)*24*time.Hour+time.Hour), int64(1<<30)*(20-int64(i)), msg)
	}
	// web: three successes, the last 3 days ago: overdue by the runbook's 24 h.
	for i := 5; i >= 3; i-- {
		write("web", "", status.Success, now.Add(-time.Duration(i)*24*time.Hour), 0, "")
	}
	write("db", "files", status.Success, now.Add(-2*time.Hour), 0, "")

	if err := runReport(ctx, e.g, &reportOptions{since: "7d", now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	got := e.out.String()
	d := func(ago time.Duration) string { return now.Add(-ago).Format("2006-01-02 15:04 UTC") }
	want := "Backup report for local store " + e.storeDir + "\n" +
		"from " + d(7*24*time.Hour) + " to " + d(0) + " (7 d)\n\n" +
		"Runs: 11, 9 succeeded (81.8%), 2 failed, of 3 hosts and jobs.\n\n" +
		"Failed in the period (1):\n" +
		"  db  2 of 7 runs failed  last " + d(47*time.Hour) + "  exit status 1\n\n" +
		"Overdue or failed now (1):\n" +
		"  web  no success for 3 d  last success " + d(72*time.Hour) + "\n\n" +
		"Size (bytes processed, first and last run of the period) (1):\n" +
		"  db  13.0 GiB  19.0 GiB  +46.2%\n\n" +
		"Restore tests: none recorded.\n"
	if got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}

	// The same report, mailed: read back from the SMTP stand-in.
	addr, dir := startMailsink(t)
	o := &reportOptions{since: "7d", now: func() time.Time { return now }}
	o.mail.to, o.mail.smarthost, o.mail.from = []string{"ops@example.org"}, addr, "backupwatch@example.org"
	if err := runReport(ctx, e.g, o); err != nil {
		t.Fatal(err)
	}
	msgs := receivedMail(t, dir)
	if len(msgs) != 1 {
		t.Fatalf("%d mails, want 1", len(msgs))
	}
	text, page := mailParts(t, msgs[0])
	if !strings.Contains(page, "<strong>81.8%</strong> of 11 runs succeeded") {
		t.Errorf("mailed report's HTML part says not the share:\n%s", page)
	}
	if text != want {
		t.Errorf("mailed report:\n%s\nwant:\n%s", text, want)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msgs[0].Header.Get("Subject"))
	if wantSub := "Backup report, " + now.Add(-7*24*time.Hour).Format("2006-01-02") + " to " + now.Format("2006-01-02") + ": 81.8% of 11 runs succeeded, 2 of 3 hosts and jobs need a look"; subject != wantSub {
		t.Errorf("subject %q, want %q", subject, wantSub)
	}
	if msgs[0].Header.Get("To") != "ops@example.org" {
		t.Errorf("To: %q", msgs[0].Header.Get("To"))
	}

	for _, bad := range []func(o *reportOptions){
		func(o *reportOptions) {
			o.mail.to = []string{"not an address"}
			o.mail.smarthost, o.mail.from = addr, "a@example.org"
		},
		func(o *reportOptions) {
			o.mail.to = []string{"a@example.org"}
			o.mail.smarthost, o.mail.from = "nohostport", "a@example.org"
		},
		func(o *reportOptions) { o.mail.smarthost = addr },
	} {
		o := &reportOptions{since: "7d"}
		bad(o)
		var u usageError
		if err := runReport(ctx, e.g, o); !errors.As(err, &u) {
			t.Errorf("bad mail flags %+v: %v, want a usage error", o.mail, err)
		}
	}

	for _, since := range []string{"", "-1d", "soon", "0s"} {
		if err := runReport(ctx, e.g, &reportOptions{since: since}); err == nil || !strings.Contains(err.Error(), "--since") {
			t.Errorf("--since %q: %v, want a usage error", since, err)
		}
	}
}

// startMailsink runs tools/mailsink, the project's SMTP stand-in, and
// returns its address and the folder it writes each message to.
func startMailsink(t *testing.T) (addr, dir string) {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "mailsink")
	build := exec.Command("go", "build", "-mod=readonly", "-o", bin, ".")
	build.Dir = "../../tools/mailsink"
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building tools/mailsink (it needs its module's dependencies: `cd tools/mailsink && go mod download`): %v\n%s", err, out)
	}
	dir = filepath.Join(tmp, "mail")
	cmd := exec.Command(bin, "-listen=127.0.0.1:0", "-dir="+dir)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "mailsink ready addr=")
	if err != nil || !ok {
		t.Fatalf("mailsink did not say where it listens: %q %v", line, err)
	}
	return addr, dir
}

// mailParts reads a mail sent as multipart/alternative: its text and its
// HTML, decoded.
func mailParts(t *testing.T, m *mail.Message) (text, html string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("mail's Content-Type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		body := strings.ReplaceAll(string(b), "\r\n", "\n")
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			text = body
		case "text/html":
			html = body
		}
	}
	if text == "" || html == "" {
		t.Fatalf("mail without a text or an HTML part: %q, %q", text, html)
	}
	return text, html
}

func receivedMail(t *testing.T, dir string) []*mail.Message {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	var out []*mail.Message
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, m)
	}
	return out
}
