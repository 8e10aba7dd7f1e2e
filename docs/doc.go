// Package docs holds the user documentation (README.md beside the module
// root, deployment.md and alerts.md here) and its test: every shell block
// of README.md and deployment.md runs as written against a real Vault and
// the real binary (docs_test.go). It has no code outside its tests.
package docs
