// Command pulumi-resource-command is quay-mirror's own implementation of the `remote` resources of the
// Pulumi `command` provider (command:remote:Command and command:remote:CopyToRemote), written against the
// contract of @pulumi/command 1.2.1 so that the unmodified npm SDK works with it. The real provider cannot
// be built on the project's machines (docs/toolchain.md); where Pulumi's plugin downloads are reachable the
// real plugin can be used instead, unchanged.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Version is set at build time: -ldflags "-X main.Version=1.2.1". The engine asks for exactly the version
// in @pulumi/command's package.json ("pulumi.version").
var Version = "0.0.0-dev"

func main() {
	err := provider.Main(providerName, func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return newServer(host, Version), nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", providerName, err)
		os.Exit(1)
	}
}
