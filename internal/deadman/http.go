package deadman

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// MaxBody bounds a heartbeat's body: Alertmanager's payload for the
// Watchdog's one alert is a few kilobytes.
const MaxBody = 256 << 10

// maxSenderLen bounds a sender's name.
const maxSenderLen = 256

// Rejection reasons, the reason label of
// backupwatch_deadman_heartbeats_rejected_total.
const (
	reasonTooLarge      = "too_large"
	reasonBadJSON       = "bad_json"
	reasonResolved      = "resolved"
	reasonUnknownSender = "unknown_sender"
	reasonBadSender     = "bad_sender"
	reasonMethod        = "method"
)

// webhook is what is read of Alertmanager's webhook payload.
type webhook struct {
	Version     string `json:"version"`
	Status      string `json:"status"`
	ExternalURL string `json:"externalURL"`
}

// ServeHTTP takes a heartbeat at POST or GET /heartbeat. Its sender is the
// sender query parameter or, for Alertmanager's webhook JSON, the
// externalURL it carries (each member of a cluster has its own). The work
// per request is bounded: a body of at most MaxBody, three fields decoded,
// one map update; the state is written by Run, not per request.
func (s *Switch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		s.reject(reasonMethod, r.Method)
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "a heartbeat is a POST or a GET", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.reject(reasonTooLarge, fmt.Sprintf("a body over %d bytes", MaxBody))
			http.Error(w, fmt.Sprintf("a heartbeat's body is at most %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	name := r.URL.Query().Get("sender")
	if isJSON(r, body) {
		var p webhook
		if err := json.Unmarshal(body, &p); err != nil {
			s.reject(reasonBadJSON, err.Error())
			http.Error(w, "the body is not Alertmanager's webhook JSON (send a plain POST or GET for a heartbeat without one)", http.StatusBadRequest)
			return
		}
		if p.Status == "resolved" {
			// The Watchdog resolved: its Prometheus stopped sending it.
			// Answered 200 so that Alertmanager does not retry it.
			s.reject(reasonResolved, "the watchdog resolved: its Prometheus stopped sending it")
			fmt.Fprintln(w, "not a heartbeat: the watchdog alert resolved")
			return
		}
		if name == "" {
			name = p.ExternalURL
		}
	}
	key, err := normaliseSender(name)
	if err != nil {
		s.reject(reasonBadSender, err.Error())
		http.Error(w, "bad sender: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !s.Heartbeat(key) {
		s.reject(reasonUnknownSender, fmt.Sprintf("sender %q is not one of --sender", key))
		http.Error(w, "unknown sender: not one of deadman's --sender", http.StatusForbidden)
		return
	}
	fmt.Fprintln(w, "ok")
}

// isJSON says whether a body is meant as JSON: by its content type, or,
// without one, by its first character.
func isJSON(r *http.Request, body []byte) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		return mt == "application/json"
	}
	b := bytes.TrimSpace(body)
	return len(b) > 0 && b[0] == '{'
}

// normaliseSender makes the names by which one sender is known the same
// (a URL with or without its trailing slash) and never keeps credentials
// of a URL.
func normaliseSender(name string) (string, error) {
	name = strings.TrimSpace(name)
	if len(name) > maxSenderLen {
		return "", fmt.Errorf("longer than %d bytes", maxSenderLen)
	}
	if strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", errors.New("holds a control character")
	}
	if u, err := url.Parse(name); err == nil && u.Scheme != "" && u.Host != "" {
		u.User = nil
		u.RawQuery, u.Fragment = "", ""
		name = u.String()
	}
	return strings.TrimRight(name, "/"), nil
}
