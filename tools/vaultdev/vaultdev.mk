# Builds bin/vaultdev, the real Vault server the tests start, from Vault's Go
# module (tools/vaultdev is its own module, so the product's go.mod never
# depends on the Vault server; see tools/vaultdev/README.md). The committed
# go.sum pins every module (-mod=readonly keeps it so). The first build
# downloads about 3 GB of modules and takes minutes; later builds come from
# the cache.
GO ?= go

.PHONY: vaultdev
vaultdev: bin/vaultdev

bin/vaultdev: $(wildcard tools/vaultdev/*.go) tools/vaultdev/go.mod tools/vaultdev/go.sum
	@mkdir -p bin
	cd tools/vaultdev && GOWORK=off $(GO) build -mod=readonly -buildvcs=false -o ../../bin/vaultdev .
