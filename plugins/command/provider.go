package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const (
	providerName   = "command"
	typeCommand    = "command:remote:Command"
	typeCopyRemote = "command:remote:CopyToRemote"
	typeProvider   = "pulumi:providers:command"
)

// engineLog is what the provider needs from the engine (provider.HostClient implements it).
type engineLog interface {
	Log(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
	LogStatus(ctx context.Context, sev diag.Severity, urn resource.URN, msg string) error
}

type server struct {
	pulumirpc.UnimplementedResourceProviderServer
	host    engineLog
	version string
	wd      string

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
}

func newServer(host engineLog, version string) *server {
	ctx, cancel := context.WithCancel(context.Background())
	wd, _ := os.Getwd()
	s := &server{version: version, ctx: ctx, cancel: cancel, wd: wd}
	if host != nil {
		s.host = host
	}
	return s
}

// opContext is cancelled by the request's context or by Cancel.
func (s *server) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (s *server) hooks(ctx context.Context, urn resource.URN) runHooks {
	if s.host == nil {
		return runHooks{}
	}
	return runHooks{
		Line:   func(msg string) { _ = s.host.Log(ctx, diag.Info, urn, msg) },
		Warn:   func(msg string) { _ = s.host.Log(ctx, diag.Warning, urn, msg) },
		Status: func(msg string) { _ = s.host.LogStatus(ctx, diag.Info, urn, msg) },
	}
}

var (
	unmarshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}
	marshalOpts   = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true}
)

func unmarshal(label string, st *structpb.Struct) (resource.PropertyMap, error) {
	o := unmarshalOpts
	o.Label = label
	m, err := plugin.UnmarshalProperties(st, o)
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = resource.PropertyMap{}
	}
	return m, nil
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, marshalOpts)
}

func resourceType(urn string) string { return string(resource.URN(urn).Type()) }

// --- provider-level calls ---

func (s *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: s.version}, nil
}

func (s *server) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if req.GetVersion() > 0 && req.GetSubpackageName() != "" {
		return nil, status.Errorf(codes.NotFound, "no schema for %s", req.GetSubpackageName())
	}
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON(s.version)}, nil
}

func (s *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (s *server) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (s *server) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (s *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	s.cancel()
	return &emptypb.Empty{}, nil
}

func (s *server) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	return nil, status.Errorf(codes.Unimplemented, "%s: function %s is not implemented by quay-mirror's command provider (only the remote resources Command and CopyToRemote are)", providerName, req.GetTok())
}

func unknownType(t string) error {
	return status.Errorf(codes.Unimplemented,
		"%s: resource type %s is not implemented by quay-mirror's command provider (only %s and %s are)",
		providerName, t, typeCommand, typeCopyRemote)
}

// --- Check ---

func (s *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	t := resourceType(req.GetUrn())
	news, err := unmarshal("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	fail := func(prop, reason string) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
	}
	switch t {
	case typeCommand, typeCopyRemote:
	default:
		return nil, unknownType(t)
	}
	cv, ok := present(news, pConnection)
	switch {
	case !ok:
		fail(pConnection, "missing required property 'connection'")
	case !cv.ContainsUnknowns():
		news[pConnection] = connectionDefaults(cv)
	}
	if !news.ContainsUnknowns() {
		var err error
		if t == typeCommand {
			_, err = decodeCommand(news)
		} else {
			_, err = decodeCopy(news)
		}
		if err != nil && ok {
			fail("", err.Error())
		}
	} else if t == typeCommand {
		if l, ok := present(news, pLogging); ok && !l.ContainsUnknowns() {
			if _, err := decodeLoggingOnly(news); err != nil {
				fail(pLogging, err.Error())
			}
		}
	} else if sv, ok := present(news, pSource); ok && !sv.ContainsUnknowns() {
		if v := unsecret(sv); !v.IsAsset() && !v.IsArchive() {
			fail(pSource, "source must be a FileAsset, StringAsset or FileArchive")
		}
	}
	if t == typeCopyRemote {
		if _, ok := present(news, pRemotePath); !ok {
			fail(pRemotePath, "missing required property 'remotePath'")
		}
		if _, ok := present(news, pSource); !ok {
			fail(pSource, "missing required property 'source'")
		}
	}
	o := marshalOpts
	o.ComputeAssetHashes = true
	inputs, err := plugin.MarshalProperties(news, o)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

func decodeLoggingOnly(m resource.PropertyMap) (Logging, error) {
	l, _, err := optString(m, pLogging)
	if err != nil || l == nil {
		return "", err
	}
	if !Logging(*l).valid() {
		return "", fmt.Errorf("logging must be one of stdout, stderr, stdoutAndStderr, none; not %q", *l)
	}
	return Logging(*l), nil
}

// --- Diff ---

func (s *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	t := resourceType(req.GetUrn())
	keys := commandInputKeys
	switch t {
	case typeCommand:
	case typeCopyRemote:
		keys = copyInputKeys
	default:
		return nil, unknownType(t)
	}
	olds, err := unmarshal("olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	// A trust-on-first-use marker against the key the state recorded is no change.
	news = pinRecordedHostKeys(olds, news)
	ignored := map[string]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignored[k] = true
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true,
		DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	for _, k := range changedKeys(olds, news, keys) {
		if ignored[k] {
			continue
		}
		kind := pulumirpc.PropertyDiff_UPDATE
		_, inOld := present(olds, k)
		_, inNew := present(news, k)
		switch {
		case !inOld:
			kind = pulumirpc.PropertyDiff_ADD
		case !inNew:
			kind = pulumirpc.PropertyDiff_DELETE
		}
		if k == pTriggers {
			resp.Replaces = append(resp.Replaces, k)
			kind += pulumirpc.PropertyDiff_ADD_REPLACE - pulumirpc.PropertyDiff_ADD
		}
		resp.Diffs = append(resp.Diffs, k)
		resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp, nil
}

// --- Create / Update / Delete / Read ---

func newID(name string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	if name == "" {
		name = "command"
	}
	return name + "-" + hex.EncodeToString(b)
}

// outputs: the inputs echoed (connection secret) plus, for Command, stdout and stderr.
func outputsOf(inputs resource.PropertyMap, stdout, stderr *resource.PropertyValue) resource.PropertyMap {
	out := inputs.Copy()
	if stdout != nil {
		out[pStdout] = *stdout
		out[pStderr] = *stderr
	}
	return withConnectionSecret(out)
}

func strProp(s string) *resource.PropertyValue { v := resource.NewProperty(s); return &v }

// outputProp is a stdout/stderr output: secret when it contains the value of a secret input (a command
// that echoes its secret stdin, say), so that value never reaches the state in plain text.
func outputProp(s string, inputs resource.PropertyMap) *resource.PropertyValue {
	v := resource.NewProperty(s)
	if s != "" && secretsOf(inputs).apply(s) != s {
		v = resource.MakeSecret(v)
	}
	return &v
}

func unknownProp() *resource.PropertyValue {
	v := resource.MakeComputed(resource.NewProperty(""))
	return &v
}

func (s *server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	urn := resource.URN(req.GetUrn())
	t := string(urn.Type())
	news, err := unmarshal("news", req.GetProperties())
	if err != nil {
		return nil, err
	}
	id := ""
	if !req.GetPreview() {
		id = newID(urn.Name())
	}
	ctx, done := s.opContext(ctx)
	defer done()
	switch t {
	case typeCommand:
		if req.GetPreview() {
			return s.createResponse(id, previewHostKeys(outputsOf(news, unknownProp(), unknownProp())))
		}
		in, err := decodeCommand(news)
		if err != nil {
			return nil, err
		}
		var stdout, stderr string
		if in.Create != nil {
			stdout, stderr, err = run(ctx, in.Conn, in.spec(*in.Create, in.CreateSecret, nil, nil), s.hooks(ctx, urn))
			if err != nil {
				return nil, err
			}
		}
		return s.createResponse(id, recordOfferedHostKeys(outputsOf(news, outputProp(stdout, news), outputProp(stderr, news)), in.Conn, s.hooks(ctx, urn).Warn))
	case typeCopyRemote:
		if req.GetPreview() {
			return s.createResponse(id, previewHostKeys(outputsOf(news, nil, nil)))
		}
		in, err := decodeCopy(news)
		if err != nil {
			return nil, err
		}
		if err := copyToRemote(ctx, in.Conn, in.Source, in.RemotePath, s.wd, s.hooks(ctx, urn).Status); err != nil {
			return nil, err
		}
		return s.createResponse(id, recordOfferedHostKeys(outputsOf(news, nil, nil), in.Conn, s.hooks(ctx, urn).Warn))
	}
	return nil, unknownType(t)
}

func (s *server) createResponse(id string, outs resource.PropertyMap) (*pulumirpc.CreateResponse, error) {
	st, err := marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: st}, nil
}

// spec builds the run of one of the command's commands.
func (in *commandInputs) spec(cmd string, secret bool, prevStdout, prevStderr *string) runSpec {
	sp := runSpec{Command: cmd, CommandSecret: secret, Stdin: in.Stdin, Environment: in.Environment,
		Logging: in.Logging, Redact: in.Redact}
	if in.AddPreviousOutputInEnv {
		sp.PrevStdout, sp.PrevStderr = prevStdout, prevStderr
	}
	return sp
}

func prevOutput(state resource.PropertyMap, key string) *string {
	s, _, err := optString(state, key)
	if err != nil || s == nil {
		return nil
	}
	return s
}

func (s *server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	urn := resource.URN(req.GetUrn())
	t := string(urn.Type())
	olds, err := unmarshal("olds", req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal("news", req.GetNews())
	if err != nil {
		return nil, err
	}
	// Trust-on-first-use: the update requires the key the state recorded.
	news = pinRecordedHostKeys(olds, news)
	ctx, done := s.opContext(ctx)
	defer done()
	respond := func(outs resource.PropertyMap) (*pulumirpc.UpdateResponse, error) {
		st, err := marshal(outs)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: st}, nil
	}
	switch t {
	case typeCommand:
		in, err := (func() (*commandInputs, error) {
			if req.GetPreview() && news.ContainsUnknowns() {
				return nil, nil
			}
			return decodeCommand(news)
		})()
		if err != nil {
			return nil, err
		}
		var cmd *string
		secret := false
		if in != nil {
			cmd, secret = in.Update, in.UpdateSecret
			if cmd == nil {
				cmd, secret = in.Create, in.CreateSecret
			}
		}
		if req.GetPreview() {
			if in != nil && cmd == nil {
				return respond(outputsOf(news, valueOr(olds, pStdout), valueOr(olds, pStderr)))
			}
			return respond(outputsOf(news, unknownProp(), unknownProp()))
		}
		if cmd == nil {
			// Nothing to run: the previous output stays.
			return respond(outputsOf(news, valueOr(olds, pStdout), valueOr(olds, pStderr)))
		}
		stdout, stderr, err := run(ctx, in.Conn,
			in.spec(*cmd, secret, prevOutput(olds, pStdout), prevOutput(olds, pStderr)), s.hooks(ctx, urn))
		if err != nil {
			return nil, err
		}
		return respond(recordOfferedHostKeys(outputsOf(news, outputProp(stdout, news), outputProp(stderr, news)), in.Conn, s.hooks(ctx, urn).Warn))
	case typeCopyRemote:
		if req.GetPreview() {
			return respond(outputsOf(news, nil, nil))
		}
		in, err := decodeCopy(news)
		if err != nil {
			return nil, err
		}
		if err := copyToRemote(ctx, in.Conn, in.Source, in.RemotePath, s.wd, s.hooks(ctx, urn).Status); err != nil {
			return nil, err
		}
		return respond(recordOfferedHostKeys(outputsOf(news, nil, nil), in.Conn, s.hooks(ctx, urn).Warn))
	}
	return nil, unknownType(t)
}

func valueOr(m resource.PropertyMap, key string) *resource.PropertyValue {
	if v, ok := present(m, key); ok {
		return &v
	}
	return strProp("")
}

func (s *server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	urn := resource.URN(req.GetUrn())
	t := string(urn.Type())
	switch t {
	case typeCopyRemote:
		return &emptypb.Empty{}, nil // nothing is removed from the remote host
	case typeCommand:
	default:
		return nil, unknownType(t)
	}
	state, err := unmarshal("state", req.GetProperties())
	if err != nil {
		return nil, err
	}
	if d, ok := present(state, pDelete); !ok || d.IsComputed() {
		return &emptypb.Empty{}, nil
	}
	in, err := decodeCommand(state)
	if err != nil {
		return nil, err
	}
	if in.Delete == nil {
		return &emptypb.Empty{}, nil
	}
	ctx, done := s.opContext(ctx)
	defer done()
	_, _, err = run(ctx, in.Conn,
		in.spec(*in.Delete, in.DeleteSecret, prevOutput(state, pStdout), prevOutput(state, pStderr)), s.hooks(ctx, urn))
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Read (refresh, import) has nothing to ask the remote host: the state stays as it is.
func (s *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	t := resourceType(req.GetUrn())
	if t != typeCommand && t != typeCopyRemote {
		return nil, unknownType(t)
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}
