package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// languageHost serves the engine's LanguageRuntime gRPC service for Python.
// Embedding UnimplementedLanguageRuntimeServer makes every RPC we do not write
// below (codegen, Pack, Link, About's siblings, ...) answer with a
// clear codes.Unimplemented instead of failing to compile or hanging.
type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	execShim string // path of pulumi-language-python-exec
	tracing  string // forwarded to the program so its spans join the engine's trace

	mu            sync.Mutex
	engineAddress string

	// cancelRuns is closed by the Cancel RPC; it stops any running program.
	cancelRuns context.Context
	cancelAll  context.CancelFunc
}

func newLanguageHost(execShim, engineAddress, tracing string) *languageHost {
	ctx, cancel := context.WithCancel(context.Background())
	return &languageHost{
		execShim:      execShim,
		tracing:       tracing,
		engineAddress: engineAddress,
		cancelRuns:    ctx,
		cancelAll:     cancel,
	}
}

func (h *languageHost) register(srv *grpc.Server) error {
	pulumirpc.RegisterLanguageRuntimeServer(srv, h)
	return nil
}

func (h *languageHost) engine() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.engineAddress
}

// Handshake is how an engine that *attached* to an already running host
// (PULUMI_DEBUG_LANGUAGES) tells us its address; a normally launched host gets
// it as the last command-line argument instead.
func (h *languageHost) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.mu.Lock()
	h.engineAddress = req.GetEngineAddress()
	h.mu.Unlock()
	// Same liveness watch as at start-up: stop running programs if the engine goes away.
	if err := rpcutil.Healthcheck(context.Background(), req.GetEngineAddress(), 5*time.Minute, h.cancelAll); err != nil {
		return nil, err
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: pluginVersion()}, nil
}

// GetRequiredPlugins and GetRequiredPackages report no plugins at all. The
// official host asks pip which installed packages ship a pulumi-plugin.json so
// the engine can download provider binaries; this machine cannot download any
// (no get.pulumi.com, no GitHub), and our programs need none: Python dynamic
// providers run through the pulumi-resource-pulumi-python shim that sits
// beside the CLI. Reporting "none" keeps the engine from attempting downloads.
func (h *languageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *languageHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// InstallDependencies is a deliberate no-op: the project's venv is created and
// pinned by the repo's own tooling, not by `pulumi install`/`pulumi new`. The
// stream is still completed so callers do not hang or error.
func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, stream pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	return stream.Send(&pulumirpc.InstallDependenciesResponse{
		Stdout: []byte("pulumi-language-python: dependencies are managed outside Pulumi; nothing installed.\n"),
	})
}

// About feeds `pulumi about` and the runtime metadata recorded with each update.
func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	py, err := chooseInterpreter(
		req.GetInfo().GetRootDirectory(), req.GetInfo().GetOptions().AsMap(), os.Getenv, exec.LookPath)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py.Path, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: py.Path,
		Version:    strings.TrimSpace(strings.TrimPrefix(string(out), "Python ")),
		Metadata:   map[string]string{"interpreter": py.Source},
	}, nil
}

// Run executes the user's program once: `<python> -u pulumi-language-python-exec
// <flags> <entry point>`, with the program's output going straight to our own
// stdout/stderr, which the engine already streams to the user.
func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	engine := h.engine()
	if engine == "" {
		return nil, errors.New("no engine address: it must be passed on the command line or via Handshake before Run")
	}

	py, err := chooseInterpreter(
		req.GetInfo().GetRootDirectory(), req.GetInfo().GetOptions().AsMap(), os.Getenv, exec.LookPath)
	if err == nil {
		err = py.validate()
	}
	if err != nil {
		// A project misconfiguration, not a host failure: show it as the program's error.
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	cfgEnv, err := configEnv(req)
	if err != nil {
		return nil, err
	}

	// Stop the program when the engine calls Cancel or abandons this RPC.
	runCtx, cancel := context.WithCancel(h.cancelRuns)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()

	args := append([]string{"-u", h.execShim}, execArgs(req, engine, h.tracing)...)
	cmd := exec.CommandContext(runCtx, py.Path, args...)
	// Interrupt first so Python can unwind (and the SDK flush), kill only if it hangs.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = append(py.environ(os.Environ()), cfgEnv...)

	logging.V(5).Infof("pulumi-language-python: running %s %s", py.Path, strings.Join(args, " "))
	err = cmd.Run()
	if err != nil && runCtx.Err() != nil {
		return &pulumirpc.RunResponse{Error: "program was cancelled"}, nil
	}
	return runResponse(err), nil
}

func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancelAll()
	return &emptypb.Empty{}, nil
}
