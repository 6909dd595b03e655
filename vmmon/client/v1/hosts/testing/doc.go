// Package testing tests the hosts client against canned bodies.
package testing
