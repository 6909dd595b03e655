// Package testing tests the alarms client against canned bodies.
package testing
