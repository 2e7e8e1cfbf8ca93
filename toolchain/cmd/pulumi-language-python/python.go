package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// interpreter is the Python the program will run under, plus the environment
// changes needed so that child processes (pip, the SDK's own subprocesses)
// see the same Python.
type interpreter struct {
	// Path is the python executable to start.
	Path string
	// Virtualenv is the absolute venv directory, or "" when running an ambient Python.
	Virtualenv string
	// Source says where the choice came from; used in error messages and About.
	Source string
}

// chooseInterpreter picks the Python for a project, in this order:
//
//  1. the `virtualenv` runtime option from Pulumi.yaml
//     (`runtime: {name: python, options: {virtualenv: .venv}}`), relative to the
//     project root (the directory holding Pulumi.yaml), not the program directory;
//  2. $PULUMI_PYTHON_CMD, the SDK-wide override also honoured by the dynamic
//     provider shim, so program and provider agree;
//  3. `python3` on PATH.
//
// getenv and lookPath are parameters so tests need no real environment.
func chooseInterpreter(
	rootDir string, options map[string]any,
	getenv func(string) string, lookPath func(string) (string, error),
) (interpreter, error) {
	if raw, ok := options["virtualenv"]; ok {
		venv, isString := raw.(string)
		if !isString || venv == "" {
			return interpreter{}, errors.New("the 'virtualenv' runtime option in Pulumi.yaml must be a non-empty string")
		}
		if !filepath.IsAbs(venv) {
			venv = filepath.Join(rootDir, venv)
		}
		venv = filepath.Clean(venv)
		return interpreter{
			Path:       filepath.Join(venv, "bin", "python"),
			Virtualenv: venv,
			Source:     "virtualenv option",
		}, nil
	}

	if cmd := getenv("PULUMI_PYTHON_CMD"); cmd != "" {
		path, err := lookPath(cmd)
		if err != nil {
			return interpreter{}, fmt.Errorf("PULUMI_PYTHON_CMD=%q was not found: %w", cmd, err)
		}
		return interpreter{Path: path, Source: "PULUMI_PYTHON_CMD"}, nil
	}

	path, err := lookPath("python3")
	if err != nil {
		return interpreter{}, errors.New("no python3 on PATH; install Python 3, set PULUMI_PYTHON_CMD, " +
			"or set `runtime.options.virtualenv` in Pulumi.yaml")
	}
	return interpreter{Path: path, Source: "python3 on PATH"}, nil
}

// validate checks a virtualenv really exists before we try to start it, so the
// user gets "create the venv" advice instead of a bare "no such file".
func (py interpreter) validate() error {
	if py.Virtualenv == "" {
		return nil
	}
	if _, err := os.Stat(py.Path); err != nil {
		return fmt.Errorf("the 'virtualenv' option in Pulumi.yaml points at %s, which is not a virtual environment "+
			"(no bin/python). Create it with:\n    python3 -m venv %s\n    %s -m pip install -r requirements.txt",
			py.Virtualenv, py.Virtualenv, py.Path)
	}
	return nil
}

// environ returns base with the virtualenv "activated" the way `source bin/activate`
// would: venv/bin first on PATH, VIRTUAL_ENV set, PYTHONHOME dropped (it would
// make the venv's python load the wrong stdlib). Ambient interpreters get base unchanged.
func (py interpreter) environ(base []string) []string {
	if py.Virtualenv == "" {
		return base
	}
	bin := filepath.Join(py.Virtualenv, "bin")
	out := make([]string, 0, len(base)+2)
	sawPath := false
	for _, kv := range base {
		key, value, _ := strings.Cut(kv, "=")
		switch key {
		case "PYTHONHOME", "VIRTUAL_ENV":
			continue
		case "PATH":
			sawPath = true
			kv = "PATH=" + bin + string(os.PathListSeparator) + value
		}
		out = append(out, kv)
	}
	if !sawPath {
		out = append(out, "PATH="+bin)
	}
	return append(out, "VIRTUAL_ENV="+py.Virtualenv)
}
