// Package sbom pins the SBOM generator of `make release`, CycloneDX's
// cyclonedx-gomod (a `tool` of this module: `go tool cyclonedx-gomod`),
// in a module of its own so that it never reaches the main module's
// go.sum. scripts/release.sh runs it once per release target.
package sbom
