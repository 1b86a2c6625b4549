package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Logging is the `logging` input (command:remote:Logging).
type Logging string

const (
	LogStdout          Logging = "stdout"
	LogStderr          Logging = "stderr"
	LogStdoutAndStderr Logging = "stdoutAndStderr"
	LogNone            Logging = "none"
)

func (l Logging) valid() bool {
	switch l {
	case "", LogStdout, LogStderr, LogStdoutAndStderr, LogNone:
		return true
	}
	return false
}

func (l Logging) stdout() bool { return l == "" || l == LogStdout || l == LogStdoutAndStderr }
func (l Logging) stderr() bool { return l == "" || l == LogStderr || l == LogStdoutAndStderr }

// runSpec is one run of a command on the remote host.
type runSpec struct {
	Command       string
	CommandSecret bool // the command text is a secret: errors say [secret] instead
	Stdin         *string
	Environment   map[string]string
	Logging       Logging
	// Previous stdout/stderr for PULUMI_COMMAND_STDOUT/STDERR (nil: not set).
	PrevStdout, PrevStderr *string
	// Secret values that must not appear in logs and errors.
	Redact *redactor
}

// runHooks reports to the engine: output lines, warnings and dial status.
type runHooks struct {
	Line   func(msg string) // one line of output (already redacted)
	Warn   func(msg string)
	Status statusFunc
}

// lineWriter splits what the command writes into lines and reports each (when log is set); it also
// keeps the whole stream for the output property and a combined copy for error messages.
type lineWriter struct {
	mu       *sync.Mutex
	all      bytes.Buffer
	combined *bytes.Buffer
	pending  []byte
	log      func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.combined.Write(p)
	if w.log == nil {
		return len(p), nil
	}
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		w.log(strings.TrimSuffix(string(w.pending[:i]), "\r"))
		w.pending = w.pending[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.log != nil && len(w.pending) > 0 {
		w.log(string(w.pending))
		w.pending = nil
	}
}

// run opens a new SSH connection and runs spec.Command in a session without a PTY. It returns stdout and
// stderr with one trailing newline removed. A failure is "<cause>: running <command>:\n<output>", with
// stdin, environment values and secrets replaced by [redacted].
func run(ctx context.Context, conn *Connection, spec runSpec, hooks runHooks) (string, string, error) {
	red := spec.Redact
	if red == nil {
		red = &redactor{}
	}
	// stdin and environment values never appear in errors or logs, secret or not.
	if spec.Stdin != nil {
		red.add(*spec.Stdin, false)
	}
	for _, v := range spec.Environment {
		red.add(v, false)
	}
	cmdText := fmt.Sprintf("%q", spec.Command)
	if spec.CommandSecret {
		cmdText = "[secret]"
	}

	client, err := conn.dial(ctx, hooks.Status)
	if err != nil {
		return "", "", fmt.Errorf("%s: %s", red.apply(err.Error()), describeConn(conn))
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("could not open an SSH session on %s: %w", describeConn(conn), err)
	}
	defer session.Close()

	keys := make([]string, 0, len(spec.Environment))
	for k := range spec.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := session.Setenv(k, spec.Environment[k]); err != nil {
			// The value is not in the message. OpenSSH refuses variables its AcceptEnv does not list.
			return "", "", fmt.Errorf("could not set environment variable %q on the remote host (does the SSH server accept it, e.g. AcceptEnv?): %w", k, err)
		}
	}
	for _, prev := range []struct {
		name string
		val  *string
	}{{"PULUMI_COMMAND_STDOUT", spec.PrevStdout}, {"PULUMI_COMMAND_STDERR", spec.PrevStderr}} {
		if prev.val == nil {
			continue
		}
		if err := session.Setenv(prev.name, *prev.val); err != nil && hooks.Warn != nil {
			hooks.Warn(fmt.Sprintf("Unable to set '%s'. This only works if your SSH server is configured to accept these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could prefix the command itself with the variables in the form 'VAR=value command'", prev.name))
		}
	}

	var mu sync.Mutex
	var combined bytes.Buffer
	logLine := func(enabled bool) func(string) {
		if !enabled || hooks.Line == nil {
			return nil
		}
		return func(s string) { hooks.Line(red.apply(s)) }
	}
	stdout := &lineWriter{mu: &mu, combined: &combined, log: logLine(spec.Logging.stdout())}
	stderr := &lineWriter{mu: &mu, combined: &combined, log: logLine(spec.Logging.stderr())}
	session.Stdout, session.Stderr = stdout, stderr
	if spec.Stdin != nil {
		session.Stdin = strings.NewReader(*spec.Stdin)
	}

	done := make(chan error, 1)
	go func() { done <- session.Run(spec.Command) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = session.Signal("KILL")
		_ = client.Close()
		err = ctx.Err()
	}
	stdout.flush()
	stderr.flush()
	outStr := strings.TrimSuffix(stdout.all.String(), "\n")
	errStr := strings.TrimSuffix(stderr.all.String(), "\n")
	if err != nil {
		mu.Lock()
		out := combined.String()
		mu.Unlock()
		if red.apply(err.Error()) == err.Error() {
			return outStr, errStr, fmt.Errorf("%w: running %s:\n%s", err, cmdText, red.apply(out))
		}
		return outStr, errStr, fmt.Errorf("%s: running %s:\n%s", red.apply(err.Error()), cmdText, red.apply(out))
	}
	return outStr, errStr, nil
}

var _ io.Writer = (*lineWriter)(nil)
