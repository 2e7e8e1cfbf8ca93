package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestExecArgs(t *testing.T) {
	req := &pulumirpc.RunRequest{
		MonitorAddress: "127.0.0.1:1000",
		Project:        "regionstack",
		Stack:          "dev",
		Pwd:            "/proj/infra",
		DryRun:         true,
		Parallel:       16,
		Organization:   "organization",
		Args:           []string{"extra"},
		Info: &pulumirpc.ProgramInfo{
			RootDirectory:    "/proj",
			ProgramDirectory: "/proj/infra",
			EntryPoint:       ".",
		},
	}
	got := execArgs(req, "127.0.0.1:2000", "")
	want := []string{
		"--monitor", "127.0.0.1:1000",
		"--engine", "127.0.0.1:2000",
		"--project", "regionstack",
		"--root_directory", "/proj",
		"--stack", "dev",
		"--pwd", "/proj/infra",
		"--dry_run", "true",
		"--parallel", "16",
		"--organization", "organization",
		".", "extra",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestExecArgsDefaults(t *testing.T) {
	// dry_run and parallel are always present (the shim int()s parallel);
	// empty strings are omitted; a missing entry point runs the pwd itself.
	got := execArgs(&pulumirpc.RunRequest{}, "e:1", "http://trace")
	want := []string{"--engine", "e:1", "--dry_run", "false", "--parallel", "0", "--tracing", "http://trace", "."}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	// Engines that predate ProgramInfo send the program in the Program field.
	got = execArgs(&pulumirpc.RunRequest{Program: "main.py"}, "e:1", "")
	if got[len(got)-1] != "main.py" {
		t.Fatalf("got %q", got)
	}
}

func TestConfigEnv(t *testing.T) {
	env, err := configEnv(&pulumirpc.RunRequest{
		Config:           map[string]string{"proj:region": "eu", "proj:token": "s3cr3t"},
		ConfigSecretKeys: []string{"proj:token"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(env) != 2 || !strings.HasPrefix(env[0], "PULUMI_CONFIG=") ||
		env[1] != `PULUMI_CONFIG_SECRET_KEYS=["proj:token"]` {
		t.Fatalf("got %q", env)
	}
	var cfg map[string]string
	if err := json.Unmarshal([]byte(strings.TrimPrefix(env[0], "PULUMI_CONFIG=")), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["proj:region"] != "eu" || cfg["proj:token"] != "s3cr3t" {
		t.Fatalf("got %v", cfg)
	}

	// No config at all: the SDK still gets a valid (empty) secret-keys list.
	env, err = configEnv(&pulumirpc.RunRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(env, []string{"PULUMI_CONFIG_SECRET_KEYS=[]"}) {
		t.Fatalf("got %q", env)
	}
}

// exitWith runs a real process so runResponse sees genuine *exec.ExitErrors.
func exitWith(t *testing.T, script string) error {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	return exec.Command("sh", "-c", script).Run()
}

func TestRunResponse(t *testing.T) {
	if r := runResponse(nil); r.Error != "" || r.Bail {
		t.Fatalf("success: got %+v", r)
	}
	if r := runResponse(exitWith(t, "exit 32")); !r.Bail || r.Error != "" {
		t.Fatalf("exit 32 must bail silently, got %+v", r)
	}
	if r := runResponse(exitWith(t, "exit 1")); r.Bail || r.Error != "program exited with non-zero exit code: 1" {
		t.Fatalf("exit 1: got %+v", r)
	}
	if r := runResponse(exitWith(t, "kill -9 $$")); r.Bail || !strings.Contains(r.Error, "signal") {
		t.Fatalf("killed: got %+v", r)
	}
	r := runResponse(errors.New("exec: python: not found"))
	if r.Bail || !strings.Contains(r.Error, "could not run language executor") {
		t.Fatalf("start failure: got %+v", r)
	}
}
