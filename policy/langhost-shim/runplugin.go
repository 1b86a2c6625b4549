package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// runPlugin answers RunPlugin. Only policy packs are run here; any other kind of Node.js plugin gets the
// same answer the old host gives.
func runPlugin(ss grpc.ServerStream) error {
	req := &pulumirpc.RunPluginRequest{}
	if err := ss.RecvMsg(req); err != nil {
		return err
	}
	if req.GetKind() != "analyzer" {
		return status.Errorf(codes.Unimplemented,
			"RunPlugin for %q plugins is not supported by this language host (quay-mirror's shim runs policy packs only)", req.GetKind())
	}
	stream := &grpc.GenericServerStream[pulumirpc.RunPluginRequest, pulumirpc.RunPluginResponse]{ServerStream: ss}
	return runPolicyPack(ss.Context(), req, stream)
}

// packOptions are the `runtime.options` of PulumiPolicy.yaml that change how node runs the pack.
type packOptions struct {
	typescript bool
	tsconfig   string
	nodeargs   []string
}

func parsePackOptions(req *pulumirpc.RunPluginRequest) packOptions {
	opts := packOptions{typescript: true}
	m := req.GetInfo().GetOptions().AsMap()
	if v, ok := m["typescript"].(bool); ok {
		opts.typescript = v
	}
	if v, ok := m["tsconfig"].(string); ok {
		opts.tsconfig = v
	}
	if v, ok := m["nodeargs"].(string); ok {
		opts.nodeargs = strings.Fields(v)
	}
	return opts
}

// locate resolves a module the way node does from the pack's directory, so the pack's own
// node_modules (here: the repository's) provides @pulumi/pulumi.
func locate(ctx context.Context, node, module, dir string) (string, error) {
	script := fmt.Sprintf("try { console.log(require.resolve(%q)) } catch (e) { console.error(e.message); process.exit(1) }", module)
	cmd := exec.CommandContext(ctx, node, "-e", script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		detail := ""
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			detail = strings.TrimSpace(string(exit.Stderr))
		}
		return "", fmt.Errorf("cannot find %s from %s (run npm install there): %v %s", module, dir, err, detail)
	}
	return strings.TrimSpace(string(out)), nil
}

// runPolicyPack starts `node <run-policy-pack> [nodeargs] <engine args…> <pack dir>` in the pack's
// directory. The SDK's PolicyProxy receives the engine's ConfigureStack first, so the pack starts with
// the stack's organization, project, stack, dry-run flag and config in its environment, as with the
// hosts that have RunPlugin.
func runPolicyPack(ctx context.Context, req *pulumirpc.RunPluginRequest, stream pulumirpc.LanguageRuntime_RunPluginServer) error {
	dir := req.GetInfo().GetProgramDirectory()
	node, err := exec.LookPath("node")
	if err != nil {
		return err
	}
	runPath, err := locate(ctx, node, "@pulumi/pulumi/cmd/run-policy-pack", dir)
	if err != nil {
		return err
	}
	opts := parsePackOptions(req)
	env := append([]string{}, req.GetEnv()...)
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	args := append([]string{runPath}, opts.nodeargs...)
	args = append(args, req.GetArgs()...)
	args = append(args, dir)

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(stream, false)
	if err != nil {
		return err
	}
	defer closer.Close()

	policyProxy, stdout, err := sdk.NewPolicyProxy(ctx, stdout)
	if err != nil {
		return fmt.Errorf("could not start the policy pack proxy: %w", err)
	}
	config, err := policyProxy.AwaitConfiguration(ctx)
	if err != nil {
		return fmt.Errorf("could not get the stack configuration: %w", err)
	}
	if config != nil {
		add := func(k, v string) {
			if v != "" {
				env = append(env, k+"="+v)
			}
		}
		add("PULUMI_NODEJS_ORGANIZATION", config.GetOrganization())
		add("PULUMI_NODEJS_PROJECT", config.GetProject())
		add("PULUMI_NODEJS_STACK", config.GetStack())
		add("PULUMI_NODEJS_DRY_RUN", strconv.FormatBool(config.GetDryRun()))
		if config.GetConfig() != nil {
			b, err := json.Marshal(config.GetConfig())
			if err != nil {
				return err
			}
			add("PULUMI_CONFIG", string(b))
		}
	}

	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not run node: %w", err)
	}
	if err := policyProxy.Attach(ctx, cmd); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("policy pack in %s exited with code %d", dir, exit.ExitCode())
		}
		return err
	}
	return closer.Close()
}
