package backuprun

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Redacted replaces a secret in messages and log lines.
const Redacted = "[redacted]"

// minSecretLen is the shortest value scrubbed: replacing every "ab" in a
// log would destroy it, and a value that short protects nothing anyway.
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

// Scrubber removes known secret values from text.
type Scrubber struct {
	r       *strings.Replacer
	secrets []string
}

// urlPassword finds the password of credentials in a URL, as in
// rest:https://user:password@host/ or s3:https://key:secret@host.
var urlPassword = regexp.MustCompile(`://[^/@:\s]*:([^/@\s]+)@`)

// NewScrubber collects the secrets in env (KEY=value pairs): the values of
// secret-looking variables, the content of *PASSWORD_FILE files, passwords
// in URLs of any variable, and those of args (URLs, --password-file), plus
// any extra values.
func NewScrubber(env, args []string, extra ...string) *Scrubber {
	set := map[string]bool{}
	addMin := func(v string, minLen int) {
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
	add := func(v string) { addMin(v, minSecretLen) }
	addURLs := func(v string) {
		for _, m := range urlPassword.FindAllStringSubmatch(v, -1) {
			add(m[1])
		}
	}
	addFile := func(path string) {
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<10 {
			return
		}
		if b, err := os.ReadFile(path); err == nil {
			add(string(b))
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
			addMin(value, minGuessedLen)
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
	return &Scrubber{r: strings.NewReplacer(pairs...), secrets: secrets}
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
	// Most lines hold no secret: a search per secret is far quicker than
	// the replacer's generic matching.
	for _, secret := range s.secrets {
		if strings.Contains(text, secret) {
			return s.r.Replace(text)
		}
	}
	return text
}
