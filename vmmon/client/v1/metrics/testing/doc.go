// Package testing tests the metrics client against canned bodies.
package testing
