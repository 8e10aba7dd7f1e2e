package heartbeat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestReadHostileAnswers: whatever answers at the switch's URL, a read
// ends in bounded time and memory with a clear state, and a sender's name
// is one bounded line.
func TestReadHostileAnswers(t *testing.T) {
	long := strings.Repeat("x", 5000)
	good := "# TYPE backupwatch_deadman_judging gauge\nbackupwatch_deadman_judging 1\n" +
		"backupwatch_deadman_timeout_seconds 600\n" +
		"backupwatch_deadman_sender_silent{sender=\"<script>alert(1)</script>\\nline two\u202e\"} 1\n" +
		"backupwatch_deadman_sender_silent{sender=\"" + long + "\"} 0\n" +
		"backupwatch_deadman_last_heartbeat_timestamp_seconds{sender=\"" + long + "\"} 1.7653e9\n" +
		"backupwatch_deadman_last_heartbeat_timestamp_seconds{sender=\"<script>alert(1)</script>\\nline two\u202e\"} NaN\n"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		verdict string
		want    string // in the error
	}{
		{"hostile names", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(good)) }, Partial, ""},
		{"not metrics", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>login</html>")) }, Unreachable, "not Prometheus' text format"},
		{"another exporter", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("up 1\n")) }, Unreachable, "not a backupwatch deadman"},
		{"huge", func(w http.ResponseWriter, r *http.Request) {
			chunk := []byte("# " + strings.Repeat("y", 1<<16) + "\n")
			for range 40 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, Unreachable, "larger than"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.example/", http.StatusFound)
		}, Unreachable, "302"},
		{"hangs", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, Unreachable, "deadline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			rd, err := NewReader(srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			st := rd.Read(context.Background())
			if st.Verdict() != tc.verdict || !strings.Contains(st.Err, tc.want) {
				t.Fatalf("%s %q, want %s with %q", st.Verdict(), st.Err, tc.verdict, tc.want)
			}
			if utf8.RuneCountInString(st.Err) > 301 || strings.ContainsAny(st.Err, "\n\r") {
				t.Errorf("the error is not one bounded line: %q", st.Err)
			}
			for _, s := range st.Senders {
				if n := utf8.RuneCountInString(s.Name); n > MaxName+1 || strings.ContainsAny(s.Name, "\n\r\u202e") {
					t.Errorf("sender name not one bounded line (%d runes): %q", n, s.Name)
				}
			}
			if tc.name == "hostile names" {
				if len(st.Senders) != 2 || st.Senders[0].Name != "<script>alert(1)</script> line two" || !st.Senders[0].Last.IsZero() || st.Senders[1].Last.IsZero() {
					t.Errorf("senders read as %+v", st.Senders)
				}
			}
		})
	}
}

// FuzzParse: any answer parses or fails, never panics, and every name
// kept is one bounded line.
func FuzzParse(f *testing.F) {
	f.Add([]byte("backupwatch_deadman_judging 1\nbackupwatch_deadman_sender_silent{sender=\"a\"} 1\n"))
	f.Add([]byte("backupwatch_deadman_judging 0\nbackupwatch_deadman_last_heartbeat_timestamp_seconds{sender=\"a\\n\"} -1e308\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var st State
		if err := parse(b, &st); err != nil {
			return
		}
		for _, s := range st.Senders {
			if utf8.RuneCountInString(s.Name) > MaxName+1 || strings.ContainsAny(s.Name, "\n\r") {
				t.Errorf("name %q", s.Name)
			}
		}
	})
}
