package main

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// startAgent serves an in-process SSH agent holding the given OpenSSH private keys on a unix socket.
func startAgent(t *testing.T, pems ...string) string {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, p := range pems {
		raw, err := ssh.ParseRawPrivateKey([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		if err := keyring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = agent.ServeAgent(keyring, c)
			}()
		}
	}()
	return sock
}

// The key only in an agent (connection.agentSocketPath, and the bastion's): the steps run; a path where no
// agent answers, or an agent without a key, fails at once, naming the connection's agentSocketPath, the
// path and the fix, and nothing reaches the server.
func TestAgentSocketPath(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "") // only the configured path counts
	bastion := startServer(t)
	target := startServer(t)
	sock := startAgent(t, target.clientKeyPEM, bastion.clientKeyPEM)

	c := target.conn()
	c.PrivateKey = ""
	c.AgentSocketPath = sock
	if out, _, err := run(context.Background(), c, runSpec{Command: "echo via-agent"}, runHooks{}); err != nil || out != "via-agent" {
		t.Fatalf("through the agent: %q %v", out, err)
	}
	// Both hops through the agent.
	c.Proxy = bastion.conn()
	c.Proxy.PrivateKey = ""
	c.Proxy.AgentSocketPath = sock
	if out, _, err := run(context.Background(), c, runSpec{Command: "echo via-bastion"}, runHooks{}); err != nil || out != "via-bastion" {
		t.Fatalf("through the bastion, both hops by the agent: %q %v", out, err)
	}

	// No agent at the path: refused before dialing, not retried.
	quiet := startServer(t)
	missing := filepath.Join(t.TempDir(), "gone.sock")
	m := quiet.conn()
	m.PrivateKey = ""
	m.AgentSocketPath = missing
	m.DialErrorLimit = 5
	rec := &recorder{}
	_, _, err := run(context.Background(), m, runSpec{Command: "true"}, rec.hooks())
	for _, want := range []string{"connection.agentSocketPath: no SSH agent answers at " + missing, "fix: start an agent there", "ssh-agent -a " + missing, "scripts/ci-stack.sh start-agent"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("missing agent: want %q in %v", want, err)
		}
	}
	if quiet.accepted.Load() != 0 || len(rec.statuses) != 0 {
		t.Fatalf("missing agent: %d connections, statuses %q; want none", quiet.accepted.Load(), rec.statuses)
	}

	// An agent that holds no key.
	m.AgentSocketPath = startAgent(t)
	_, _, err = run(context.Background(), m, runSpec{Command: "true"}, runHooks{})
	if err == nil || !strings.Contains(err.Error(), "connection.agentSocketPath: the SSH agent at "+m.AgentSocketPath+" holds no key — fix:") {
		t.Fatalf("empty agent: %v", err)
	}
	if quiet.accepted.Load() != 0 {
		t.Fatalf("empty agent: %d connections, want none", quiet.accepted.Load())
	}

	// The bastion's agent missing (the target with its own key): named as the proxy's.
	p := target.conn()
	p.Proxy = bastion.conn()
	p.Proxy.PrivateKey = ""
	p.Proxy.AgentSocketPath = missing
	_, _, err = run(context.Background(), p, runSpec{Command: "true"}, runHooks{})
	if err == nil || !strings.Contains(err.Error(), "connection.proxy.agentSocketPath: no SSH agent answers at "+missing) {
		t.Fatalf("missing bastion agent: %v", err)
	}
}

// The SDK marks the whole connection secret; its agentSocketPath is a path, not a secret, so error messages
// keep it (the private key next to it stays redacted).
func TestAgentSocketPathIsNotRedacted(t *testing.T) {
	conn := resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
		"host":            resource.NewProperty("10.0.0.5"),
		"privateKey":      resource.NewProperty("-----BEGIN KEY-----"),
		"agentSocketPath": resource.NewProperty("/run/quay-mirror/ssh-agent.sock"),
	}))
	r := secretsOf(resource.PropertyMap{"connection": conn})
	got := r.apply(errors.New("no SSH agent answers at /run/quay-mirror/ssh-agent.sock; key -----BEGIN KEY-----").Error())
	if got != "no SSH agent answers at /run/quay-mirror/ssh-agent.sock; key [redacted]" {
		t.Fatalf("redacted: %q", got)
	}
	// A path that is itself marked secret stays redacted.
	own := resource.NewObjectProperty(resource.PropertyMap{"agentSocketPath": resource.MakeSecret(resource.NewProperty("/secret/agent.sock"))})
	if got := secretsOf(resource.PropertyMap{"connection": own}).apply("at /secret/agent.sock"); got != "at [redacted]" {
		t.Fatalf("own secret: %q", got)
	}
}
