package nudge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golemtrust/backupwatch/internal/status"
)

func TestHandler(t *testing.T) {
	var got []string
	h := Handler(func(client string, id status.JobID) bool {
		got = append(got, client+" "+id.Host+"@"+id.Job)
		return id.Host != "full"
	})
	for _, tc := range []struct {
		method, remote, query string
		want                  int
		nudged                string
	}{
		{"POST", "192.0.2.1:5000", "host=db", http.StatusAccepted, "192.0.2.1 db@"},
		{"POST", "192.0.2.1:5000", "host=db&job=files", http.StatusAccepted, "192.0.2.1 db@files"},
		{"POST", "192.0.2.1:5000", "host=restore-test&job=weekly", http.StatusAccepted, "192.0.2.1 restore-test@weekly"},
		{"POST", "[2001:db8:1:2:3::4]:5000", "host=db", http.StatusAccepted, "2001:db8:1:2::/64 db@"},
		{"POST", "[::ffff:192.0.2.9]:5000", "host=db", http.StatusAccepted, "192.0.2.9 db@"},
		{"POST", "192.0.2.1:5000", "host=full", http.StatusServiceUnavailable, "192.0.2.1 full@"},
		{"POST", "192.0.2.1:5000", "host=db&job=a%2Fb", http.StatusBadRequest, ""},
		{"POST", "192.0.2.1:5000", "host=", http.StatusBadRequest, ""},
		{"POST", "192.0.2.1:5000", "job=files", http.StatusBadRequest, ""},
		{"GET", "192.0.2.1:5000", "host=db", http.StatusMethodNotAllowed, ""},
	} {
		got = nil
		r := httptest.NewRequest(tc.method, Path+"?"+tc.query, nil)
		r.RemoteAddr = tc.remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want || strings.Join(got, ",") != tc.nudged {
			t.Errorf("%s %s from %s: %d, nudged %q; want %d, %q", tc.method, tc.query, tc.remote, w.Code, got, tc.want, tc.nudged)
		}
	}
}

func TestParseBasicAuth(t *testing.T) {
	const secret = "pa:ss:word"
	for _, tc := range []struct {
		in       string
		user, pw string
		err      string
	}{
		{"ops:" + secret + "\n", "ops", secret, ""},
		{"ops:" + secret + "\r\n", "ops", secret, ""},
		{"ops", "", "", "no ':'"},
		{":" + secret, "", "", "user name"},
		{"ops:", "", "", "password"},
		{"ops:" + secret + "\nmore\n", "", "", "several lines"},
	} {
		a, err := ParseBasicAuth(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), secret) {
				t.Errorf("%q: err %v, want %q without the password", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || a.Username != tc.user || a.Password != tc.pw {
			t.Errorf("%q: %q %v", tc.in, a.Username, err)
		}
		if strings.Contains(a.String(), secret) {
			t.Errorf("BasicAuth.String shows the password: %s", a)
		}
	}
}

func TestValidateURLs(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{"http://metrics:10036, https://metrics2:10036/", ""},
		{"ftp://x", "want http://HOST:PORT"},
		{"https://ops:hunter2@metrics:10036", "--exporter.basic-auth-file"},
		{"http://x:1/?a=b", "no query"},
		{"http://ops:hunter2@x:1/%zz", "not a URL"},
	} {
		err := ValidateURLs(tc.in)
		if (tc.err == "") != (err == nil) || err != nil && (!strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "hunter2")) {
			t.Errorf("%q: %v, want %q and never the password", tc.in, err, tc.err)
		}
	}
}

func TestQuery(t *testing.T) {
	if got := Query(status.JobID{Host: "db"}); got != "host=db" {
		t.Errorf("Query(db) = %q", got)
	}
	if got := Query(status.JobID{Host: "db", Job: "files"}); got != "host=db&job=files" {
		t.Errorf("Query(db files) = %q", got)
	}
}
