// Package testing tests the instances, measures and hosts clients against
// vmmon's own API handler on an embedded store.
package testing
