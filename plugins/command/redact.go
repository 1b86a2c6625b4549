package main

import (
	"sort"
	"strings"
)

// redactor replaces known sensitive strings (secret inputs, stdin, environment values) in text that
// leaves the provider: engine log lines and error messages.
type redactor struct{ needles []string }

const redacted = "[redacted]"

// minPlainLen: values that are not marked secret (stdin, environment values) are only redacted from
// error messages when at least this long; shorter ones ("1", "yes") would mangle messages and hide nothing.
const minPlainLen = 4

func (r *redactor) add(s string, secret bool) {
	if s == "" || (!secret && len(s) < minPlainLen) {
		return
	}
	r.needles = append(r.needles, s)
	// Commands often echo their input line by line: redact long lines of a multi-line value too.
	if strings.Contains(s, "\n") {
		for _, line := range strings.Split(s, "\n") {
			line = strings.TrimSpace(line)
			if len(line) >= minPlainLen {
				r.needles = append(r.needles, line)
			}
		}
	}
}

func (r *redactor) apply(s string) string {
	if r == nil || len(r.needles) == 0 {
		return s
	}
	needles := append([]string(nil), r.needles...)
	// Longest first, so a value that contains another is replaced whole.
	sort.Slice(needles, func(i, j int) bool { return len(needles[i]) > len(needles[j]) })
	for _, n := range needles {
		s = strings.ReplaceAll(s, n, redacted)
	}
	return s
}

func stringReader(s string) *strings.Reader { return strings.NewReader(s) }
