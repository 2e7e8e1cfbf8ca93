// Command pulumi-language-python is regionstack's own Pulumi language host for
// Python programs. The engine starts it when a project says `runtime: python`;
// it runs the program through the Python SDK's `pulumi-language-python-exec`
// shim. We build our own because the Go proxy this project can reach does not
// serve the official host module (see toolchain/README.md).
//
// Start-up protocol (what the engine expects from any plugin):
//   - argv: optional engine flags (-v, --logtostderr, --tracing X), then the
//     engine's gRPC address as the last positional argument;
//   - we serve gRPC on a kernel-chosen loopback port and print that port as the
//     first line of stdout; everything printed after that is shown to the user;
//   - we watch the engine's health endpoint and shut down if it disappears, so
//     an engine crash never leaves us running.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
)

// execShimName is the SDK's Python runner. build.sh copies it from the
// sdk/v3 Go module next to this binary, which is where we look for it.
const execShimName = "pulumi-language-python-exec"

func main() {
	// -v and -logtostderr are already registered by the SDK's logging package.
	tracing := flag.String("tracing", "", "Zipkin-compatible tracing endpoint, forwarded to the program")
	showVersion := flag.Bool("version", false, "print the plugin version and exit")
	executor := flag.String("use-executor", "", "path of "+execShimName+" (default: next to this binary)")
	flag.Parse()

	if *showVersion {
		fmt.Println(pluginVersion())
		return
	}
	logging.InitLogging(false, 0, false)

	shim, err := findExecShim(*executor)
	if err != nil {
		fail(err)
	}
	engineAddress := flag.Arg(0)

	// Both Ctrl-C and a dead engine end the server; the deferred stop()
	// unregisters the signal handler.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, stop); err != nil {
			fail(fmt.Errorf("could not start health check of the engine: %w", err))
		}
	}
	shutdown := make(chan bool)
	go func() {
		<-ctx.Done()
		close(shutdown)
	}()

	host := newLanguageHost(shim, engineAddress, *tracing)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: shutdown,
		Init:   host.register,
	})
	if err != nil {
		fail(fmt.Errorf("could not start the language host gRPC server: %w", err))
	}

	// The engine reads exactly this first line to learn where to connect.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		fail(fmt.Errorf("language host stopped serving: %w", err))
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: error: %v\n", err)
	os.Exit(1)
}

// findExecShim returns the -use-executor path if given, else the shim next to
// our own (symlink-resolved) executable.
func findExecShim(given string) (string, error) {
	path := given
	if path == "" {
		self, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("cannot locate own executable: %w", err)
		}
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			self = resolved
		}
		path = filepath.Join(filepath.Dir(self), execShimName)
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("missing %s (run toolchain/build.sh, which installs it next to this binary): %w",
			execShimName, err)
	}
	return path, nil
}

// pluginVersion is what GetPluginInfo and -version report, without a "v".
// build.sh stamps the SDK's version variable with -ldflags; an unstamped
// `go build` falls back to the sdk/v3 module version recorded in the binary,
// which go.mod pins to the same release as the PyPI SDK.
func pluginVersion() string {
	if v := strings.TrimPrefix(version.Version, "v"); v != "" {
		return v
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/pulumi/pulumi/sdk/v3" {
				return strings.TrimPrefix(dep.Version, "v")
			}
		}
	}
	return "0.0.0-dev"
}
