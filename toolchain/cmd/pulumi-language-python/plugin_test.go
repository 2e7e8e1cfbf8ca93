package main

import (
	"errors"
	"os/exec"
	"slices"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestPluginArgsRunThePolicyPackDirectory(t *testing.T) {
	req := &pulumirpc.RunPluginRequest{
		Args: []string{"127.0.0.1:4000"},
		Info: &pulumirpc.ProgramInfo{RootDirectory: "/proj/policies", ProgramDirectory: "/proj/policies", EntryPoint: "."},
	}
	want := []string{"-u", "/proj/policies", "127.0.0.1:4000"}
	if got := pluginArgs(req); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPluginArgsWithoutProgramInfo(t *testing.T) {
	req := &pulumirpc.RunPluginRequest{Program: "/old/pack", Args: []string{"a"}}
	want := []string{"-u", "/old/pack", "a"}
	if got := pluginArgs(req); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestExitCodeMessage(t *testing.T) {
	exitErr := exec.Command("sh", "-c", "exit 3").Run()
	cases := []struct {
		err  error
		want int32
	}{{nil, 0}, {exitErr, 3}, {errors.New("never started"), -1}}
	for _, c := range cases {
		got := exitCodeMessage(c.err).GetExitcode()
		if got != c.want {
			t.Errorf("%v: got %d, want %d", c.err, got, c.want)
		}
	}
}

func TestRelaySendsEachWriteAsItsOwnCopy(t *testing.T) {
	var sent []*pulumirpc.RunPluginResponse
	relay := &streamRelay{send: func(m *pulumirpc.RunPluginResponse) error { sent = append(sent, m); return nil }}
	buf := []byte("4000\n")
	if _, err := relay.writer(stdoutChunk).Write(buf); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'x'
	if _, err := relay.writer(stderrChunk).Write([]byte("warn")); err != nil {
		t.Fatal(err)
	}
	if string(sent[0].GetStdout()) != "4000\n" || string(sent[1].GetStderr()) != "warn" {
		t.Fatalf("got %v", sent)
	}
}

func TestRelayReportsAClosedStream(t *testing.T) {
	relay := &streamRelay{send: func(*pulumirpc.RunPluginResponse) error { return errors.New("closed") }}
	if _, err := relay.writer(stdoutChunk).Write([]byte("x")); err == nil {
		t.Fatal("expected the stream's error")
	}
}
