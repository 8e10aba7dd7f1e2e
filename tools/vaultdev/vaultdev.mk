# Builds bin/vaultdev, the real Vault server the tests start, from Vault's Go
# module (tools/vaultdev is its own module, so the product's go.mod never
# depends on the Vault server; see tools/vaultdev/README.md). The committed
# go.sum pins every module (-mod=readonly keeps it so). The first build
# downloads about 3 GB of modules and takes minutes; later builds come from
# the cache. The go command fetches modules GOMAXPROCS at a time: 2 on a
# 2-core machine, where the 300 modules took 5 minutes, mostly waiting on
# the network; 16 at a time (building still -p nproc) took 3. -s -w: no
# symbol table or DWARF, which the tests never read and whose writing is
# much of the link of a 1,650-package binary.
GO ?= go
NPROC := $(shell nproc 2>/dev/null || echo 2)

.PHONY: vaultdev
vaultdev: bin/vaultdev

bin/vaultdev: $(wildcard tools/vaultdev/*.go) tools/vaultdev/go.mod tools/vaultdev/go.sum
	@mkdir -p bin
	cd tools/vaultdev && GOWORK=off GOMAXPROCS=16 $(GO) build -p $(NPROC) -mod=readonly -buildvcs=false -ldflags='-s -w' -o ../../bin/vaultdev .
