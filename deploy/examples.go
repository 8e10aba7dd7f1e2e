package deploy

import (
	"errors"
	"strings"
)

// Examples kept commented in a shipped file, between "# BEGIN <name>" and
// "# END <name>" lines, so that the file works as it is and the example
// cannot drift from it: the tests uncomment them and check the result with
// the real tools.

// Uncomment returns text with the example name's blocks uncommented: each
// line between its BEGIN and END markers loses its first "# " (a line
// that is only "#" becomes empty). An error when there is no such block
// or a block is not closed.
func Uncomment(text, name string) (string, error) {
	begin, end := "# BEGIN "+name, "# END "+name
	var out []string
	in, found := false, false
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == begin:
			in, found = true, true
			continue
		case trimmed == end:
			in = false
			continue
		case in:
			indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
			rest := strings.TrimPrefix(strings.TrimPrefix(strings.TrimLeft(line, " "), "#"), " ")
			line = indent + rest
		}
		out = append(out, line)
	}
	if !found {
		return "", errors.New("no example " + name)
	}
	if in {
		return "", errors.New("example " + name + " is not closed")
	}
	return strings.Join(out, "\n"), nil
}
