package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTurnLoadFlags(t *testing.T) {
	cases := []struct {
		args []string
		bad  string // "" means valid
	}{
		{nil, ""},
		{[]string{"--server", "coturn@127.0.0.1:3478", "--secret", "s"}, ""},
		{[]string{"--server", "127.0.0.1:3478,127.0.0.1:3479", "--secret", "a,b"}, ""},
		{[]string{"--server", "127.0.0.1:3478"}, "--server needs --secret"},
		{[]string{"--server", "a@1,b@2", "--secret", "x,y,z"}, "3 secrets for 2 servers"},
		{[]string{"--transport", "sctp"}, "--transport"},
		{[]string{"--rate", "100,fast"}, "--rate"},
		{[]string{"--rate", "-1"}, "--rate"},
		{[]string{"--flows", "2.5"}, "whole number"},
		{[]string{"--pps", "0"}, "--pps"},
		{[]string{"--payload", "10"}, "--payload"},
		{[]string{"extra"}, "takes no arguments"},
	}
	for _, tc := range cases {
		_, err := parseTurnLoad(tc.args, &bytes.Buffer{})
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad) || codeOf(err) != exitInvalid):
			t.Errorf("%q: %v, want exit 2 mentioning %q", tc.args, err, tc.bad)
		}
	}
}

// A small load against the embedded reference relay: both phases run and
// write their records.
func TestTurnLoadEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := cmdTurnLoad(ctx, []string{"--rate", "50", "--alloc-duration", "200ms", "--flows", "2",
		"--flow-duration", "500ms", "--out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "10/10    granted") || !strings.Contains(stdout.String(), "2 up") {
		t.Errorf("output:\n%s", stdout.String())
	}
	raw, err := os.ReadFile(filepath.Join(out, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), `"kind":"turn-allocation"`); n != 10 {
		t.Errorf("%d allocation records", n)
	}
	if n := strings.Count(string(raw), `"kind":"turn-flow"`); n != 2 {
		t.Errorf("%d flow records", n)
	}
}
