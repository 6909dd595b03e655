// Package policy evaluates access rules written in oslo.policy's language
// (role:, rule:, generic checks with %(target)s substitution, and, or, not,
// parentheses, @ and !). Defaults are declared in code ([Defaults]); a
// policy.yaml overrides any of them.
package policy

import (
	"fmt"
	"strings"
	"unicode"
)

// Credentials describe the caller for checks such as role:admin and
// project_id:%(project_id)s.
type Credentials struct {
	Roles []string
	// Attrs: user_id, user_domain_id, project_id (project-scoped tokens),
	// domain_id (domain-scoped tokens), system_scope ("all").
	Attrs map[string]string
	// Scope is the token's: project, domain, system or unscoped.
	Scope string
}

// Target is what a rule is checked against: e.g. {"project_id": "..."}.
type Target map[string]string

type check interface {
	eval(e *Enforcer, c *Credentials, t Target, depth int) bool
}

type (
	trueCheck  struct{}
	falseCheck struct{}
	notCheck   struct{ c check }
	andCheck   []check
	orCheck    []check
	ruleCheck  string
	roleCheck  string
	// genericCheck compares a credential (or a quoted literal) with a target
	// value (%(name)s) or a literal.
	genericCheck struct{ left, right string }
)

func (trueCheck) eval(*Enforcer, *Credentials, Target, int) bool  { return true }
func (falseCheck) eval(*Enforcer, *Credentials, Target, int) bool { return false }
func (n notCheck) eval(e *Enforcer, c *Credentials, t Target, d int) bool {
	return !n.c.eval(e, c, t, d)
}

func (a andCheck) eval(e *Enforcer, c *Credentials, t Target, d int) bool {
	for _, x := range a {
		if !x.eval(e, c, t, d) {
			return false
		}
	}
	return true
}

func (o orCheck) eval(e *Enforcer, c *Credentials, t Target, d int) bool {
	for _, x := range o {
		if x.eval(e, c, t, d) {
			return true
		}
	}
	return false
}

func (r ruleCheck) eval(e *Enforcer, c *Credentials, t Target, d int) bool {
	if d > 20 {
		return false // a loop of rules
	}
	rule, ok := e.rules[string(r)]
	return ok && rule.eval(e, c, t, d+1)
}

func (r roleCheck) eval(_ *Enforcer, c *Credentials, t Target, _ int) bool {
	want := strings.ToLower(substitute(string(r), t))
	for _, have := range c.Roles {
		if strings.ToLower(have) == want {
			return true
		}
	}
	return false
}

func substitute(s string, t Target) string {
	if strings.HasPrefix(s, "%(") && strings.HasSuffix(s, ")s") {
		return t[s[2:len(s)-2]]
	}
	return s
}

func (g genericCheck) eval(_ *Enforcer, c *Credentials, t Target, _ int) bool {
	right := g.right
	if strings.HasPrefix(right, "%(") && strings.HasSuffix(right, ")s") {
		v, ok := t[right[2:len(right)-2]]
		if !ok {
			return false
		}
		right = v
	}
	var left string
	switch {
	case len(g.left) >= 2 && (g.left[0] == '\'' || g.left[0] == '"') && g.left[len(g.left)-1] == g.left[0]:
		left = g.left[1 : len(g.left)-1]
	case g.left == "True" || g.left == "False":
		left = g.left
	default:
		v, ok := c.Attrs[g.left]
		if !ok {
			return false
		}
		left = v
	}
	return left != "" && left == right
}

// Parse parses a rule. An empty rule, like "@", always passes.
func Parse(s string) (check, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return trueCheck{}, nil
	}
	p := &parser{toks: toks}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q in rule %q", p.toks[p.i], s)
	}
	return c, nil
}

// tokenize splits a rule as oslo.policy does: on white space (outside
// quotes), then peeling parentheses off the start and end of each word, so
// that %(name)s stays whole.
func tokenize(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		quote rune
	)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote = r
			cur.WriteRune(r)
		case unicode.IsSpace(r):
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in rule %q", s)
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	var toks []string
	for _, w := range words {
		for strings.HasPrefix(w, "(") {
			toks = append(toks, "(")
			w = w[1:]
		}
		closing := 0
		for strings.HasSuffix(w, ")") {
			closing++
			w = w[:len(w)-1]
		}
		if w != "" {
			toks = append(toks, w)
		}
		for ; closing > 0; closing-- {
			toks = append(toks, ")")
		}
	}
	return toks, nil
}

type parser struct {
	toks []string
	i    int
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *parser) or() (check, error) {
	return p.binary("or", p.and, func(cs []check) check { return orCheck(cs) })
}

func (p *parser) and() (check, error) {
	return p.binary("and", p.not, func(cs []check) check { return andCheck(cs) })
}

// binary parses operand (op operand)*; one operand stands for itself.
func (p *parser) binary(op string, operand func() (check, error), join func([]check) check) (check, error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	cs := []check{first}
	for strings.EqualFold(p.peek(), op) {
		p.i++
		c, err := operand()
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	if len(cs) == 1 {
		return first, nil
	}
	return join(cs), nil
}

func (p *parser) not() (check, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.i++
		c, err := p.not()
		if err != nil {
			return nil, err
		}
		return notCheck{c}, nil
	}
	return p.atom()
}

func (p *parser) atom() (check, error) {
	tok := p.peek()
	switch tok {
	case "":
		return nil, fmt.Errorf("rule ends where a check was expected")
	case "(":
		p.i++
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return c, nil
	case ")":
		return nil, fmt.Errorf("unexpected )")
	case "@":
		p.i++
		return trueCheck{}, nil
	case "!":
		p.i++
		return falseCheck{}, nil
	}
	p.i++
	kind, match, ok := strings.Cut(tok, ":")
	if !ok {
		return nil, fmt.Errorf("check %q is not kind:match", tok)
	}
	switch kind {
	case "role":
		return roleCheck(match), nil
	case "rule":
		return ruleCheck(match), nil
	}
	return genericCheck{left: kind, right: match}, nil
}
