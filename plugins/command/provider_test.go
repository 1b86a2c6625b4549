package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

const cmdURN = "urn:pulumi:dev::proj::command:remote:Command::hello"
const copyURN = "urn:pulumi:dev::proj::command:remote:CopyToRemote::conf"

type fakeHost struct {
	mu   sync.Mutex
	logs []string
}

func (f *fakeHost) Log(_ context.Context, sev diag.Severity, _ resource.URN, msg string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, string(sev)+": "+msg)
	return nil
}

func (f *fakeHost) LogStatus(_ context.Context, sev diag.Severity, _ resource.URN, msg string) error {
	return f.Log(context.Background(), sev, "", "status "+msg)
}

func toStruct(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	st, err := plugin.MarshalProperties(m, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func fromStruct(t *testing.T, st *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := plugin.UnmarshalProperties(st, plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// connValue: a connection to s; hostKey as given ("" leaves it out).
func connValue(s *testServer, hostKey string) resource.PropertyValue {
	m := resource.PropertyMap{
		"host":       resource.NewProperty("127.0.0.1"),
		"port":       resource.NewProperty(float64(s.port)),
		"user":       resource.NewProperty("tester"),
		"privateKey": resource.NewProperty(s.clientKeyPEM),
	}
	if hostKey != "" {
		m["hostKey"] = resource.NewProperty(hostKey)
	}
	return resource.MakeSecret(resource.NewObjectProperty(m))
}

func TestCheckAppliesConnectionDefaultsAndValidates(t *testing.T) {
	srv := newServer(nil, "1.2.1")
	_, hk := newKey(t)
	news := resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{"host": resource.NewProperty("h"), "hostKey": resource.NewProperty(authorizedKey(hk.PublicKey()))})),
		"create":     resource.NewProperty("true"),
	}
	resp, err := srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: cmdURN, News: toStruct(t, news)})
	if err != nil || len(resp.Failures) != 0 {
		t.Fatalf("%v %v", err, resp.GetFailures())
	}
	got := fromStruct(t, resp.Inputs)
	c := got["connection"]
	if !c.IsSecret() {
		t.Fatal("connection must stay secret")
	}
	obj := c.SecretValue().Element.ObjectValue()
	if obj["port"].NumberValue() != 22 || obj["user"].StringValue() != "root" ||
		obj["dialErrorLimit"].NumberValue() != 10 || obj["perDialTimeout"].NumberValue() != 15 {
		t.Fatalf("defaults: %v", obj)
	}
	news["logging"] = resource.NewProperty("loud")
	resp, err = srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: cmdURN, News: toStruct(t, news)})
	if err != nil || len(resp.Failures) != 1 || !strings.Contains(resp.Failures[0].Reason, "logging") {
		t.Fatalf("%v %v", err, resp.GetFailures())
	}
	// Unknown values pass (preview).
	news["logging"] = resource.MakeComputed(resource.NewProperty(""))
	if resp, err = srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: cmdURN, News: toStruct(t, news)}); err != nil || len(resp.Failures) != 0 {
		t.Fatalf("%v %v", err, resp.GetFailures())
	}
	// CopyToRemote needs source and remotePath.
	resp, err = srv.Check(context.Background(), &pulumirpc.CheckRequest{Urn: copyURN, News: toStruct(t, resource.PropertyMap{"connection": news["connection"]})})
	if err != nil || len(resp.Failures) < 2 {
		t.Fatalf("%v %v", err, resp.GetFailures())
	}
}

func TestDiffTriggersReplaceEverythingElseUpdates(t *testing.T) {
	srv := newServer(nil, "1.2.1")
	base := resource.PropertyMap{
		"connection": resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{"host": resource.NewProperty("h")})),
		"create":     resource.NewProperty("echo 1"),
		"triggers":   resource.NewProperty([]resource.PropertyValue{resource.NewProperty("a")}),
		"stdout":     resource.NewProperty("1"),
		"stderr":     resource.NewProperty(""),
	}
	diff := func(change func(resource.PropertyMap)) *pulumirpc.DiffResponse {
		news := base.Copy()
		delete(news, "stdout")
		delete(news, "stderr")
		change(news)
		resp, err := srv.Diff(context.Background(), &pulumirpc.DiffRequest{Urn: cmdURN, Olds: toStruct(t, base), News: toStruct(t, news)})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := diff(func(resource.PropertyMap) {}); r.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("no change: %v", r)
	}
	for _, k := range []string{"create", "update", "delete", "stdin", "logging"} {
		r := diff(func(m resource.PropertyMap) { m[resource.PropertyKey(k)] = resource.NewProperty("none") })
		if r.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(r.Replaces) != 0 || r.Diffs[0] != k {
			t.Fatalf("%s: %v", k, r)
		}
	}
	r := diff(func(m resource.PropertyMap) { m["addPreviousOutputInEnv"] = resource.NewProperty(false) })
	if r.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(r.Replaces) != 0 {
		t.Fatalf("addPreviousOutputInEnv: %v", r)
	}
	r = diff(func(m resource.PropertyMap) {
		m["connection"] = resource.NewObjectProperty(resource.PropertyMap{"host": resource.NewProperty("other")})
	})
	if r.Changes != pulumirpc.DiffResponse_DIFF_SOME || len(r.Replaces) != 0 {
		t.Fatalf("connection: %v", r)
	}
	r = diff(func(m resource.PropertyMap) {
		m["triggers"] = resource.NewProperty([]resource.PropertyValue{resource.NewProperty("b")})
	})
	if len(r.Replaces) != 1 || r.Replaces[0] != "triggers" || r.DetailedDiff["triggers"].Kind != pulumirpc.PropertyDiff_UPDATE_REPLACE {
		t.Fatalf("triggers: %v", r)
	}
	// Secretness alone is no change.
	if r := diff(func(m resource.PropertyMap) { m["create"] = resource.MakeSecret(m["create"]) }); r.Changes != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("secretness: %v", r)
	}
}

func TestCreateUpdateDeleteAndPreview(t *testing.T) {
	s := startServer(t)
	host := &fakeHost{}
	srv := newServer(host, "1.2.1")
	ctx := context.Background()
	dir := t.TempDir()
	inputs := resource.PropertyMap{
		"connection": connValue(s, s.conn().HostKey),
		"create":     resource.NewProperty("echo created; echo create >> " + dir + "/log"),
		"update":     resource.NewProperty(`echo "updated after $PULUMI_COMMAND_STDOUT"`),
		"delete":     resource.NewProperty(`echo "delete $PULUMI_COMMAND_STDOUT" >> ` + dir + "/log"),
		"stdin":      resource.MakeSecret(resource.NewProperty("top-secret-stdin")),
	}
	// Preview: nothing runs, stdout/stderr unknown.
	pre, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: cmdURN, Properties: toStruct(t, inputs), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if p := fromStruct(t, pre.Properties); !p["stdout"].IsComputed() || !p["stderr"].IsComputed() || s.accepted.Load() != 0 {
		t.Fatalf("preview: %v, %d connections", p, s.accepted.Load())
	}
	created, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: cmdURN, Properties: toStruct(t, inputs)})
	if err != nil {
		t.Fatal(err)
	}
	state := fromStruct(t, created.Properties)
	if state["stdout"].StringValue() != "created" || !state["connection"].IsSecret() || !state["stdin"].IsSecret() || created.Id == "" {
		t.Fatalf("state %v id %q", state, created.Id)
	}
	news := inputs.Copy()
	news["stdin"] = resource.MakeSecret(resource.NewProperty("other-secret"))
	updated, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: cmdURN, Id: created.Id, Olds: created.Properties, News: toStruct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	state = fromStruct(t, updated.Properties)
	if got := state["stdout"].StringValue(); got != "updated after created" {
		t.Fatalf("update stdout %q", got)
	}
	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: cmdURN, Id: created.Id, Properties: updated.Properties}); err != nil {
		t.Fatal(err)
	}
	host.mu.Lock()
	logs := strings.Join(host.logs, "\n")
	host.mu.Unlock()
	if !strings.Contains(logs, "info: created") || strings.Contains(logs, "top-secret-stdin") || strings.Contains(logs, "PRIVATE KEY") {
		t.Fatalf("logs %q", logs)
	}
	// An output that contains a secret input's value is secret itself; others stay plain.
	echo := inputs.Copy()
	echo["create"] = resource.NewProperty("cat; echo plain >&2")
	echoed, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: cmdURN, Properties: toStruct(t, echo)})
	if err != nil {
		t.Fatal(err)
	}
	if st := fromStruct(t, echoed.Properties); !st["stdout"].IsSecret() || st["stderr"].IsSecret() {
		t.Fatalf("stdout must be secret, stderr plain: %v", st)
	}
	// A failing create names the command, not the secret stdin.
	bad := inputs.Copy()
	bad["create"] = resource.NewProperty("cat; exit 7")
	_, err = srv.Create(ctx, &pulumirpc.CreateRequest{Urn: cmdURN, Properties: toStruct(t, bad)})
	if err == nil || !strings.Contains(err.Error(), "status 7") || strings.Contains(err.Error(), "top-secret-stdin") {
		t.Fatalf("error %v", err)
	}
}

func TestSchemaIsJSONWithBothResources(t *testing.T) {
	srv := newServer(nil, "1.2.1")
	resp, err := srv.GetSchema(context.Background(), &pulumirpc.GetSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Name      string
		Version   string
		Resources map[string]any
	}
	if err := json.Unmarshal([]byte(resp.Schema), &s); err != nil {
		t.Fatal(err)
	}
	if s.Name != "command" || s.Version != "1.2.1" || s.Resources[typeCommand] == nil || s.Resources[typeCopyRemote] == nil {
		t.Fatalf("schema %+v", s)
	}
	info, _ := srv.GetPluginInfo(context.Background(), nil)
	if info.Version != "1.2.1" {
		t.Fatalf("version %q", info.Version)
	}
}
