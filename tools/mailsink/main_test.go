package main

import (
	"context"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startSink serves a mailsink on a free loopback port until the test ends.
func startSink(t *testing.T, maxBytes int64) (addr, dir string) {
	t.Helper()
	dir = t.TempDir()
	srv, err := newServer(dir, maxBytes, 2000)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, srv, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("mailsink did not stop within 15s")
		}
	})
	return l.Addr().String(), dir
}

func TestMessagesAreWrittenInOrder(t *testing.T) {
	addr, dir := startSink(t, 1<<20)
	bodies := []string{"first", "second", strings.Repeat("line of text\r\n", 5000)}
	for i, b := range bodies {
		msg := "From: am@example.org\r\nTo: owner@example.org\r\nSubject: n" + string(rune('1'+i)) + "\r\n\r\n" + b + "\r\n"
		if err := smtp.SendMail(addr, nil, "am@example.org", []string{"owner@example.org", "other@example.org"}, []byte(msg)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(bodies) {
		t.Fatalf("got %d files %v, want %d", len(files), files, len(bodies))
	}
	for i, f := range files {
		if got, want := filepath.Base(f), []string{"000001.eml", "000002.eml", "000003.eml"}[i]; got != want {
			t.Errorf("file %d is %s, want %s", i, got, want)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, want := range []string{
			"X-Mailsink-From: am@example.org\r\n",
			"X-Mailsink-To: owner@example.org, other@example.org\r\n",
			"Subject: n" + string(rune('1'+i)) + "\r\n",
			bodies[i],
		} {
			if !strings.Contains(s, want) {
				t.Errorf("%s lacks %.40q", f, want)
			}
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".incoming-*")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestTooLargeIsRefusedAndNothingWritten(t *testing.T) {
	addr, dir := startSink(t, 1000)
	msg := "Subject: big\r\n\r\n" + strings.Repeat("x", 900) + "\r\n" + strings.Repeat("y", 900) + "\r\n"
	err := smtp.SendMail(addr, nil, "am@example.org", []string{"owner@example.org"}, []byte(msg))
	if err == nil {
		t.Fatal("a message over -max-bytes was accepted")
	}
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Errorf("files written for a refused message: %v", files)
	}
}
