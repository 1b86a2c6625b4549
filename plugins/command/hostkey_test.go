package main

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

// The step's stdin in these tests stands for config.yaml with the database password.
const secretStdin = "DB_URI: postgresql://quay:db-password-4f2a@localhost/quay\n"

func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestWrongHostKeyFailsBeforeAnythingIsSent(t *testing.T) {
	s := startServer(t)
	_, impostor := newKey(t)
	c := s.conn()
	c.HostKey = authorizedKey(impostor.PublicKey())
	c.Password = s.password // a password would be sent on authentication: it must not be
	_, _, err := run(context.Background(), c, runSpec{Command: "cat > /dev/null", Stdin: strp(secretStdin)}, runHooks{})
	if err == nil {
		t.Fatal("a server with another key was accepted")
	}
	msg := err.Error()
	for _, want := range []string{"host key mismatch", s.addr, ssh.FingerprintSHA256(s.hostKey.PublicKey()), ssh.FingerprintSHA256(impostor.PublicKey())} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "db-password") || strings.Contains(msg, s.password) {
		t.Fatalf("error %q quotes a secret", msg)
	}
	s.untouched(t, "wrong host key")
}

func TestNoHostKeyIsRefusedBeforeDialing(t *testing.T) {
	s := startServer(t)
	c := s.conn()
	c.HostKey = ""
	_, _, err := run(context.Background(), c, runSpec{Command: "cat > /dev/null", Stdin: strp(secretStdin)}, runHooks{})
	if err == nil || !strings.Contains(err.Error(), "hostKey is required") || !strings.Contains(err.Error(), "ssh-keyscan") {
		t.Fatalf("want hostKey is required (with the fix), got %v", err)
	}
	if n := s.accepted.Load(); n != 0 {
		t.Fatalf("%d connections to a host whose key is not pinned", n)
	}
	s.untouched(t, "no host key")
	// The same for the inputs: Create with a connection without hostKey fails before dialing.
	srv := newServer(nil, "1.2.1")
	inputs := resource.PropertyMap{"connection": connValue(s, ""), "create": resource.NewProperty("true")}
	if _, err := srv.Create(context.Background(), &pulumirpc.CreateRequest{Urn: cmdURN, Properties: toStruct(t, inputs)}); err == nil || !strings.Contains(err.Error(), "connection.hostKey is required") {
		t.Fatalf("create without hostKey: %v", err)
	}
	if n := s.accepted.Load(); n != 0 {
		t.Fatalf("%d connections to a host whose key is not pinned", n)
	}
}

func TestCheckNamesTheMissingHostKeys(t *testing.T) {
	srv := newServer(nil, "1.2.1")
	conn := func(proxy resource.PropertyMap, key string) resource.PropertyValue {
		m := resource.PropertyMap{"host": resource.NewProperty("h")}
		if key != "" {
			m["hostKey"] = resource.NewProperty(key)
		}
		if proxy != nil {
			m["proxy"] = resource.NewObjectProperty(proxy)
		}
		return resource.MakeSecret(resource.NewObjectProperty(m))
	}
	_, k := newKey(t)
	pinned := authorizedKey(k.PublicKey())
	for _, tc := range []struct {
		conn resource.PropertyValue
		want string
	}{
		{conn(nil, ""), "connection.hostKey is required"},
		{conn(resource.PropertyMap{"host": resource.NewProperty("b")}, pinned), "connection.proxy.hostKey is required"},
	} {
		news := resource.PropertyMap{"connection": tc.conn, "create": resource.NewProperty("true")}
		resp, err := srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: cmdURN, News: toStruct(t, news)})
		if err != nil || len(resp.Failures) != 1 || !strings.Contains(resp.Failures[0].Reason, tc.want) {
			t.Fatalf("want a failure %q, got %v %v", tc.want, err, resp.GetFailures())
		}
	}
	news := resource.PropertyMap{"connection": conn(resource.PropertyMap{"host": resource.NewProperty("b"), "hostKey": resource.NewProperty(pinned)}, pinned), "create": resource.NewProperty("true")}
	if resp, err := srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: cmdURN, News: toStruct(t, news)}); err != nil || len(resp.Failures) != 0 {
		t.Fatalf("both pinned: %v %v", err, resp.GetFailures())
	}
}

func TestBastionHostKeyIsCheckedToo(t *testing.T) {
	bastion := startServer(t)
	target := startServer(t)
	_, impostor := newKey(t)
	c := target.conn()
	c.Proxy = bastion.conn()
	c.Proxy.HostKey = authorizedKey(impostor.PublicKey())
	_, _, err := run(context.Background(), c, runSpec{Command: "cat > /dev/null", Stdin: strp(secretStdin)}, runHooks{})
	if err == nil {
		t.Fatal("a bastion with another key was accepted")
	}
	for _, want := range []string{"host key mismatch", bastion.addr, ssh.FingerprintSHA256(bastion.hostKey.PublicKey()), ssh.FingerprintSHA256(impostor.PublicKey())} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %q", err, want)
		}
	}
	bastion.untouched(t, "wrong bastion key")
	target.untouched(t, "wrong bastion key")
	if n := target.accepted.Load(); n != 0 {
		t.Fatalf("the target was reached through an unverified bastion (%d connections)", n)
	}
	c.Proxy.HostKey = ""
	if _, _, err := run(context.Background(), c, runSpec{Command: "true"}, runHooks{}); err == nil || !strings.Contains(err.Error(), "proxy.hostKey is required") {
		t.Fatalf("bastion without hostKey: %v", err)
	}
	if n := bastion.accepted.Load(); n != 1 {
		t.Fatalf("the bastion without a pinned key was dialed: %d connections in all", n)
	}
	// The target's key behind a good bastion is checked as well.
	c.Proxy = bastion.conn()
	c.HostKey = authorizedKey(impostor.PublicKey())
	if _, _, err := run(context.Background(), c, runSpec{Command: "true"}, runHooks{}); err == nil || !strings.Contains(err.Error(), ssh.FingerprintSHA256(target.hostKey.PublicKey())) {
		t.Fatalf("target behind the bastion with another key: %v", err)
	}
	target.untouched(t, "wrong target key behind the bastion")
	// Both right: works.
	c.HostKey = target.conn().HostKey
	if out, _, err := run(context.Background(), c, runSpec{Command: "echo through"}, runHooks{}); err != nil || out != "through" {
		t.Fatalf("%q %v", out, err)
	}
}

func TestTrustOnFirstUseRecordsTheOfferedKeys(t *testing.T) {
	bastion := startServer(t)
	target := startServer(t)
	c := target.conn()
	c.HostKey = TrustOnFirstUse
	c.Proxy = bastion.conn()
	c.Proxy.HostKey = TrustOnFirstUse
	if out, _, err := run(context.Background(), c, runSpec{Command: "echo first"}, runHooks{}); err != nil || out != "first" {
		t.Fatalf("%q %v", out, err)
	}
	if got, want := c.offeredKey(), authorizedKey(target.hostKey.PublicKey()); got != want {
		t.Fatalf("target's offered key %q, want %q", got, want)
	}
	if got, want := c.Proxy.offeredKey(), authorizedKey(bastion.hostKey.PublicKey()); got != want {
		t.Fatalf("bastion's offered key %q, want %q", got, want)
	}
}

func TestTrustOnFirstUsePinsTheKeyInTheState(t *testing.T) {
	s := startServer(t)
	host := &fakeHost{}
	srv := newServer(host, "1.2.1")
	ctx := context.Background()
	inputs := resource.PropertyMap{"connection": connValue(s, TrustOnFirstUse), "create": resource.NewProperty("echo hello")}
	want := authorizedKey(s.hostKey.PublicKey())
	hostKeyOf := func(m resource.PropertyMap) resource.PropertyValue {
		c := m["connection"]
		if !c.IsSecret() {
			t.Fatalf("connection must stay secret: %v", c)
		}
		return c.SecretValue().Element.ObjectValue()["hostKey"]
	}

	// Preview: the key is not known yet.
	pre, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: cmdURN, Properties: toStruct(t, inputs), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if k := hostKeyOf(fromStruct(t, pre.Properties)); !k.IsComputed() || s.accepted.Load() != 0 {
		t.Fatalf("preview hostKey %v, %d connections", k, s.accepted.Load())
	}

	// Create: the offered key is accepted, logged as a warning with its fingerprint, and recorded.
	created, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: cmdURN, Properties: toStruct(t, inputs)})
	if err != nil {
		t.Fatal(err)
	}
	state := fromStruct(t, created.Properties)
	if k := hostKeyOf(state); !k.IsString() || k.StringValue() != want {
		t.Fatalf("recorded hostKey %v, want %q", k, want)
	}
	host.mu.Lock()
	logs := strings.Join(host.logs, "\n")
	host.mu.Unlock()
	if !strings.Contains(logs, "warning: ") || !strings.Contains(logs, "trust-on-first-use") || !strings.Contains(logs, ssh.FingerprintSHA256(s.hostKey.PublicKey())) {
		t.Fatalf("no warning naming the fingerprint: %q", logs)
	}

	// The next run: the inputs still say trust-on-first-use; the recorded key is no change.
	diff, err := srv.Diff(ctx, &pulumirpc.DiffRequest{Urn: cmdURN, Olds: created.Properties, News: toStruct(t, inputs)})
	if err != nil || diff.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("diff %v %v", diff, err)
	}

	// An update runs against the recorded key and keeps it.
	news := inputs.Copy()
	news["create"] = resource.NewProperty("echo again")
	updated, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: cmdURN, Olds: created.Properties, News: toStruct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	if k := hostKeyOf(fromStruct(t, updated.Properties)); k.StringValue() != want {
		t.Fatalf("hostKey after update %v", k)
	}

	// The host now presents another key (rebuilt, or an impostor): the update fails before anything is sent.
	impostor := startServer(t)
	olds := state.Copy()
	oc := olds["connection"].SecretValue().Element.ObjectValue().Copy()
	oc["port"] = resource.NewProperty(float64(impostor.port))
	olds["connection"] = resource.MakeSecret(resource.NewObjectProperty(oc))
	news = inputs.Copy()
	nc := news["connection"].SecretValue().Element.ObjectValue().Copy()
	nc["port"] = resource.NewProperty(float64(impostor.port))
	nc["privateKey"] = resource.NewProperty(impostor.clientKeyPEM)
	news["connection"] = resource.MakeSecret(resource.NewObjectProperty(nc))
	news["stdin"] = resource.MakeSecret(resource.NewProperty(secretStdin))
	_, err = srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: cmdURN, Olds: toStruct(t, olds), News: toStruct(t, news)})
	if err == nil || !strings.Contains(err.Error(), "host key mismatch") ||
		!strings.Contains(err.Error(), ssh.FingerprintSHA256(impostor.hostKey.PublicKey())) || !strings.Contains(err.Error(), ssh.FingerprintSHA256(s.hostKey.PublicKey())) {
		t.Fatalf("want a mismatch naming both fingerprints, got %v", err)
	}
	impostor.untouched(t, "a recorded key that differs")
}
