// Package testing tests the live stream client against canned streams.
package testing
