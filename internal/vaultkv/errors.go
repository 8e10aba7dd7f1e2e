package vaultkv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Error is a failed store operation, phrased for an operator:
// "write kv/golemtrust/backup-status/db: permission denied".
// It never carries a token or secret id.
type Error struct {
	Op     string // read, write, list, delete, login, detect KV version of
	Path   string
	Reason string
	Kind   Kind
	Err    error
}

// Kind sorts failures by what the operator must do about them.
type Kind int

const (
	KindOther       Kind = iota
	KindUnreachable      // network, TLS or timeout
	KindSealed
	KindDenied // permission denied, bad or expired credentials
	KindNotFound
)

func (e *Error) Error() string { return e.Op + " " + e.Path + ": " + e.Reason }
func (e *Error) Unwrap() error { return e.Err }

// IsUnavailable reports whether err means the store could not be reached or
// could not serve (as opposed to refusing the request on its merits).
func IsUnavailable(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Kind == KindUnreachable || e.Kind == KindSealed)
}

func (s *Store) wrap(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	kind, reason := classify(err, s.address)
	return &Error{Op: op, Path: path, Reason: reason, Kind: kind, Err: err}
}

// classify turns a client error into a short reason. Server messages are
// safe to show (Vault never echoes tokens); URLs are reduced to the
// address, and no reason holds the credentials of a URL (the client's own
// errors quote its requests' URLs, user information included).
func classify(err error, addr string) (Kind, string) {
	kind, reason := classifyRaw(err, addr)
	return kind, redactURLs(reason)
}

func classifyRaw(err error, addr string) (Kind, string) {
	var re *api.ResponseError
	if errors.As(err, &re) {
		msgs := strings.Join(re.Errors, "; ")
		switch {
		case re.StatusCode == 403:
			return KindDenied, "permission denied"
		case re.StatusCode == 404:
			return KindNotFound, "not found"
		case re.StatusCode == 503 && strings.Contains(msgs, "sealed"):
			return KindSealed, "vault at " + addr + " is sealed"
		case re.StatusCode == 500 && strings.Contains(msgs, "value being too large"):
			// Raft storage's entry size limit: no other node and no later
			// try will take it, so it is refused for good, not spooled.
			return KindOther, "vault refused it as too large: " + clip(msgs)
		case re.StatusCode >= 500:
			return KindUnreachable, fmt.Sprintf("vault at %s answered %d: %s", addr, re.StatusCode, clip(msgs))
		default:
			return KindOther, fmt.Sprintf("vault answered %d: %s", re.StatusCode, clip(msgs))
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindUnreachable, "vault at " + addr + " did not answer in time"
	}
	if errors.Is(err, context.Canceled) {
		return KindOther, "cancelled"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		var oe *net.OpError
		if errors.As(ue.Err, &oe) {
			return KindUnreachable, "vault unreachable at " + addr + ": " + oe.Err.Error()
		}
		if ue.Timeout() {
			return KindUnreachable, "vault at " + addr + " did not answer in time"
		}
		return KindUnreachable, "vault unreachable at " + addr + ": " + clip(ue.Err.Error())
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return KindUnreachable, "vault unreachable at " + addr + ": " + oe.Err.Error()
	}
	msg := err.Error()
	if strings.Contains(msg, "giving up after") || strings.Contains(msg, "connection refused") {
		return KindUnreachable, "vault unreachable at " + addr + ": " + clip(msg)
	}
	return KindOther, clip(msg)
}

func clip(s string) string {
	const n = 300
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
