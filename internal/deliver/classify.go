package deliver

import (
	"context"
	"errors"

	"github.com/hashicorp/vault/api"

	"github.com/golemtrust/backupwatch/internal/spool"
	"github.com/golemtrust/backupwatch/internal/vaultkv"
)

// classifier sorts delivery errors: what can pass later is spooled (the
// store unreachable, sealed, timing out, a 5xx or 429, a login or token
// problem that new credentials fix); what the store refuses on its merits
// is refused for good (a 4xx with a working token, a path the token's
// policy does not allow, a mount that is not KV).
func (d *Deliverer) classifier(ctx context.Context) func(error) spool.Verdict {
	return func(err error) spool.Verdict { return d.classify(ctx, err) }
}

func (d *Deliverer) classify(ctx context.Context, err error) spool.Verdict {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return spool.Refused
	}
	var ve *vaultkv.Error
	if !errors.As(err, &ve) {
		return spool.Later // not the store's answer: a lock, a cancelled context
	}
	if ve.Kind == vaultkv.KindUnreachable || ve.Kind == vaultkv.KindSealed {
		return spool.Down
	}
	if ve.Op == "log in with" {
		return spool.Down // credentials to replace: nothing passes until then
	}
	var re *api.ResponseError
	if !errors.As(err, &re) {
		if ve.Op == "detect KV version of" && ve.Kind == vaultkv.KindOther && ve.Err == nil {
			return spool.Refused // not a KV mount: no result can ever be written there
		}
		return spool.Later
	}
	switch code := re.StatusCode; {
	case code == 429:
		return spool.Down
	case code == 408 || code == 412 || code >= 500:
		return spool.Later
	case code == 403:
		tc, ok := d.st.(tokenChecker)
		if !ok {
			return spool.Refused
		}
		if terr := tc.TokenValid(ctx); terr != nil {
			return spool.Down // the token no longer works: every write is denied
		}
		return spool.Refused
	case code >= 400:
		return spool.Refused
	}
	return spool.Later
}

// asRefused gives a refusal its reason.
func asRefused(err error) error {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return err
	}
	reason := ""
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == 403 {
		reason = "the token works, but its policy does not allow this path"
	}
	return &RefusedError{Err: err, Reason: reason}
}

// credentialsRefused reports whether err is the store refusing the
// credentials themselves: a login denied, or a denial with a token that
// no longer works.
func (d *Deliverer) credentialsRefused(ctx context.Context, err error) bool {
	var ve *vaultkv.Error
	if !errors.As(err, &ve) || ve.Kind == vaultkv.KindUnreachable || ve.Kind == vaultkv.KindSealed {
		return false
	}
	if ve.Op == "log in with" {
		return ve.Kind == vaultkv.KindDenied
	}
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 403 {
		return false
	}
	tc, ok := d.st.(tokenChecker)
	if !ok {
		return false
	}
	terr := tc.TokenValid(ctx)
	var te *vaultkv.Error
	return terr != nil && errors.As(terr, &te) && te.Kind == vaultkv.KindDenied
}
