// Package histories holds no code of its own: its tests drive the real
// path of a result (deliver, spool, the local store, fleet, collector)
// through generated histories and check invariants against a simple model
// (history_test.go says which, and how to run them longer).
package histories
