// Package testing tests the events client against canned bodies.
package testing
