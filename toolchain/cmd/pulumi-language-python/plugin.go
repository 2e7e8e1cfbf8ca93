package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// RunPlugin starts a plugin written in Python. The engine uses it for policy
// packs (PulumiPolicy.yaml with `runtime: python`): once a `python` language
// host is installed the engine no longer looks for the old
// `pulumi-analyzer-policy-python` script, it asks the language host instead.
// The pack's `__main__.py` is run as `<python> -u <program dir>/<entry point>
// <engine address>`; the pulumi_policy SDK serves the Analyzer on a loopback
// port and prints the port as its first line of stdout, which we relay.
func (h *languageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	info := req.GetInfo()
	py, err := chooseInterpreter(info.GetRootDirectory(), info.GetOptions().AsMap(), os.Getenv, exec.LookPath)
	if err == nil {
		err = py.validate()
	}
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(server.Context())
	defer cancel()
	defer context.AfterFunc(h.cancelRuns, cancel)()

	args := pluginArgs(req)
	cmd := exec.CommandContext(ctx, py.Path, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Dir = req.GetPwd()
	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	cmd.Env = py.environ(env)
	relay := &streamRelay{send: server.Send}
	cmd.Stdout = relay.writer(stdoutChunk)
	cmd.Stderr = relay.writer(stderrChunk)

	logging.V(5).Infof("pulumi-language-python: running plugin %s %s", py.Path, strings.Join(args, " "))
	return relay.sendLocked(exitCodeMessage(cmd.Run()))
}

// pluginArgs is the interpreter's command line for a plugin: unbuffered, the
// plugin's entry point (a directory runs its __main__.py), then the engine's args.
func pluginArgs(req *pulumirpc.RunPluginRequest) []string {
	info := req.GetInfo()
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	program := filepath.Join(info.GetProgramDirectory(), entry)
	if info.GetProgramDirectory() == "" {
		program = req.GetProgram() // engines that predate ProgramInfo
	}
	return append([]string{"-u", program}, req.GetArgs()...)
}

func stdoutChunk(b []byte) *pulumirpc.RunPluginResponse {
	return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
}

func stderrChunk(b []byte) *pulumirpc.RunPluginResponse {
	return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
}

// exitCodeMessage is the stream's last message: the plugin's exit code, -1 when
// it never started or was killed by a signal.
func exitCodeMessage(err error) *pulumirpc.RunPluginResponse {
	code := int32(0)
	if err != nil {
		code = -1
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && exitErr.ExitCode() >= 0 {
			code = int32(exitErr.ExitCode())
		}
	}
	return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}}
}

// streamRelay serialises sends: a gRPC stream must not be written from two
// goroutines at once, and exec copies stdout and stderr in one goroutine each.
type streamRelay struct {
	mu   sync.Mutex
	send func(*pulumirpc.RunPluginResponse) error
}

func (r *streamRelay) writer(wrap func([]byte) *pulumirpc.RunPluginResponse) *relayWriter {
	return &relayWriter{relay: r, wrap: wrap}
}

func (r *streamRelay) sendLocked(msg *pulumirpc.RunPluginResponse) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.send(msg)
}

type relayWriter struct {
	relay *streamRelay
	wrap  func([]byte) *pulumirpc.RunPluginResponse
}

func (w *relayWriter) Write(b []byte) (int, error) {
	// The stream may hold on to the message after Send returns: send a copy.
	if err := w.relay.sendLocked(w.wrap(append([]byte(nil), b...))); err != nil {
		return 0, err
	}
	return len(b), nil
}
