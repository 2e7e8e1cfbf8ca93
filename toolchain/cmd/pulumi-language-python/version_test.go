package main

import (
	"os"
	"regexp"
	"testing"
)

// An unstamped build must report the sdk/v3 release pinned in go.mod, which
// build.sh keeps equal to the PyPI `pulumi` pin in pyproject.toml.
func TestPluginVersionFallsBackToPinnedSDK(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/pulumi/pulumi/sdk/v3 v(\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod does not require github.com/pulumi/pulumi/sdk/v3")
	}
	if got := pluginVersion(); got != string(m[1]) {
		t.Fatalf("pluginVersion() = %q, want %q", got, m[1])
	}
}
