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

.PHONY: all build run test test-go test-race test-tools test-deb deps deb lint bench clean fuzz histories

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/backupwatch

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
	  -binary $(abspath $(BIN)) -version '$(VERSION)' -out $(abspath $(DEB_DIR))

include tools/vaultdev/vaultdev.mk

test: deps vaultdev lint test-go test-race fuzz test-tools

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...

test-go:
	$(GO) test -count=1 -timeout 30m ./...

# The packages that run things concurrently, again under the race detector.
test-race:
	$(GO) test -race -count=1 ./internal/vaultkv/ ./internal/fleet/ ./internal/collector/ \
	  ./internal/localstore/ ./internal/spool/ ./internal/backuprun/ ./internal/restoretest/ ./internal/web/ ./internal/inflight/ \
	  ./internal/deadman/ ./internal/ping/

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

# A few minutes: a real Vault with 100, 1,000 and 10,000 hosts; the report
# is printed and saved to bench-results/latest.txt. BENCH_FLAGS, e.g.
# -root-token or -sizes=100,1000, tune it (go run ./tools/bench -h).
bench: build vaultdev
	$(GO) run ./tools/bench -vaultdev=bin/vaultdev -backupwatch=$(BIN) $(BENCH_FLAGS)

clean:
	rm -rf bin data dist
