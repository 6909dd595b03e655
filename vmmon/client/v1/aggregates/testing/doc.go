// Package testing tests the aggregates client: against canned bodies of
// vmmon-api's (fixtures_test.go), and against vmmon's own API handler on an
// embedded store (requests_test.go).
package testing
