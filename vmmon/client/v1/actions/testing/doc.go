// Package testing tests the actions client against canned bodies.
package testing
