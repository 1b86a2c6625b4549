package main

import (
	"encoding/json"
)

// schemaJSON is the package schema for the resources this provider implements, with the property names,
// types, required lists and secrets of @pulumi/command 1.2.1's command:remote:Command and
// command:remote:CopyToRemote. (The Node SDK does not read it; the engine and tools may.)
func schemaJSON(version string) string {
	str := map[string]any{"type": "string"}
	secretStr := map[string]any{"type": "string", "secret": true}
	integer := map[string]any{"type": "integer"}
	// triggers: replaceOnChanges gives the SDK's replaceOnChanges: ["triggers[*]"].
	anyArray := map[string]any{"type": "array", "items": map[string]any{"$ref": "pulumi.json#/Any"}, "replaceOnChanges": true}
	connProps := func(bastion bool) map[string]any {
		p := map[string]any{
			"host":               str,
			"port":               map[string]any{"type": "number", "default": defaultPort},
			"user":               merge(str, map[string]any{"default": defaultUser}),
			"password":           secretStr,
			"privateKey":         secretStr,
			"privateKeyPassword": secretStr,
			"agentSocketPath":    str,
			"hostKey": merge(str, map[string]any{"description": "Required here (unlike pulumi-command): the host's public key in " +
				"authorized_keys format, or \"" + TrustOnFirstUse + "\" to accept and record the key offered on Create."}),
			"dialErrorLimit": merge(integer, map[string]any{"default": defaultDialErrorLimit}),
			"perDialTimeout": merge(integer, map[string]any{"default": defaultPerDialTimeout}),
		}
		if !bastion {
			p["proxy"] = map[string]any{"$ref": "#/types/command:remote:ProxyConnection"}
		}
		return p
	}
	connRef := map[string]any{"$ref": "#/types/command:remote:Connection", "secret": true}
	commandInputs := map[string]any{
		"connection":             connRef,
		"create":                 str,
		"update":                 str,
		"delete":                 str,
		"environment":            map[string]any{"type": "object", "additionalProperties": str},
		"stdin":                  str,
		"triggers":               anyArray,
		"logging":                map[string]any{"$ref": "#/types/command:remote:Logging"},
		"addPreviousOutputInEnv": map[string]any{"type": "boolean"},
	}
	commandOutputs := merge(commandInputs, map[string]any{"stdout": str, "stderr": str})
	copyInputs := map[string]any{
		"connection": connRef,
		"source":     map[string]any{"$ref": "pulumi.json#/Asset"},
		"remotePath": str,
		"triggers":   anyArray,
	}
	s := map[string]any{
		"name":        providerName,
		"displayName": "Command",
		"version":     version,
		"description": "quay-mirror's implementation of the remote resources of the Pulumi command provider (the contract of pulumi-command 1.2.1).",
		"meta":        map[string]any{"moduleFormat": "(.*)"},
		"language":    map[string]any{"nodejs": map[string]any{"packageName": "@pulumi/command"}},
		"config":      map[string]any{},
		"provider":    map[string]any{"type": "object"},
		"types": map[string]any{
			"command:remote:Connection": map[string]any{
				"type": "object", "description": "Instructions for how to connect to a remote endpoint.",
				"properties": connProps(false), "required": []string{"host"},
			},
			"command:remote:ProxyConnection": map[string]any{
				"type": "object", "description": "Instructions for how to connect to a remote endpoint via a bastion host.",
				"properties": connProps(true), "required": []string{"host"},
			},
			"command:remote:Logging": map[string]any{
				"type": "string",
				"enum": []map[string]any{
					{"name": "Stdout", "value": "stdout"}, {"name": "Stderr", "value": "stderr"},
					{"name": "StdoutAndStderr", "value": "stdoutAndStderr"}, {"name": "None", "value": "none"},
				},
			},
		},
		"resources": map[string]any{
			typeCommand: map[string]any{
				"description":     "A command to run on a remote host. The connection is established via ssh.",
				"inputProperties": commandInputs, "requiredInputs": []string{"connection"},
				"properties": commandOutputs, "required": []string{"connection", "stdout", "stderr"},
			},
			typeCopyRemote: map[string]any{
				"description":     "Copy an Asset or Archive to a remote host.",
				"inputProperties": copyInputs, "requiredInputs": []string{"connection", "source", "remotePath"},
				"properties": copyInputs, "required": []string{"connection", "source", "remotePath"},
			},
		},
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
