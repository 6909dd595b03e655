package conf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of an option's value, as oslo.config names it in samples.
type Kind int

// The kinds of option value.
const (
	KindString Kind = iota
	KindInt
	KindFloat
	KindBool
	KindList
	KindPort
)

func (k Kind) String() string {
	switch k {
	case KindInt:
		return "integer value"
	case KindFloat:
		return "floating point value"
	case KindBool:
		return "boolean value"
	case KindList:
		return "list value"
	case KindPort:
		return "port value"
	default:
		return "string value"
	}
}

// Name identifies an option by section and name, e.g. a deprecated spelling.
type Name struct {
	Group string
	Name  string
}

func (n Name) String() string { return "[" + n.Group + "] " + n.Name }

// Opt is the declaration of one configuration option.
type Opt struct {
	Group   *Group
	Name    string
	Kind    Kind
	Default string // the default as it would be written in a file; "" is none
	Help    string
	Secret  bool   // never logged, masked in errors
	Sample  string // what the sample shows instead of Default (e.g. "<hostname>")
	Choices []string
	Min     *float64
	Max     *float64
	// Deprecated lists older names still accepted (with a warning).
	Deprecated []Name
	// Validate, when set, checks a string value beyond its kind (e.g. a URL).
	Validate func(string) error
	// Files, when not zero, narrows the samples the option appears in to
	// fewer than its group's.
	Files File
}

// Key is the option's canonical name.
func (o *Opt) Key() Name { return Name{o.Group.Name, o.Name} }

// parse converts a raw value to the option's Go type, or says what was expected.
func (o *Opt) parse(raw string) (any, error) {
	switch o.Kind {
	case KindInt, KindPort:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return nil, fmt.Errorf("expected %s", o.expected())
		}
		if err := o.checkRange(float64(n)); err != nil {
			return nil, err
		}
		return n, nil
	case KindFloat:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("expected %s", o.expected())
		}
		if err := o.checkRange(f); err != nil {
			return nil, err
		}
		return f, nil
	case KindBool:
		switch strings.ToLower(raw) {
		case "true", "yes", "on", "1":
			return true, nil
		case "false", "no", "off", "0":
			return false, nil
		}
		return nil, fmt.Errorf("expected %s", o.expected())
	case KindList:
		var items []string
		for _, item := range strings.Split(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		for _, item := range items {
			if err := o.check(item); err != nil {
				return nil, err
			}
		}
		return items, nil
	default:
		if err := o.check(raw); err != nil {
			return nil, err
		}
		return raw, nil
	}
}

func (o *Opt) check(s string) error {
	if len(o.Choices) > 0 {
		for _, c := range o.Choices {
			if s == c {
				return nil
			}
		}
		return fmt.Errorf("expected one of %s", strings.Join(o.Choices, ", "))
	}
	if o.Validate != nil {
		return o.Validate(s)
	}
	return nil
}

func (o *Opt) checkRange(v float64) error {
	if (o.Min != nil && v < *o.Min) || (o.Max != nil && v > *o.Max) {
		return fmt.Errorf("expected %s", o.expected())
	}
	return nil
}

// expected describes an acceptable value in words.
func (o *Opt) expected() string {
	var s string
	switch o.Kind {
	case KindInt, KindPort:
		s = "an integer"
	case KindFloat:
		s = "a number"
	case KindBool:
		return "true or false"
	case KindList:
		s = "a comma-separated list"
	default:
		s = "a string"
	}
	switch {
	case o.Min != nil && o.Max != nil:
		s += fmt.Sprintf(" between %g and %g", *o.Min, *o.Max)
	case o.Min != nil:
		s += fmt.Sprintf(" of at least %g", *o.Min)
	case o.Max != nil:
		s += fmt.Sprintf(" of at most %g", *o.Max)
	}
	return s
}

// OptFunc adjusts a declaration.
type OptFunc func(*Opt)

// Secret marks an option whose value must never be logged.
func Secret() OptFunc { return func(o *Opt) { o.Secret = true } }

// Choices restricts a string option to the given values.
func Choices(c ...string) OptFunc { return func(o *Opt) { o.Choices = c } }

// Range bounds a numeric option (inclusive).
func Range(lo, hi float64) OptFunc { return func(o *Opt) { o.Min, o.Max = &lo, &hi } }

// Min bounds a numeric option from below (inclusive).
func Min(lo float64) OptFunc { return func(o *Opt) { o.Min = &lo } }

// DeprecatedName accepts an older section/name for the option.
func DeprecatedName(group, name string) OptFunc {
	return func(o *Opt) { o.Deprecated = append(o.Deprecated, Name{group, name}) }
}

// SampleDefault shows s in the sample instead of the real default, for defaults
// computed at run time (such as the host name).
func SampleDefault(s string) OptFunc { return func(o *Opt) { o.Sample = s } }

// OnlyIn shows the option only in the samples of files (it is still accepted
// everywhere its group is).
func OnlyIn(files File) OptFunc { return func(o *Opt) { o.Files = files } }

// Validator adds a check of a string value beyond its kind.
func Validator(f func(string) error) OptFunc { return func(o *Opt) { o.Validate = f } }

// StringOpt is a declared option holding a string.
type StringOpt struct{ *Opt }

// Get returns the option's value in c (its default when unset).
func (o StringOpt) Get(c *Config) string { return c.value(o.Opt).(string) }

// IntOpt is a declared option holding an integer.
type IntOpt struct{ *Opt }

// Get returns the option's value in c.
func (o IntOpt) Get(c *Config) int { return c.value(o.Opt).(int) }

// FloatOpt is a declared option holding a number.
type FloatOpt struct{ *Opt }

// Get returns the option's value in c.
func (o FloatOpt) Get(c *Config) float64 { return c.value(o.Opt).(float64) }

// SecondsOpt is a declared option holding a number of seconds.
type SecondsOpt struct{ *Opt }

// Get returns the option's value in c as a duration.
func (o SecondsOpt) Get(c *Config) time.Duration {
	return time.Duration(c.value(o.Opt).(float64) * float64(time.Second))
}

// BoolOpt is a declared option holding a boolean.
type BoolOpt struct{ *Opt }

// Get returns the option's value in c.
func (o BoolOpt) Get(c *Config) bool { return c.value(o.Opt).(bool) }

// ListOpt is a declared option holding a comma-separated list.
type ListOpt struct{ *Opt }

// Get returns the option's value in c; the slice is the caller's own.
func (o ListOpt) Get(c *Config) []string {
	return append([]string(nil), c.value(o.Opt).([]string)...)
}
