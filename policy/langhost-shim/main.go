// Command pulumi-language-nodejs is quay-mirror's shim in front of the Node.js language host.
//
// The host this project can build (sdk/v3@v3.68.0, docs/toolchain.md) predates RunPlugin, which is how
// CLI v3.259.0 starts a Node.js policy pack (`pulumi preview --policy-pack <dir>` with
// `runtime: nodejs` in PulumiPolicy.yaml): the old host answers "not supported". This shim starts the
// real host with the same arguments, forwards every gRPC call to it byte for byte, and answers RunPlugin
// for policy packs (kind "analyzer") itself: `node @pulumi/pulumi/cmd/run-policy-pack <args> <pack dir>`
// in the pack's directory, behind the SDK's PolicyProxy so the pack sees the stack's name and config.
// Installed by scripts/install-policy-shim.sh; docs/policy.md explains why and how.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// realHostEnv names the real host explicitly (tests, or a layout other than the install script's).
const realHostEnv = "QM_REAL_NODEJS_LANGUAGE_HOST"

// maxMessage matches the engine's limit (rpcutil.MaxRPCMessageSize), so forwarding never shrinks it.
const maxMessage = 1024 * 1024 * 400

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "quay-mirror language host shim: %v\n", err)
		os.Exit(1)
	}
}

// realHostPath: $QM_REAL_NODEJS_LANGUAGE_HOST, else ../libexec/pulumi-language-nodejs beside this binary.
func realHostPath() (string, error) {
	if p := os.Getenv(realHostEnv); p != "" {
		return p, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	self, err = filepath.EvalSymlinks(self)
	if err != nil {
		return "", err
	}
	p := filepath.Join(filepath.Dir(self), "..", "libexec", "pulumi-language-nodejs")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the real language host is not at %s (set %s, or re-run scripts/install-policy-shim.sh): %w", p, realHostEnv, err)
	}
	return p, nil
}

func run() error {
	real, err := realHostPath()
	if err != nil {
		return err
	}
	// Same arguments (the engine address and the host's flags); the host dies with the shim.
	host := exec.Command(real, os.Args[1:]...)
	host.Stderr = os.Stderr
	host.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	hostOut, err := host.StdoutPipe()
	if err != nil {
		return err
	}
	if err := host.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", real, err)
	}
	// A plugin's first stdout line is its port; whatever follows is passed on.
	out := bufio.NewReader(hostOut)
	line, err := out.ReadString('\n')
	if err != nil {
		_ = host.Wait()
		return fmt.Errorf("%s printed no port: %w", real, err)
	}
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		_ = host.Process.Kill()
		return fmt.Errorf("%s printed %q instead of a port", real, line)
	}
	go func() { _, _ = io.Copy(os.Stdout, out) }()

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)))
	if err != nil {
		return err
	}
	defer conn.Close()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	p := &proxy{conn: conn}
	srv := grpc.NewServer(
		grpc.ForceServerCodec(rawCodec{}),
		grpc.UnknownServiceHandler(p.handle),
		grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage))
	fmt.Printf("%d\n", lis.Addr().(*net.TCPAddr).Port)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	exited := make(chan error, 1)
	go func() { exited <- host.Wait() }()
	select {
	case err := <-exited:
		// The real host decides when the session is over (the engine went away or cancelled it).
		srv.Stop()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		return err
	case err := <-served:
		_ = host.Process.Kill()
		return err
	}
}

// frame is one gRPC message passed through undecoded.
type frame struct{ payload []byte }

// rawCodec passes frames through as bytes and (un)marshals the messages the shim handles itself. Its
// name is "proto", so the wire format and content type stay those of the engine and the host.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	if f, ok := v.(*frame); ok {
		return f.payload, nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("cannot marshal %T", v)
	}
	return proto.Marshal(m)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	if f, ok := v.(*frame); ok {
		f.payload = append([]byte(nil), data...)
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("cannot unmarshal into %T", v)
	}
	return proto.Unmarshal(data, m)
}

func (rawCodec) Name() string { return "proto" }

type proxy struct{ conn *grpc.ClientConn }

const runPluginMethod = "/pulumirpc.LanguageRuntime/RunPlugin"

func (p *proxy) handle(_ any, ss grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return status.Error(codes.Internal, "no method name on the stream")
	}
	if method == runPluginMethod {
		return runPlugin(ss)
	}
	return p.forward(method, ss)
}

// forward relays one call of any shape (unary or streaming) to the real host, headers and trailers
// included; the host's status (errors such as Unimplemented) reaches the engine unchanged.
func (p *proxy) forward(method string, ss grpc.ServerStream) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(ss.Context(), md.Copy()))
	defer cancel()
	cs, err := p.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method,
		grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}
	go func() {
		for {
			f := &frame{}
			if err := ss.RecvMsg(f); err != nil {
				if errors.Is(err, io.EOF) {
					_ = cs.CloseSend()
				} else {
					cancel()
				}
				return
			}
			if err := cs.SendMsg(f); err != nil {
				return // the host's answer (an error status) comes out of RecvMsg below
			}
		}
	}()
	if hdr, err := cs.Header(); err == nil && len(hdr) > 0 {
		if err := ss.SendHeader(hdr); err != nil {
			return err
		}
	}
	for {
		f := &frame{}
		if err := cs.RecvMsg(f); err != nil {
			ss.SetTrailer(cs.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := ss.SendMsg(f); err != nil {
			return err
		}
	}
}
