package conf

import (
	"fmt"
	"io"
	"strings"
)

// WriteSample writes the documented defaults of every option that belongs in
// file, in the format of oslo-config-generator, commented out.
func (r *Registry) WriteSample(w io.Writer, file File) error {
	var b strings.Builder
	first := true
	for _, g := range r.Groups() {
		if g.Files&file == 0 {
			continue
		}
		if !first {
			b.WriteString("\n")
		}
		first = false
		fmt.Fprintf(&b, "[%s]\n", g.Name)
		if g.Help != "" {
			b.WriteString("\n")
			wrapComment(&b, g.Help)
		}
		for _, o := range g.opts {
			if o.Files != 0 && o.Files&file == 0 {
				continue
			}
			b.WriteString("\n")
			writeOpt(&b, o)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeOpt(b *strings.Builder, o *Opt) {
	wrapComment(b, o.Help+" ("+o.Kind.String()+")")
	if o.Min != nil {
		fmt.Fprintf(b, "# Minimum value: %g\n", *o.Min)
	}
	if o.Max != nil {
		fmt.Fprintf(b, "# Maximum value: %g\n", *o.Max)
	}
	if len(o.Choices) > 0 {
		b.WriteString("# Possible values:\n")
		for _, c := range o.Choices {
			fmt.Fprintf(b, "#     %s\n", c)
		}
	}
	for _, d := range o.Deprecated {
		fmt.Fprintf(b, "# Deprecated group/name - [%s]/%s\n", d.Group, d.Name)
	}
	if o.Secret {
		b.WriteString("# Secret: never logged.\n")
	}
	def := o.Default
	switch {
	case o.Sample != "":
		def = o.Sample
	case def == "":
		def = "<None>"
	}
	fmt.Fprintf(b, "#%s = %s\n", o.Name, def)
}

// wrapComment writes text as '# ' lines of at most 72 columns.
func wrapComment(b *strings.Builder, text string) {
	for _, para := range strings.Split(text, "\n") {
		line := "#"
		for _, word := range strings.Fields(para) {
			if len(line)+1+len(word) > 72 && line != "#" {
				b.WriteString(line + "\n")
				line = "#"
			}
			line += " " + word
		}
		b.WriteString(line + "\n")
	}
}
