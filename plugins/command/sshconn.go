package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Connection is the `connection` input (command:remote:Connection) and its `proxy`
// (command:remote:ProxyConnection), defaults applied.
type Connection struct {
	Host               string
	Port               int
	User               string
	Password           string
	PrivateKey         string
	PrivateKeyPassword string
	AgentSocketPath    string
	HostKey            string // pinned key (authorized_keys format), or TrustOnFirstUse
	DialErrorLimit     int    // -1: unlimited
	PerDialTimeout     int    // seconds; 0: no maximum
	Proxy              *Connection
	// what names the connection in errors ("connection", "connection.proxy").
	what string
	// offered is the key the server presented in the last handshake (trust-on-first-use records it).
	offered ssh.PublicKey
}

// TrustOnFirstUse as a hostKey is the explicit opt-in to trust-on-first-use: Create accepts the key the host
// offers, logs its fingerprint as a warning and records it as hostKey in the resource's outputs; Update and
// Delete use the recorded key (Diff and Update put it in place of the marker), so later operations require
// the same key. The real pulumi-command cannot parse this value and refuses it (fails closed).
const TrustOnFirstUse = "trust-on-first-use"

// hostKeyFix is how to pin a key; every "hostKey is required" error carries it.
const hostKeyFix = "fix: pin the host's key in authorized_keys format (`ssh-keyscan -t ed25519 <host>` without the host name, " +
	"checked against `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host's console), or opt in to " +
	"trust-on-first-use with hostKey \"" + TrustOnFirstUse + "\""

// agentFix is how to provide the agent agentSocketPath names.
func agentFix(sock string) string {
	return fmt.Sprintf("fix: start an agent there and add the host's key: `ssh-agent -a %s`, then `SSH_AUTH_SOCK=%s ssh-add <key-file>` "+
		"(in CI the gated up job does this: scripts/ci-stack.sh start-agent); a preview needs no agent", sock, sock)
}

func (c *Connection) name() string {
	if c.what == "" {
		return "connection"
	}
	return c.what
}

// tofu: this connection trusts the offered key on first use.
func (c *Connection) tofu() bool { return c.HostKey == TrustOnFirstUse }

// offeredKey is the key the server presented (authorized_keys format, no newline), or "".
func (c *Connection) offeredKey() string {
	if c.offered == nil {
		return ""
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(c.offered)))
}

const (
	defaultPort           = 22
	defaultUser           = "root"
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15
)

// dialBackoff is the pause after the n-th failed dial (n from 1): 1s, 2s, 4s, … at most maxDialBackoff.
// Variables so the tests can shorten them.
var (
	firstDialBackoff = time.Second
	maxDialBackoff   = 10 * time.Second
)

func dialBackoff(n int) time.Duration {
	d := firstDialBackoff
	for i := 1; i < n && d < maxDialBackoff; i++ {
		d *= 2
	}
	if d > maxDialBackoff {
		d = maxDialBackoff
	}
	return d
}

// statusFunc reports a progress message (an ephemeral info status in the engine's display).
type statusFunc func(msg string)

func (c *Connection) address() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

func (c *Connection) perDialTimeout() time.Duration {
	if c.PerDialTimeout <= 0 {
		return 0
	}
	return time.Duration(c.PerDialTimeout) * time.Second
}

// clientConfig: authentication (private key, agent, password and keyboard-interactive with the password)
// and host key checking: the pinned hostKey, or trust-on-first-use when hostKey is TrustOnFirstUse. Without
// hostKey it is an error: no code path accepts a host key unchecked.
func (c *Connection) clientConfig() (*ssh.ClientConfig, func(), error) {
	cfg := &ssh.ClientConfig{User: c.User, Timeout: c.perDialTimeout()}
	cleanup := func() {}
	if c.PrivateKey != "" {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(c.PrivateKey), []byte(c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(c.PrivateKey))
		}
		if err != nil {
			// The parser's message never quotes the key.
			return nil, cleanup, fmt.Errorf("could not parse the private key: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	sock := c.AgentSocketPath
	if sock == "" {
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			if c.AgentSocketPath != "" {
				// Permanent (dial never retries it): nothing answers at the configured path.
				return nil, cleanup, fmt.Errorf("%s.agentSocketPath: no SSH agent answers at %s (%v) — %s", c.name(), sock, err, agentFix(sock))
			}
		} else {
			client := agent.NewClient(conn)
			if c.AgentSocketPath != "" {
				// An agent without keys would fail authentication on every retry: say so once, before dialing.
				keys, err := client.List()
				if err != nil {
					_ = conn.Close()
					return nil, cleanup, fmt.Errorf("%s.agentSocketPath: the SSH agent at %s did not list its keys: %v — %s", c.name(), sock, err, agentFix(sock))
				}
				if len(keys) == 0 {
					_ = conn.Close()
					return nil, cleanup, fmt.Errorf("%s.agentSocketPath: the SSH agent at %s holds no key — %s", c.name(), sock, agentFix(sock))
				}
			}
			cleanup = func() { _ = conn.Close() }
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(client.Signers))
		}
	}
	if c.Password != "" {
		password := c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}
	switch {
	case c.HostKey == "":
		// Defence in depth: the inputs are checked too (decodeConnection). Nothing is dialed.
		return nil, cleanup, fmt.Errorf("%s.hostKey is required: the host's key is never trusted unchecked — %s", c.name(), hostKeyFix)
	case c.tofu():
		cfg.HostKeyCallback = func(_ string, _ net.Addr, got ssh.PublicKey) error {
			c.offered = got
			return nil
		}
		cfg.HostKeyAlgorithms = tofuHostKeyAlgorithms
	default:
		want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(c.HostKey))
		if err != nil {
			return nil, cleanup, fmt.Errorf("could not parse %s.hostKey (authorized_keys format expected): %w", c.name(), err)
		}
		cfg.HostKeyCallback = pinnedHostKey(want)
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(want.Type())
	}
	return cfg, cleanup, nil
}

// tofuHostKeyAlgorithms: the key type trust-on-first-use asks for, best first (the recorded key is then
// pinned with its own type).
var tofuHostKeyAlgorithms = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// hostKeyAlgorithms lets the server present the pinned key's type (an RSA key may be offered as
// rsa-sha2-512/256).
func hostKeyAlgorithms(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// errHostKeyMismatch is permanent: dialing is not retried.
var errHostKeyMismatch = errors.New("host key mismatch")

func pinnedHostKey(want ssh.PublicKey) ssh.HostKeyCallback {
	return func(hostname string, _ net.Addr, got ssh.PublicKey) error {
		if got.Type() == want.Type() && string(got.Marshal()) == string(want.Marshal()) {
			return nil
		}
		return fmt.Errorf("%w for %s: the server presented %s %s, expected %s %s", errHostKeyMismatch, hostname,
			got.Type(), ssh.FingerprintSHA256(got), want.Type(), ssh.FingerprintSHA256(want))
	}
}

// withRetries calls dial until it succeeds, at most limit times (-1: no limit), pausing with backoff
// between tries and reporting "Dial N/M failed: retrying".
func withRetries[T any](ctx context.Context, what string, limit int, status statusFunc, dial func() (T, error)) (T, error) {
	var zero T
	for attempt := 1; ; attempt++ {
		v, err := dial()
		if err == nil {
			return v, nil
		}
		if errors.Is(err, errHostKeyMismatch) {
			return zero, err
		}
		if limit >= 0 && attempt >= limit {
			return zero, fmt.Errorf("failed to dial %s after %d attempt(s): %w", what, attempt, err)
		}
		if status != nil {
			max := "unlimited"
			if limit >= 0 {
				max = strconv.Itoa(limit)
			}
			status(fmt.Sprintf("Dial %d/%s failed: retrying", attempt, max))
		}
		select {
		case <-ctx.Done():
			return zero, fmt.Errorf("dialing %s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(dialBackoff(attempt)):
		}
	}
}

// handshake runs the SSH handshake over conn within the per-dial timeout.
func handshake(conn net.Conn, addr string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	if timeout > 0 {
		_ = conn.SetDeadline(time.Now().Add(timeout))
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// sshClient is an open connection; Close also closes the bastion connection and the agent socket.
type sshClient struct {
	*ssh.Client
	closers []func()
}

func (s *sshClient) Close() error {
	err := s.Client.Close()
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	return err
}

// dial opens a new SSH connection (through the bastion when proxy is set), retrying as configured.
func (c *Connection) dial(ctx context.Context, status statusFunc) (*sshClient, error) {
	if c.Host == "" {
		return nil, errors.New("connection.host is required")
	}
	// Every hop's key must be pinned (or trust-on-first-use) before the first hop is dialed.
	name := c.name()
	for hop := c; hop != nil; hop = hop.Proxy {
		if hop.what == "" {
			hop.what = name
		}
		name = hop.what + ".proxy"
		if hop.HostKey == "" {
			return nil, fmt.Errorf("%s.hostKey is required: the host's key is never trusted unchecked — %s", hop.name(), hostKeyFix)
		}
	}
	cfg, cleanup, err := c.clientConfig()
	if err != nil {
		cleanup()
		return nil, err
	}
	closers := []func(){cleanup}
	fail := func(err error) (*sshClient, error) {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		return nil, err
	}
	addr := c.address()
	if c.Proxy == nil {
		client, err := withRetries(ctx, addr, c.DialErrorLimit, status, func() (*ssh.Client, error) {
			d := net.Dialer{Timeout: c.perDialTimeout()}
			conn, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return handshake(conn, addr, cfg, c.perDialTimeout())
		})
		if err != nil {
			return fail(err)
		}
		return &sshClient{Client: client, closers: closers}, nil
	}
	bastion, err := c.Proxy.dial(ctx, status)
	if err != nil {
		return fail(fmt.Errorf("proxy: %w", err))
	}
	closers = append(closers, func() { _ = bastion.Close() })
	client, err := withRetries(ctx, addr+" through the proxy", c.DialErrorLimit, status, func() (*ssh.Client, error) {
		conn, err := dialThrough(ctx, bastion.Client, addr, c.perDialTimeout())
		if err != nil {
			return nil, err
		}
		return handshake(conn, addr, cfg, c.perDialTimeout())
	})
	if err != nil {
		return fail(err)
	}
	return &sshClient{Client: client, closers: closers}, nil
}

// dialThrough opens a direct-tcpip channel on the bastion, within the timeout.
func dialThrough(ctx context.Context, bastion *ssh.Client, addr string, timeout time.Duration) (net.Conn, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return bastion.DialContext(ctx, "tcp", addr)
}

func describeConn(c *Connection) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%s", c.User, c.address())
	if c.Proxy != nil {
		fmt.Fprintf(&b, " via %s", describeConn(c.Proxy))
	}
	return b.String()
}
