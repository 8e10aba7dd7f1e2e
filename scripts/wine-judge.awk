# wine-judge.awk reads `go test -test.v` output of a Windows test binary run
# under wine and prints the tests that failed for a reason of their own.
# A test whose only failure is t.TempDir's cleanup failing with "Invalid
# function" passed: Go 1.26's os.RemoveAll deletes with
# FileDispositionInformationEx, which wine 8.0 (Debian 12) answers with
# STATUS_INVALID_DEVICE_REQUEST instead of a status Go falls back on.
# Exits 1 when any test failed for a reason of its own, or none ran.
/^=== (RUN|CONT) / { cur = $3; ran++ ; next }
/^ +[A-Za-z0-9_]+\.go:[0-9]+: / {
	if ($0 ~ /TempDir RemoveAll cleanup: .*Invalid function/) next
	n = split(cur, parts, "/"); p = ""
	for (i = 1; i <= n; i++) { p = (i == 1 ? parts[1] : p "/" parts[i]); real[p] = 1 }
	msg[cur] = msg[cur] "\n" $0
	next
}
/^ *--- FAIL: / { if (real[$3]) { failed++; print "FAIL " $3 msg[$3] } }
/^panic: / { failed++; print }
END {
	if (!ran) { print "no test ran"; exit 1 }
	exit failed > 0
}
