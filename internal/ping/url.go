// Package ping tells an outside checker (healthchecks, Uptime Kuma) that a
// run started and how it ended, over a path that shares nothing with the
// store, the exporter or Alertmanager. A checker that is down or slow
// costs a bounded time and a log warning, never the run's outcome.
package ping

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Kinds of checker.
const (
	// Healthchecks is healthchecks' ping API (healthchecks.io or self-hosted):
	// POST <url>/start, <url>, <url>/fail, with ?rid=.
	Healthchecks = "healthchecks"
	// UptimeKuma is Uptime Kuma's push monitor: GET <push url>?status=up|down&msg=&ping=.
	UptimeKuma = "uptime-kuma"
)

// Kinds are the kinds a flag or the config file may name.
var Kinds = []string{Healthchecks, UptimeKuma}

// CheckKind refuses a kind that is not one of Kinds.
func CheckKind(kind string) error {
	for _, k := range Kinds {
		if kind == k {
			return nil
		}
	}
	return fmt.Errorf("ping kind %q: must be %s", kind, strings.Join(Kinds, " or "))
}

// CheckURL refuses a ping URL that is not an absolute http(s) URL with a
// host, or that holds credentials. Its errors never quote the URL: it is a
// capability, anyone holding it can tell the checker all is well.
func CheckURL(raw string) error {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return errors.New("ping URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the URL.
		return errors.New("ping URL cannot be parsed as a URL")
	}
	switch {
	case u.Scheme == "file" || (u.Scheme == "" && (strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "."))):
		return errors.New("ping URL points at a file, not an http(s) checker (a file holding the URL is --ping.url-file)")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("ping URL must be http or https, not %q", u.Scheme)
	case u.User != nil:
		return errors.New("ping URL holds credentials (user:password@): the checker's URL is the credential, give it without them")
	case u.Host == "" || u.Opaque != "":
		return errors.New("ping URL has no host")
	case u.Fragment != "":
		return errors.New("ping URL has a fragment (#...), which is never sent")
	}
	return nil
}

// maxURLFile bounds a URL file: one line.
const maxURLFile = 8 << 10

// ReadURLFile reads and checks the ping URL held by the file at path: its
// first line, surrounding space trimmed.
func ReadURLFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("read ping URL file: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxURLFile {
		return "", fmt.Errorf("read ping URL file %s: not a regular file of at most %d bytes", path, maxURLFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read ping URL file: %w", err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	line = strings.TrimSpace(line)
	if err := CheckURL(line); err != nil {
		return "", fmt.Errorf("ping URL file %s: %w", path, err)
	}
	return line, nil
}

// Secrets are the forms of a ping URL to scrub: the URL and its path (the
// check's UUID, or the project's ping key and slug), which is what is
// secret in it.
func Secrets(raw string) []string {
	out := []string{strings.TrimSpace(raw)}
	if u, err := url.Parse(strings.TrimSpace(raw)); err == nil {
		if p := strings.Trim(u.Path, "/"); len(p) >= 8 {
			out = append(out, p)
		}
		if q := u.RawQuery; len(q) >= 8 {
			out = append(out, q)
		}
	}
	return out
}
