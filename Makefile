# backupwatch: `make run` starts it on the embedded store, `make test` runs
# every test (installing what the tests need first), `make bench` measures.
GO        ?= go
BIN       := bin/backupwatch
STORE_DIR ?= $(CURDIR)/data/records
export BACKUPWATCH_VAULTDEV := $(CURDIR)/bin/vaultdev
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
VPKG      := github.com/prometheus/common/version
LDFLAGS   := -X $(VPKG).Version=$(VERSION) \
             -X $(VPKG).Revision=$(shell git rev-parse HEAD 2>/dev/null) \
             -X $(VPKG).Branch=$(shell git rev-parse --abbrev-ref HEAD 2>/dev/null) \
             -X $(VPKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

.PHONY: release test-release test-cross all build run test test-rest deps-e2e test-others test-e2e test-units test-go test-race test-tools test-deb test-windows cross deps deb lint bench clean fuzz histories

all: build

# Static, as the release (CGO_ENABLED=0): the binary a user builds is the
# one released and packaged, and runs on any libc.
build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/backupwatch

# Says what it does before building: the first build downloads and
# compiles the dependencies, minutes without a word otherwise.
run:
	@echo "make run: building $(BIN) (the first time, Go downloads and compiles the dependencies: a few minutes)..."
	@$(MAKE) --no-print-directory build
	mkdir -p $(STORE_DIR)
	@echo "make run: serving the local store $(STORE_DIR) at http://localhost:10036/"
	@echo "  (a record written there shows within a second; the page reloads itself every minute). Record into it with:"
	@echo "  $(BIN) --store.dir=$(STORE_DIR) record --status success --host db"
	$(BIN) --store.dir=$(STORE_DIR) serve

# Debian's packages (apt-get) and the current upstream releases, built with
# `go install` into tools/bin/ (git-ignored), each pinned in the script and
# built only when missing or bumped. See docs/development.md.
deps:
	./scripts/install-deps.sh

# The Debian package, built with nfpm (tools/deb, its own module), into
# $(DEB_DIR). `make test-deb` (root) installs, checks and purges it.
DEB_DIR ?= dist
deb: build
	cd tools/deb && GOWORK=off $(GO) run -mod=readonly . -root $(CURDIR) \
	  -binary $(abspath $(BIN)) -version '$(VERSION)' \
	  -date '$(shell git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null)' -out $(abspath $(DEB_DIR))

include tools/vaultdev/vaultdev.mk

# The e2e package, the longest (it mostly waits for scaled timings), starts
# as soon as its parts exist: Debian's packages, Vault and the current
# Prometheus, Alertmanager and node_exporter, built side by side (their
# downloads wait on the network while the other compiles). Beside it, the
# rest: the other current tools (restic, promtool), lint, then every other
# package's tests beside test-others, which runs in order. The suite holds
# with a CPU hog beside it (issue 24).
#
# The e2e package is the longest chain, and its scenarios wait on scaled
# timings: the rest runs at a lower priority (REST_NICE) and takes the CPU
# the scenarios leave, rather than stretching them (on a bare 2-core
# machine the e2e package took 1,700 s beside the rest, about 1,000 alone).
# Everything make test compiles is compiled one way, the release's
# (CGO_ENABLED=0, -trimpath): the tests, Vault, the current tools, the
# Windows tests and the release share one build of each package (and of
# the standard library) instead of compiling it again per flag set; the
# race detector needs cgo (test-race sets it). GOGC=400: the compilers,
# Prometheus, promtool and Vault collect garbage a quarter as often, for
# memory a 2-core test machine has: 12% less CPU for a build, 16-22% for
# promtool's rule tests.
REST_NICE ?= nice -n 5
test: export CGO_ENABLED := 0
test: export GOFLAGS := $(strip $(GOFLAGS) -trimpath)
test: export GOGC := 400
test:
	$(MAKE) -j2 deps-e2e vaultdev
	$(MAKE) -j3 test-e2e test-rest

test-rest:
	$(REST_NICE) $(MAKE) deps
	$(REST_NICE) $(MAKE) lint
	$(REST_NICE) $(MAKE) test-units test-others

# What the e2e package runs: Debian's packages and the current generation
# of the services it starts (make deps builds the rest).
deps-e2e:
	DEPS_GO_ONLY="prometheus alertmanager amtool node_exporter" DEPS_SKIP_NODE=1 ./scripts/install-deps.sh

test-others: test-cross test-windows test-race fuzz test-tools test-release

# test-go's two halves, for make test: the e2e package (the longest, and
# mostly waiting) from the start rather than whenever go test's two package
# slots come to it, and every other package beside it.
# E2EFLAGS: more go test flags for the e2e package (-v: each scenario's
# phases and its time); UNITFLAGS: for the others.
test-e2e:
	$(GO) test -count=1 -timeout 45m $(E2EFLAGS) ./e2e/
# The packages of test-race run there only: the same tests, under the race
# detector, once.
test-units:
	$(GO) test -count=1 -timeout 45m $(UNITFLAGS) $$($(GO) list ./... | grep -v '/e2e$$' | grep -vxF $(foreach p,$(RACE_PKGS),-e $(MODULE)/$(patsubst ./%/,%,$(p))))

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# The e2e package takes about 16 minutes on 2 cores with the rest of make
# test below it (its stacks, six at a time, mostly wait for scaled timings;
# the harness starts the long scenarios, TestHA's 10 minutes,
# TestInboxFlapping's 8 and TestInboxEscalationDay's 7, first); 45m leaves
# room for a loaded machine.
test-go:
	$(GO) test -count=1 -timeout 45m ./...

# The packages that run things concurrently, under the race detector
# (make test runs their tests here only: test-units leaves them out).
MODULE    := $(shell awk '$$1 == "module" { print $$2 }' go.mod)
RACE_PKGS := ./internal/vaultkv/ ./internal/fleet/ ./internal/collector/ \
  ./internal/localstore/ ./internal/spool/ ./internal/backuprun/ ./internal/restoretest/ ./internal/web/ ./internal/inflight/ \
  ./internal/deadman/ ./internal/ping/
test-race:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 45m $(UNITFLAGS) $(RACE_PKGS)

# The parsers of outside input, fuzzed FUZZTIME each (their seeds run in
# every `go test`): records as any tool wrote them, spool files, restic's
# JSON lines, deadman's heartbeats. A crash is saved under the package's testdata/fuzz/ and then
# replayed by `go test` until fixed.
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRecord$$' -fuzztime $(FUZZTIME) ./internal/status/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/spool/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSummary$$' -fuzztime $(FUZZTIME) ./internal/restic/
	$(GO) test -run '^$$' -fuzz '^FuzzHumanError$$' -fuzztime $(FUZZTIME) ./internal/restic/
	$(GO) test -run '^$$' -fuzz '^FuzzHeartbeat$$' -fuzztime $(FUZZTIME) ./internal/deadman/

# The invariants over generated histories (internal/histories), run long:
# `go test` runs a fixed seed and 100 random histories per property.
HISTORIES_CHECKS ?= 20000
histories:
	$(GO) test -count=1 -timeout 0 ./internal/histories/ -run 'TestHistories' -rapid.checks=$(HISTORIES_CHECKS)

# Test-only tools with their own Go modules (and committed go.sum):
# tools/dashgen checks deploy/grafana/backupwatch.json against the code and
# Grafana's dashboard-linter rules (lint_test.go: the linter itself is not
# to be had from the Go module proxy);
# tools/mailsink is the SMTP server the e2e suite delivers email to.
test-tools:
	cd tools/dashgen && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd tools/mailsink && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test -count=1 ./...
	$(MAKE) test-deb

# Builds the .deb, installs it with dpkg -i, checks it and purges it: root only.
test-deb:
	cd tools/deb && GOWORK=off $(GO) vet ./... && GOWORK=off $(GO) test -count=1 -timeout 10m ./...

# Every release target builds: the agent runs wherever restic does.
CROSS_TARGETS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 freebsd/amd64
# make test type-checks the whole graph for each system it does not build
# otherwise (tools/crosscheck: go/packages from source, seconds), as a cross
# build of each would compile every dependency again (8 to 10 minutes each
# on a bare 2-core machine under load); windows/amd64 is built by
# test-windows and test-release. `make cross` builds all of them, as `make
# release` does.
CROSSCHECK_TARGETS ?= darwin/arm64 freebsd/amd64 darwin/amd64 linux/arm64
test-cross:
	cd tools/crosscheck && GOWORK=off $(GO) build -o $(CURDIR)/bin/crosscheck .
	@set -e; for t in $(CROSSCHECK_TARGETS); do \
	  GOOS=$${t%/*} GOARCH=$${t#*/} bin/crosscheck ./cmd/backupwatch ./internal/...; \
	done
cross:
	@set -e; for t in $(CROSS_TARGETS); do \
	  echo "cross: $$t"; \
	  GOOS=$${t%/*} GOARCH=$${t#*/} CGO_ENABLED=0 $(GO) build -trimpath -o /dev/null ./cmd/backupwatch; \
	  GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./internal/lockfile/ ./internal/fileowner/ ./internal/spool/ ./internal/backuprun/ ./internal/localstore/ ./internal/atomicfile/ ./internal/proctree/ ./internal/restic/; \
	done

# The agent packages' unit tests, built for Windows and run under Debian's
# wine, in the package's directory as go test runs them (testdata/ seeds) (scripts/wine-judge.awk says which failures are wine's own). Not run
# there, and why (-test.skip):
# - lockfile TestLockRefusesSymlinksAndOddFiles's symlink case and spool
#   TestLockKey: wine keeps a link as a Unix symlink that neither the handle
#   (no reparse point) nor Lstat shows; on Windows the handle's
#   FILE_ATTRIBUTE_REPARSE_POINT refuses it (lockfile_windows.go).
# - spool TestFullDiskIsAClearError (mounts a tmpfs), TestRefusesASpoolOthersCanWrite
#   and TestRefusesASpoolOfAnotherUser (mode bits, chown): Unix only; on
#   Windows the ACLs decide (internal/fileowner).
# - atomicfile TestReadersSeeOldOrNew: Windows refuses to rename over a file
#   another handle has open without FILE_SHARE_DELETE (Go's os.Open), so a
#   reader can make a write fail there: a known limit of the Windows agent.
# - restoretest, and the tests of backuprun and restic that run restic or
#   shell scripts (sh), which a wine prefix has not: of those two packages
#   only the tests below run (-test.run): restic's output and VSS messages
#   read, outcomes named, Windows exit statuses, a crashed run's lock, the
#   run's job object (wine 8.0 kills a job's processes on TerminateJobObject
#   and when its last handle closes, as Windows does).
WINE_PKGS := lockfile fileowner atomicfile spool status schedule localstore restic backuprun proctree
WINE_SKIP_lockfile   := ^TestLockRefusesSymlinksAndOddFiles$$
WINE_SKIP_spool      := ^(TestLockKey|TestFullDiskIsAClearError|TestRefusesASpoolOthersCanWrite|TestRefusesASpoolOfAnotherUser)$$
WINE_SKIP_atomicfile := ^TestReadersSeeOldOrNew$$
WINE_SKIP_restic     := ^(TestInterruptedResticGetsSIGINT|TestRepositoryNotOnTheCommandLine|TestEachSnapshotBadOutput)$$
WINE_RUN_backuprun   := ^(TestOutcome|TestOutcomeNamesVSSFailures|TestVSSFailuresBounded|TestSignalName|TestScrubber.*|TestIsSecretName|TestLockRefusesASecondHolder|TestRunLockLeftByACrashedRun|TestRunKillsTheTree.*)$$
WINE_DIR := $(CURDIR)/bin/wine
test-windows:
	@command -v wine >/dev/null || { echo "test-windows: wine is missing: make deps (Debian's wine64)"; exit 1; }
	@command -v x86_64-w64-mingw32-ld >/dev/null || { echo "test-windows: x86_64-w64-mingw32-ld is missing: make deps (Debian's binutils-mingw-w64-x86-64)"; exit 1; }
	GOOS=windows GOARCH=amd64 $(GO) vet $(addprefix ./internal/,$(WINE_PKGS))
	mkdir -p $(WINE_DIR)
	x86_64-w64-mingw32-as -o $(WINE_DIR)/stub.o scripts/wine/stub.s
	x86_64-w64-mingw32-ld --dll -e DllMain -o $(WINE_DIR)/bcryptprimitives.dll $(WINE_DIR)/stub.o scripts/wine/bcryptprimitives.def
	@export WINEPREFIX=$(WINE_DIR)/prefix WINEDEBUG=-all; \
	  if [ ! -d $$WINEPREFIX/drive_c/windows/system32 ]; then \
	    echo "test-windows: making the wine prefix (the first start takes a while)"; \
	    s=$$(date +%s); wineboot -i >/dev/null 2>&1; wineserver -w; echo "test-windows: wine prefix made in $$(( $$(date +%s) - s ))s"; \
	  fi; \
	  cp $(WINE_DIR)/bcryptprimitives.dll $$WINEPREFIX/drive_c/windows/system32/; \
	  fail=0; for p in $(WINE_PKGS); do \
	    GOOS=windows GOARCH=amd64 $(GO) test -c -o $(WINE_DIR)/$$p.test.exe ./internal/$$p/ || exit 1; \
	    skip=; only=; case $$p in lockfile) skip='$(WINE_SKIP_lockfile)';; spool) skip='$(WINE_SKIP_spool)';; atomicfile) skip='$(WINE_SKIP_atomicfile)';; \
	      restic) skip='$(WINE_SKIP_restic)';; backuprun) only='$(WINE_RUN_backuprun)';; esac; \
	    s=$$(date +%s); \
	    (cd internal/$$p && timeout 600 wine $(WINE_DIR)/$$p.test.exe -test.v -test.count=1 $${skip:+-test.skip "$$skip"} $${only:+-test.run "$$only"} > $(WINE_DIR)/$$p.log 2>&1); \
	    if awk -f scripts/wine-judge.awk $(WINE_DIR)/$$p.log; then echo "ok   $$p (wine, $$(( $$(date +%s) - s ))s)"; \
	    else echo "FAIL $$p (wine; $(WINE_DIR)/$$p.log)"; fail=1; fi; \
	  done; exit $$fail

# The release artifacts of VERSION (x.y.z) in $(RELEASE_DIR): archives per
# target, an SBOM per target (CycloneDX, tools/sbom), the .debs and .rpms,
# SHA256SUMS (scripts/release.sh); reproducible.
RELEASE_DIR     ?= dist/release
RELEASE_TARGETS ?= $(CROSS_TARGETS)
release:
	@case '$(VERSION)' in [0-9]*.[0-9]*.[0-9]*) ;; *) echo "release: VERSION=x.y.z is required (got $(VERSION))"; exit 2;; esac
	GO=$(GO) ./scripts/release.sh '$(VERSION)' $(RELEASE_DIR) $(RELEASE_TARGETS)

# The release at a reduced set (linux/amd64 and windows/amd64), twice: the
# sums verify, both builds (SBOMs included) are byte for byte the same, the
# SBOMs name the version and each target's modules, the archive's binary
# names the version, the rpm lists the binary and has its scripts.
test-release:
	rm -rf dist/release-test
	GO=$(GO) ./scripts/release.sh 9.9.9 dist/release-test/a linux/amd64 windows/amd64
	GO=$(GO) ./scripts/release.sh 9.9.9 dist/release-test/b linux/amd64 windows/amd64
	cd dist/release-test/a && sha256sum -c --quiet SHA256SUMS
	cmp dist/release-test/a/SHA256SUMS dist/release-test/b/SHA256SUMS
	test $$(wc -l < dist/release-test/a/SHA256SUMS) -eq 6
	@for t in linux-amd64 windows-amd64; do f=dist/release-test/a/backupwatch-9.9.9.$$t.sbom.cdx.json; \
	  grep -q '"bomFormat": "CycloneDX"' $$f && grep -q '"purl": "pkg:golang/github.com/golemtrust/backupwatch@v9.9.9?goarch=amd64&goos='$${t%-*} $$f && \
	  grep -q '"name": "github.com/prometheus/client_golang"' $$f || { echo "test-release: $$f is not the SBOM of backupwatch 9.9.9 for $$t"; exit 1; }; done
	@grep -q '"name": "golang.org/x/sys"' dist/release-test/a/backupwatch-9.9.9.windows-amd64.sbom.cdx.json && echo "SBOMs: CycloneDX, version 9.9.9, each target's modules"
	@if command -v rpm >/dev/null; then rpm -qlp dist/release-test/a/*.rpm | grep -qx /usr/bin/backupwatch && echo "rpm -qlp: /usr/bin/backupwatch is in the rpm" && \
	  rpm -qp --scripts dist/release-test/a/*.rpm | grep -q 'systemctl --no-reload disable' && echo "rpm -qp --scripts: %preun disables the units"; \
	  else echo "test-release: rpm is missing (Debian's rpm): the .rpm was built, not listed"; exit 1; fi
	tar -xzOf dist/release-test/a/backupwatch-9.9.9.linux-amd64.tar.gz backupwatch-9.9.9.linux-amd64/backupwatch > dist/release-test/bw && chmod +x dist/release-test/bw
	dist/release-test/bw --version 2>&1 | grep -q 'version 9.9.9'

# A few minutes: a real Vault with 100, 1,000 and 10,000 hosts; the report
# is printed and saved to bench-results/latest.txt. BENCH_FLAGS, e.g.
# -root-token or -sizes=100,1000, tune it (go run ./tools/bench -h).
bench: build vaultdev
	$(GO) run ./tools/bench -vaultdev=bin/vaultdev -backupwatch=$(BIN) $(BENCH_FLAGS)

clean:
	rm -rf bin data dist
