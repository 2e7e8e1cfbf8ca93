package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fakeEnv builds getenv/lookPath stand-ins so interpreter choice is tested
// without touching the real PATH or environment.
func fakeEnv(vars map[string]string, onPath ...string) (func(string) string, func(string) (string, error)) {
	getenv := func(k string) string { return vars[k] }
	lookPath := func(name string) (string, error) {
		if slices.Contains(onPath, name) {
			return "/usr/bin/" + name, nil
		}
		return "", errors.New("not found")
	}
	return getenv, lookPath
}

func TestChooseInterpreterVirtualenvRelativeToProjectRoot(t *testing.T) {
	getenv, lookPath := fakeEnv(map[string]string{"PULUMI_PYTHON_CMD": "python3.11"}, "python3", "python3.11")
	py, err := chooseInterpreter("/proj", map[string]any{"virtualenv": ".venv"}, getenv, lookPath)
	if err != nil {
		t.Fatal(err)
	}
	// The venv wins over PULUMI_PYTHON_CMD and is resolved against the root, not the program dir.
	if py.Path != "/proj/.venv/bin/python" || py.Virtualenv != "/proj/.venv" {
		t.Fatalf("got %+v", py)
	}
}

func TestChooseInterpreterAbsoluteVirtualenv(t *testing.T) {
	getenv, lookPath := fakeEnv(nil)
	py, err := chooseInterpreter("/proj", map[string]any{"virtualenv": "/opt/venv/"}, getenv, lookPath)
	if err != nil {
		t.Fatal(err)
	}
	if py.Path != "/opt/venv/bin/python" {
		t.Fatalf("got %+v", py)
	}
}

func TestChooseInterpreterBadVirtualenvOption(t *testing.T) {
	getenv, lookPath := fakeEnv(nil, "python3")
	for _, v := range []any{42, ""} {
		if _, err := chooseInterpreter("/proj", map[string]any{"virtualenv": v}, getenv, lookPath); err == nil {
			t.Fatalf("virtualenv=%v: expected an error", v)
		}
	}
}

func TestChooseInterpreterPulumiPythonCmd(t *testing.T) {
	getenv, lookPath := fakeEnv(map[string]string{"PULUMI_PYTHON_CMD": "python3.11"}, "python3", "python3.11")
	py, err := chooseInterpreter("/proj", nil, getenv, lookPath)
	if err != nil {
		t.Fatal(err)
	}
	if py.Path != "/usr/bin/python3.11" || py.Virtualenv != "" || py.Source != "PULUMI_PYTHON_CMD" {
		t.Fatalf("got %+v", py)
	}

	getenv, lookPath = fakeEnv(map[string]string{"PULUMI_PYTHON_CMD": "nope"}, "python3")
	if _, err := chooseInterpreter("/proj", nil, getenv, lookPath); err == nil {
		t.Fatal("expected an error for a PULUMI_PYTHON_CMD that is not on PATH")
	}
}

func TestChooseInterpreterPython3OnPath(t *testing.T) {
	getenv, lookPath := fakeEnv(nil, "python3")
	py, err := chooseInterpreter("/proj", map[string]any{"toolchain": "pip"}, getenv, lookPath)
	if err != nil {
		t.Fatal(err)
	}
	if py.Path != "/usr/bin/python3" {
		t.Fatalf("got %+v", py)
	}

	getenv, lookPath = fakeEnv(nil)
	if _, err := chooseInterpreter("/proj", nil, getenv, lookPath); err == nil {
		t.Fatal("expected an error when no python3 is on PATH")
	}
}

func TestInterpreterValidate(t *testing.T) {
	dir := t.TempDir()
	py := interpreter{Virtualenv: dir, Path: filepath.Join(dir, "bin", "python")}
	if err := py.validate(); err == nil {
		t.Fatal("expected an error for a venv without bin/python")
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(py.Path, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := py.validate(); err != nil {
		t.Fatal(err)
	}
	if err := (interpreter{Path: "/usr/bin/python3"}).validate(); err != nil {
		t.Fatal("ambient interpreters need no validation:", err)
	}
}

func TestInterpreterEnviron(t *testing.T) {
	base := []string{"HOME=/root", "PATH=/usr/bin", "PYTHONHOME=/x", "VIRTUAL_ENV=/old"}
	got := interpreter{Virtualenv: "/proj/venv", Path: "/proj/venv/bin/python"}.environ(base)
	want := []string{"HOME=/root", "PATH=/proj/venv/bin:/usr/bin", "VIRTUAL_ENV=/proj/venv"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := (interpreter{Path: "/usr/bin/python3"}).environ(base); !slices.Equal(got, base) {
		t.Fatalf("ambient interpreter must not change the environment, got %q", got)
	}
	if got := (interpreter{Virtualenv: "/v"}).environ(nil); !slices.Equal(got, []string{"PATH=/v/bin", "VIRTUAL_ENV=/v"}) {
		t.Fatalf("got %q", got)
	}
}
