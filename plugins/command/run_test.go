package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	"golang.org/x/crypto/ssh"
)

type recorder struct {
	mu                     sync.Mutex
	lines, warns, statuses []string
}

func (r *recorder) hooks() runHooks {
	add := func(dst *[]string) func(string) {
		return func(s string) { r.mu.Lock(); *dst = append(*dst, s); r.mu.Unlock() }
	}
	return runHooks{Line: add(&r.lines), Warn: add(&r.warns), Status: add(&r.statuses)}
}

func strp(s string) *string { return &s }

func TestStdinReachesTheCommandAndEnvironmentIsSetWithSetenv(t *testing.T) {
	s := startServer(t)
	rec := &recorder{}
	out, errOut, err := run(context.Background(), s.conn(), runSpec{
		Command:     `cat; printf ' %s' "$GREETING"; echo to-stderr >&2`,
		Stdin:       strp("line one\nline two\n"),
		Environment: map[string]string{"GREETING": "hello from setenv"},
	}, rec.hooks())
	if err != nil {
		t.Fatal(err)
	}
	if want := "line one\nline two\n hello from setenv"; out != want {
		t.Fatalf("stdout %q, want %q", out, want)
	}
	if errOut != "to-stderr" {
		t.Fatalf("stderr %q (trailing newline trimmed)", errOut)
	}
	if got := s.lastEnv()["GREETING"]; got != "hello from setenv" {
		t.Fatalf("env request GREETING=%q", got)
	}
	// Default logging: stdout and stderr lines, stdin and environment values redacted.
	joined := strings.Join(rec.lines, "\n")
	if !strings.Contains(joined, "to-stderr") || strings.Contains(joined, "hello from setenv") || strings.Contains(joined, "line one") {
		t.Fatalf("logged lines %q", rec.lines)
	}
}

func TestTrailingNewlineTrimmedOnce(t *testing.T) {
	s := startServer(t)
	out, _, err := run(context.Background(), s.conn(), runSpec{Command: `printf 'a\n\n'`}, runHooks{})
	if err != nil || out != "a\n" {
		t.Fatalf("out %q err %v", out, err)
	}
}

func TestFailureReportsExitCodeAndOutputWithoutStdinOrEnvironmentValues(t *testing.T) {
	s := startServer(t)
	rec := &recorder{}
	_, stderr, err := run(context.Background(), s.conn(), runSpec{
		Command:     `cat; echo "token=$API_TOKEN" >&2; echo boom >&2; exit 3`,
		Stdin:       strp("stdin-password-123"),
		Environment: map[string]string{"API_TOKEN": "env-token-456"},
	}, rec.hooks())
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	var exitErr *ssh.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
		t.Fatalf("want a wrapped *ssh.ExitError with status 3: %v", err)
	}
	for _, want := range []string{"Process exited with status 3", "running \"cat; echo", "boom", "token=[redacted]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	for _, leak := range []string{"stdin-password-123", "env-token-456"} {
		if strings.Contains(msg, leak) {
			t.Errorf("error leaks %q: %s", leak, msg)
		}
		for _, l := range rec.lines {
			if strings.Contains(l, leak) {
				t.Errorf("log line leaks %q: %s", leak, l)
			}
		}
	}
	if !strings.Contains(stderr, "boom") {
		t.Fatalf("stderr %q", stderr)
	}
}

func TestSecretCommandIsNotQuotedInErrors(t *testing.T) {
	s := startServer(t)
	red := &redactor{}
	red.add("hunter2-secret", true)
	_, _, err := run(context.Background(), s.conn(), runSpec{
		Command: `echo hunter2-secret; exit 1`, CommandSecret: true, Redact: red,
	}, runHooks{})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "running [secret]") {
		t.Fatalf("error %v", err)
	}
}

func TestLoggingModes(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct {
		mode Logging
		want []string
	}{
		{"", []string{"o1", "e1"}},
		{LogStdoutAndStderr, []string{"o1", "e1"}},
		{LogStdout, []string{"o1"}},
		{LogStderr, []string{"e1"}},
		{LogNone, nil},
	} {
		rec := &recorder{}
		out, _, err := run(context.Background(), s.conn(), runSpec{Command: `echo o1; sleep 0.1; echo e1 >&2`, Logging: tc.mode}, rec.hooks())
		if err != nil || out != "o1" {
			t.Fatalf("%s: %q %v", tc.mode, out, err)
		}
		if strings.Join(rec.lines, ",") != strings.Join(tc.want, ",") {
			t.Errorf("logging %q: lines %q, want %q", tc.mode, rec.lines, tc.want)
		}
	}
}

func TestPreviousOutputInEnvAndRefusedSetenvIsAWarning(t *testing.T) {
	s := startServer(t)
	spec := runSpec{Command: `printf '%s|%s' "$PULUMI_COMMAND_STDOUT" "$PULUMI_COMMAND_STDERR"`,
		PrevStdout: strp("old-out"), PrevStderr: strp("old-err")}
	out, _, err := run(context.Background(), s.conn(), spec, runHooks{})
	if err != nil || out != "old-out|old-err" {
		t.Fatalf("%q %v", out, err)
	}
	s.refuseEnv = func(n string) bool { return strings.HasPrefix(n, "PULUMI_COMMAND_") }
	rec := &recorder{}
	out, _, err = run(context.Background(), s.conn(), spec, rec.hooks())
	if err != nil || out != "|" {
		t.Fatalf("%q %v", out, err)
	}
	if len(rec.warns) != 2 || !strings.Contains(rec.warns[0], "PULUMI_COMMAND_STDOUT") {
		t.Fatalf("warnings %q", rec.warns)
	}
	// A refused `environment` variable is an error naming the variable, not its value.
	_, _, err = run(context.Background(), s.conn(), runSpec{Command: "true",
		Environment: map[string]string{"PULUMI_COMMAND_X": "value-not-shown"}}, runHooks{})
	if err == nil || !strings.Contains(err.Error(), "PULUMI_COMMAND_X") || strings.Contains(err.Error(), "value-not-shown") {
		t.Fatalf("error %v", err)
	}
}

func TestHostKeyPinning(t *testing.T) {
	s := startServer(t)
	if _, _, err := run(context.Background(), s.conn(), runSpec{Command: "true"}, runHooks{}); err != nil {
		t.Fatalf("pinned right key: %v", err)
	}
	_, other := newKey(t)
	c := s.conn()
	c.HostKey = string(ssh.MarshalAuthorizedKey(other.PublicKey()))
	c.DialErrorLimit = 5
	before := s.accepted.Load()
	rec := &recorder{}
	_, _, err := run(context.Background(), c, runSpec{Command: "true"}, rec.hooks())
	if err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("want a host key mismatch, got %v", err)
	}
	if n := s.accepted.Load() - before; n != 1 || len(rec.statuses) != 0 {
		t.Fatalf("a mismatch is not retried: %d connections, statuses %q", n, rec.statuses)
	}
	c.HostKey = "not a key"
	if _, _, err := run(context.Background(), c, runSpec{Command: "true"}, runHooks{}); err == nil || !strings.Contains(err.Error(), "hostKey") {
		t.Fatalf("unparsable hostKey: %v", err)
	}
}

func TestPasswordAuthAndWrongPassword(t *testing.T) {
	s := startServer(t)
	c := s.conn()
	c.PrivateKey = ""
	c.Password = s.password
	c.DialErrorLimit = 1
	if out, _, err := run(context.Background(), c, runSpec{Command: "echo ok"}, runHooks{}); err != nil || out != "ok" {
		t.Fatalf("%q %v", out, err)
	}
	c.Password = "wrong-password-value"
	_, _, err := run(context.Background(), c, runSpec{Command: "true"}, runHooks{})
	if err == nil || strings.Contains(err.Error(), "wrong-password-value") {
		t.Fatalf("error %v", err)
	}
}

func TestDialRetries(t *testing.T) {
	s := startServer(t)
	s.dropFirst.Store(2)
	c := s.conn()
	c.DialErrorLimit = 5
	rec := &recorder{}
	out, _, err := run(context.Background(), c, runSpec{Command: "echo up"}, rec.hooks())
	if err != nil || out != "up" {
		t.Fatalf("%q %v", out, err)
	}
	if want := "Dial 1/5 failed: retrying,Dial 2/5 failed: retrying"; strings.Join(rec.statuses, ",") != want {
		t.Fatalf("statuses %q", rec.statuses)
	}
	// The limit counts failed dials: 2 allowed, 3 dropped.
	s.dropFirst.Store(3)
	c.DialErrorLimit = 2
	before := s.accepted.Load()
	_, _, err = run(context.Background(), c, runSpec{Command: "true"}, runHooks{})
	if err == nil || !strings.Contains(err.Error(), "after 2 attempt(s)") || s.accepted.Load()-before != 2 {
		t.Fatalf("err %v, %d connections", err, s.accepted.Load()-before)
	}
	s.dropFirst.Store(0)
	// Unlimited (-1) reports "unlimited".
	s.dropFirst.Store(1)
	c.DialErrorLimit = -1
	rec = &recorder{}
	if _, _, err := run(context.Background(), c, runSpec{Command: "true"}, rec.hooks()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(rec.statuses, ",") != "Dial 1/unlimited failed: retrying" {
		t.Fatalf("statuses %q", rec.statuses)
	}
}

func TestProxyConnection(t *testing.T) {
	bastion := startServer(t)
	target := startServer(t)
	c := target.conn()
	c.Proxy = bastion.conn()
	out, _, err := run(context.Background(), c, runSpec{Command: "echo via-bastion"}, runHooks{})
	if err != nil || out != "via-bastion" {
		t.Fatalf("%q %v", out, err)
	}
}

func TestCopyToRemote(t *testing.T) {
	s := startServer(t)
	remote := t.TempDir()
	ctx := context.Background()

	// StringAsset: parent directories are created.
	dst := filepath.Join(remote, "a", "b", "config.yaml")
	text, err := asset.FromText("key: value\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := copyToRemote(ctx, s.conn(), copySource{Asset: text}, dst, "", nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "key: value\n" {
		t.Fatalf("content %q", b)
	}
	// Overwrite an existing file.
	text2, _ := asset.FromText("key: other\n")
	if err := copyToRemote(ctx, s.conn(), copySource{Asset: text2}, dst, "", nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "key: other\n" {
		t.Fatalf("content %q", b)
	}
	// A StringAsset onto a directory has no name to use.
	if err := copyToRemote(ctx, s.conn(), copySource{Asset: text}, remote, "", nil); err == nil {
		t.Fatal("want an error for a StringAsset onto a directory")
	}

	// A directory (FileArchive), into an existing directory: copied under its own name.
	local := t.TempDir()
	src := filepath.Join(local, "payload")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "top.txt"), []byte("top"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "sub", "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	dir, err := archive.FromPath(src)
	if err != nil {
		t.Fatal(err)
	}
	must(t, copyToRemote(ctx, s.conn(), copySource{Archive: dir}, remote, "", nil))
	if b, _ := os.ReadFile(filepath.Join(remote, "payload", "sub", "run.sh")); string(b) != "#!/bin/sh\n" {
		t.Fatalf("content %q", b)
	}
	if fi, err := os.Stat(filepath.Join(remote, "payload", "sub", "run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v %v", fi, err)
	}
	// …and to a path that does not exist: the directory becomes that path.
	must(t, copyToRemote(ctx, s.conn(), copySource{Archive: dir}, filepath.Join(remote, "new", "place"), "", nil))
	if b, _ := os.ReadFile(filepath.Join(remote, "new", "place", "top.txt")); string(b) != "top" {
		t.Fatalf("content %q", b)
	}
	// A directory onto an existing file fails.
	if err := copyToRemote(ctx, s.conn(), copySource{Archive: dir}, dst, "", nil); err == nil {
		t.Fatal("want an error for a directory onto a file")
	}
	// A FileAsset (relative to wd) into a directory keeps its name.
	fa := &asset.Asset{Sig: asset.AssetSig, Path: "top.txt"}
	must(t, copyToRemote(ctx, s.conn(), copySource{Asset: fa}, remote, src, nil))
	if b, _ := os.ReadFile(filepath.Join(remote, "top.txt")); string(b) != "top" {
		t.Fatalf("content %q", b)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
