package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The SDK's exec shim exits with this code after it has already logged the
// error (e.g. an unhandled exception with its traceback) through the engine.
// Reporting anything more would only duplicate the message, so we "bail".
const exitCodeUserSawMessage = 32

// Environment variables the Python SDK reads its configuration from
// (pulumi.runtime.get_config_env / get_config_secret_keys_env).
const (
	envConfig           = "PULUMI_CONFIG"
	envConfigSecretKeys = "PULUMI_CONFIG_SECRET_KEYS"
)

// execArgs builds the command line for `pulumi-language-python-exec`, whose
// argparse flags are --monitor, --engine, --project, --stack, --root_directory,
// --pwd, --dry_run, --parallel, --tracing, --organization, then the program path
// and its arguments. Empty values are left out so the shim's defaults apply.
func execArgs(req *pulumirpc.RunRequest, engineAddress, tracing string) []string {
	var args []string
	add := func(flag, value string) {
		if value != "" {
			args = append(args, "--"+flag, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", engineAddress)
	add("project", req.GetProject())
	add("root_directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	// The shim compares dry_run against the string "true" and int()s parallel,
	// so both are always passed.
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("tracing", tracing)
	add("organization", req.GetOrganization())

	// The entry point is relative to --pwd (the program directory). For
	// `main: infra/` the engine sends "." and runpy runs infra/__main__.py.
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = req.GetProgram() // engines that predate ProgramInfo
	}
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
}

// configEnv returns the PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS entries the
// SDK expects: a JSON object of "project:key" -> value and a JSON list of the
// keys whose values are secret.
func configEnv(req *pulumirpc.RunRequest) ([]string, error) {
	var env []string
	if cfg := req.GetConfig(); cfg != nil {
		b, err := json.Marshal(cfg)
		if err != nil {
			return nil, fmt.Errorf("serializing config: %w", err)
		}
		env = append(env, envConfig+"="+string(b))
	}
	keys := req.GetConfigSecretKeys()
	if keys == nil {
		keys = []string{}
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return nil, fmt.Errorf("serializing secret config keys: %w", err)
	}
	return append(env, envConfigSecretKeys+"="+string(b)), nil
}

// runResponse turns the outcome of the Python process into the engine's
// RunResponse: success is empty, exit 32 is a bail (message already shown),
// anything else is an error string the engine prints.
func runResponse(err error) *pulumirpc.RunResponse {
	if err == nil {
		return &pulumirpc.RunResponse{}
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		// Python never started (missing interpreter, bad permissions, ...).
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("problem executing program (could not run language executor): %v", err),
		}
	}
	if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program was terminated by signal: %v", ws.Signal())}
	}
	switch code := exitErr.ExitCode(); code {
	case exitCodeUserSawMessage:
		return &pulumirpc.RunResponse{Bail: true}
	case 0, -1:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited unexpectedly: %v", err)}
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", code)}
	}
}
