package exporter

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/golemtrust/backupwatch/internal/status"
)

// ValidateExternalURL accepts "" or an absolute http(s) URL without
// credentials, query or fragment: it is put in a label and in every alert
// text, so it must be a plain link and never carry a secret.
func ValidateExternalURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a URL: %q", status.Truncate(s, 80))
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("want an absolute http:// or https:// URL, not %q", status.Truncate(s, 80))
	case u.User != nil:
		return errors.New("must not hold a user name or password: it is shown in every alert")
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return fmt.Errorf("must not have a query or fragment: %q", status.Truncate(s, 80))
	case len(s) > 512:
		return fmt.Errorf("longer than 512 bytes")
	}
	return nil
}
