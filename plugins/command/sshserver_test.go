package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// testServer is an in-process SSH server on 127.0.0.1: exec (sh -c, with the env requests it accepted,
// stdin, stdout, stderr, exit status), the sftp subsystem and direct-tcpip (for bastion tests).
type testServer struct {
	t            *testing.T
	addr         string
	port         int
	hostKey      ssh.Signer
	clientKeyPEM string // OpenSSH private key of the authorized user key
	password     string
	refuseEnv    func(name string) bool
	dropFirst    atomic.Int32 // close this many incoming TCP connections before the handshake
	accepted     atomic.Int32
	authTries    atomic.Int32 // public key and password callbacks (credentials offered)
	sessions     atomic.Int32 // session channels opened
	execs        atomic.Int32 // exec requests
	stdinBytes   atomic.Int64 // bytes the commands read from stdin
	mu           sync.Mutex
	envSeen      []map[string]string
	ln           net.Listener
}

func newKey(t *testing.T) (ed25519.PrivateKey, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, s
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	_, hostSigner := newKey(t)
	clientPriv, clientSigner := newKey(t)
	block, err := ssh.MarshalPrivateKey(clientPriv, "test")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, hostKey: hostSigner, clientKeyPEM: string(pem.EncodeToMemory(block)), password: "s3cret-password"}
	authorized := string(clientSigner.PublicKey().Marshal())
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			s.authTries.Add(1)
			if string(key.Marshal()) == authorized {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
		PasswordCallback: func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			s.authTries.Add(1)
			if string(pw) == s.password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.port = ln.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			if s.dropFirst.Load() > 0 {
				s.dropFirst.Add(-1)
				_ = c.Close()
				continue
			}
			go s.serveConn(c, cfg)
		}
	}()
	return s
}

func (s *testServer) serveConn(c net.Conn, cfg *ssh.ServerConfig) {
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			s.sessions.Add(1)
			ch, chReqs, err := nc.Accept()
			if err != nil {
				continue
			}
			go s.serveSession(ch, chReqs)
		case "direct-tcpip":
			var p struct {
				Host     string
				Port     uint32
				OrigHost string
				OrigPort uint32
			}
			if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
				_ = nc.Reject(ssh.ConnectionFailed, "bad request")
				continue
			}
			target, err := net.Dial("tcp", net.JoinHostPort(p.Host, fmt.Sprint(p.Port)))
			if err != nil {
				_ = nc.Reject(ssh.ConnectionFailed, err.Error())
				continue
			}
			ch, chReqs, err := nc.Accept()
			if err != nil {
				_ = target.Close()
				continue
			}
			go ssh.DiscardRequests(chReqs)
			go func() { _, _ = io.Copy(ch, target); _ = ch.CloseWrite() }()
			go func() { _, _ = io.Copy(target, ch); _ = target.Close() }()
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "no")
		}
	}
}

func (s *testServer) serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	env := map[string]string{}
	for req := range reqs {
		switch req.Type {
		case "env":
			var kv struct{ Name, Value string }
			if err := ssh.Unmarshal(req.Payload, &kv); err != nil || (s.refuseEnv != nil && s.refuseEnv(kv.Name)) {
				_ = req.Reply(false, nil)
				continue
			}
			env[kv.Name] = kv.Value
			_ = req.Reply(true, nil)
		case "exec":
			var cmd struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmd); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			s.execs.Add(1)
			s.mu.Lock()
			s.envSeen = append(s.envSeen, env)
			s.mu.Unlock()
			code := s.exec(ch, cmd.Command, env)
			status := make([]byte, 4)
			binary.BigEndian.PutUint32(status, uint32(code))
			_, _ = ch.SendRequest("exit-status", false, status)
			return
		case "subsystem":
			var sub struct{ Name string }
			if err := ssh.Unmarshal(req.Payload, &sub); err != nil || sub.Name != "sftp" {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			srv, err := sftp.NewServer(ch)
			if err != nil {
				return
			}
			_ = srv.Serve()
			_ = srv.Close()
			return
		default:
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
}

func (s *testServer) exec(ch ssh.Channel, command string, env map[string]string) int {
	c := exec.Command("sh", "-c", command)
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	for k, v := range env {
		c.Env = append(c.Env, k+"="+v)
	}
	c.Stdin = &countingReader{r: ch, n: &s.stdinBytes}
	c.Stdout = ch
	c.Stderr = ch.Stderr()
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return 255
	}
	return 0
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// untouched fails the test when the server saw credentials, a session, an exec or stdin.
func (s *testServer) untouched(t *testing.T, what string) {
	t.Helper()
	if a, ss, e, in := s.authTries.Load(), s.sessions.Load(), s.execs.Load(), s.stdinBytes.Load(); a+ss+e != 0 || in != 0 {
		t.Fatalf("%s: the server saw %d authentication attempts, %d sessions, %d execs, %d stdin bytes; want none", what, a, ss, e, in)
	}
}

func (s *testServer) lastEnv() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.envSeen) == 0 {
		return nil
	}
	return s.envSeen[len(s.envSeen)-1]
}

// conn is a connection to the server with the client key and the pinned host key.
func (s *testServer) conn() *Connection {
	return &Connection{
		Host: "127.0.0.1", Port: s.port, User: "tester", PrivateKey: s.clientKeyPEM,
		HostKey:        string(ssh.MarshalAuthorizedKey(s.hostKey.PublicKey())),
		DialErrorLimit: 3, PerDialTimeout: 5,
	}
}

func init() {
	firstDialBackoff = 10 * time.Millisecond
	maxDialBackoff = 50 * time.Millisecond
}
