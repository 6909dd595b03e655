// Package testing tests version discovery against canned bodies.
package testing
