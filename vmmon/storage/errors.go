package storage

import (
	"errors"
	"fmt"
)

// Sentinel errors, checked with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid query")
	ErrConflict = errors.New("conflict")
	// ErrSchema means the schema is missing, older or newer than this vmmon.
	ErrSchema = errors.New("schema version mismatch")
)

// InvalidError is a query a person must change: it names the parameter.
type InvalidError struct {
	Param  string
	Detail string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("%s: %s", e.Param, e.Detail) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(param, format string, a ...any) error {
	return &InvalidError{Param: param, Detail: fmt.Sprintf(format, a...)}
}
