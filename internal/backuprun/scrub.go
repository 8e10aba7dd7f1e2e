package backuprun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Redacted replaces a secret in messages and log lines.
const Redacted = "[redacted]"

// minSecretLen is the shortest value scrubbed: replacing every "ab" in a
// log would destroy it, and a value that short protects nothing anyway: it
// is guessed at once. Vault tokens and AppRole secret ids are far longer.
// Variables that are secret only by the look of their name need a longer
// value, so that FOO_TOKEN_ENABLED=true does not scrub every "true".
const (
	minSecretLen  = 4
	minGuessedLen = 6
)

// notSecrets are values of secret-looking variables that are settings.
var notSecrets = map[string]bool{"true": true, "false": true, "enabled": true, "disabled": true, "required": true, "optional": true}

// secretNames are environment variables whose value is a secret, by exact
// name; secretParts are parts of names that mark one.
var (
	secretNames = map[string]bool{
		"RESTIC_PASSWORD": true, "RESTIC_PASSWORD_COMMAND": true,
		"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true,
		"B2_ACCOUNT_KEY": true, "AZURE_ACCOUNT_KEY": true, "AZURE_ACCOUNT_SAS": true,
		"OS_PASSWORD": true, "ST_KEY": true, "VAULT_TOKEN": true,
	}
	secretParts = []string{"PASSWORD", "PASSWD", "PASSPHRASE", "TOKEN", "SECRET", "CREDENTIAL", "PRIVATE"}
)

// IsSecretName reports whether the environment variable name holds a
// secret: RESTIC_PASSWORD, cloud keys, GOOGLE_*, *_PASSWORD, *_TOKEN,
// *_SECRET*, *_KEY, *_PASS (rclone)... Names ending in _FILE hold a path, not a secret (the
// file's content is scrubbed instead, see NewScrubber).
func IsSecretName(name string) bool {
	n := strings.ToUpper(name)
	if secretNames[n] {
		return true
	}
	if strings.HasSuffix(n, "_FILE") || n == "GOOGLE_APPLICATION_CREDENTIALS" {
		return false
	}
	if strings.HasPrefix(n, "GOOGLE_") {
		return true
	}
	for _, p := range secretParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	return n == "KEY" || strings.HasSuffix(n, "_KEY") || strings.HasSuffix(n, "_PASS") || strings.Contains(n, "_KEY_") || strings.HasSuffix(n, "_SAS")
}

// Scrubber removes known secret values from text. It is safe for
// concurrent use: a child's two streams are scrubbed while the store logs
// in again and adds the token it got (Add).
type Scrubber struct {
	mu    sync.Mutex // serialises Add
	state atomic.Pointer[scrubState]
}

// scrubState is one immutable set of secrets, replaced whole by Add.
type scrubState struct {
	set     map[string]bool // every form scrubbed, originals and escaped
	secrets []string        // the same, longest first
	r       *strings.Replacer
}

// urlPassword finds the password of credentials in a URL, as in
// rest:https://user:password@host/ or s3:https://key:secret@host.
var urlPassword = regexp.MustCompile(`://[^/@:\s]*:([^/@\s]+)@`)

// NewScrubber collects the secrets in env (KEY=value pairs): the values of
// secret-looking variables, the content of *PASSWORD_FILE files, passwords
// in URLs of any variable, and those of args (URLs, --password-file), plus
// any extra values. More can be added later with Add.
func NewScrubber(env, args []string, extra ...string) *Scrubber {
	set := map[string]bool{}
	add := func(v string) { addSecret(set, v, minSecretLen) }
	addURLs := func(v string) {
		for _, m := range urlPassword.FindAllStringSubmatch(v, -1) {
			add(m[1])
		}
	}
	addFile := func(path string) {
		if b, ok := readSmallFile(path); ok {
			add(b)
		}
	}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || value == "" {
			continue
		}
		n := strings.ToUpper(name)
		switch {
		case secretNames[n]:
			add(value)
		case IsSecretName(name):
			addSecret(set, value, minGuessedLen)
		case strings.HasSuffix(n, "_FILE") && (strings.Contains(n, "PASSWORD") || strings.Contains(n, "TOKEN") || strings.Contains(n, "SECRET")):
			addFile(value)
		}
		addURLs(value)
	}
	for i, a := range args {
		addURLs(a)
		switch {
		case (a == "--password-file" || a == "-p") && i+1 < len(args):
			addFile(args[i+1])
		case strings.HasPrefix(a, "--password-file="):
			addFile(strings.TrimPrefix(a, "--password-file="))
		}
	}
	for _, v := range extra {
		add(v)
	}
	s := &Scrubber{}
	s.state.Store(newScrubState(set))
	return s
}

// Add scrubs values from now on: secrets learned after the scrubber was
// made, such as the token a Vault login returned or the secret id read
// from its file. Each line of a value is a secret of its own; lines
// shorter than a few characters are not (see minSecretLen). Adding a
// known value costs a map lookup, a new one rebuilds the scrubber.
func (s *Scrubber) Add(values ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.state.Load()
	var set map[string]bool
	for _, v := range values {
		found := map[string]bool{}
		addSecret(found, v, minSecretLen)
		for f := range found {
			if old.set[f] || set[f] {
				continue
			}
			if set == nil {
				set = maps.Clone(old.set)
			}
			set[f] = true
		}
	}
	if set != nil {
		s.state.Store(newScrubState(set))
	}
}

// addSecret adds each line of v that is long enough, and its URL-decoded
// form, to set.
func addSecret(set map[string]bool, v string, minLen int) {
	for _, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(line)
		if len(line) >= minLen && !notSecrets[strings.ToLower(line)] {
			set[line] = true
			if u, err := url.QueryUnescape(line); err == nil && len(u) >= minLen {
				set[u] = true
			}
		}
	}
}

// readSmallFile reads a regular file of at most 64 KiB: a secret, not
// whatever a variable happens to name.
func readSmallFile(path string) (string, bool) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<10 {
		return "", false
	}
	b, err := os.ReadFile(path)
	return string(b), err == nil
}

// newScrubState adds the JSON forms of the secrets in set (which it
// keeps) and builds the replacer.
func newScrubState(set map[string]bool) *scrubState {
	secrets := make([]string, 0, 2*len(set))
	for s := range set {
		secrets = append(secrets, s)
	}
	// restic's --json messages escape what JSON escapes (", \, control
	// characters, and <, > and & as \u003c...): a secret holding one of
	// those appears there escaped, and is scrubbed in that form too, or
	// it would pass through and be decoded back by whoever reads the JSON.
	for _, s := range secrets { // the originals: range reads the slice once
		for _, esc := range jsonForms(s) {
			if !set[esc] {
				set[esc] = true
				secrets = append(secrets, esc)
			}
		}
	}
	// Longest first, so a secret that contains another is replaced whole.
	sort.Slice(secrets, func(i, j int) bool {
		if len(secrets[i]) != len(secrets[j]) {
			return len(secrets[i]) > len(secrets[j])
		}
		return secrets[i] < secrets[j]
	})
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, Redacted)
	}
	return &scrubState{set: set, secrets: secrets, r: strings.NewReplacer(pairs...)}
}

// jsonForms are s as it appears inside a JSON string, with and without
// HTML escaping, when that differs from s.
func jsonForms(s string) []string {
	var forms []string
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(s) != nil {
			continue
		}
		q := strings.TrimSuffix(b.String(), "\n")
		if f := q[1 : len(q)-1]; f != s && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return forms
}

// Scrub returns s with every known secret replaced by Redacted.
func (s *Scrubber) Scrub(text string) string {
	if s == nil {
		return text
	}
	st := s.state.Load()
	// Most lines hold no secret: a search per secret is far quicker than
	// the replacer's generic matching.
	for _, secret := range st.secrets {
		if strings.Contains(text, secret) {
			return st.r.Replace(text)
		}
	}
	return text
}

// Handler wraps h so that backupwatch's own log lines are scrubbed too:
// the message and every string, error or Stringer value, in groups and in
// attributes bound with With.
func (s *Scrubber) Handler(h slog.Handler) slog.Handler {
	return &scrubHandler{h: h, s: s}
}

type scrubHandler struct {
	h slog.Handler
	s *Scrubber
}

func (h *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	c := slog.NewRecord(r.Time, r.Level, h.s.Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		c.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, c)
}

func (h *scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = h.attr(a)
	}
	return &scrubHandler{h: h.h.WithAttrs(clean), s: h.s}
}

func (h *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{h: h.h.WithGroup(name), s: h.s}
}

func (h *scrubHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.s.Scrub(v.String()))
	case slog.KindGroup:
		as := v.Group()
		clean := make([]any, len(as))
		for i, g := range as {
			clean[i] = h.attr(g)
		}
		return slog.Group(a.Key, clean...)
	case slog.KindAny:
		var text string
		switch x := v.Any().(type) {
		case error, fmt.Stringer:
			text = fmt.Sprint(x) // as the handler would print it, a nil pointer included
		default:
			return slog.Attr{Key: a.Key, Value: v}
		}
		if clean := h.s.Scrub(text); clean != text {
			return slog.String(a.Key, clean)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
