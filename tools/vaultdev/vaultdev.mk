# Builds bin/vaultdev, the real Vault server the tests start, from Vault's Go
# module (tools/vaultdev is its own module, so the product's go.mod never
# depends on the Vault server). The first build downloads about 3 GB of
# modules; later builds come from the cache.
.PHONY: vaultdev
vaultdev: bin/vaultdev

bin/vaultdev: tools/vaultdev/main.go tools/vaultdev/go.mod tools/vaultdev/go.sum
	@mkdir -p bin
	cd tools/vaultdev && GONOSUMDB=github.com/hashicorp GOFLAGS=-mod=mod $(GO) build -o ../../bin/vaultdev .
