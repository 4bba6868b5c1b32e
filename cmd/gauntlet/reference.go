package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/reference"
)

// cmdReference runs the reference deployment standalone until interrupted
// and prints the target file that points at it. On the interrupt it
// drains: no new calls, the current ones BYEd at the drain timeout.
func cmdReference(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reference", "reference [--config FILE] [--ws ADDR] [--udp ADDR] [--weaken LIST] [--print-target FILE]", stderr)
	configPath := fs.String("config", "", "reference config (YAML, see reference/testdata/reference.yaml); flags given too override it")
	ws := fs.String("ws", "127.0.0.1:5066", "listen address of SIP over WebSocket")
	udp := fs.String("udp", "127.0.0.1:5060", "listen address of SIP over UDP")
	weaken := fs.String("weaken", "", "comma-separated defences to switch off: "+strings.Join(reference.WeakenNames(), ", "))
	printTarget := fs.String("print-target", "", "also write the target file here")
	verbose := fs.Bool("v", false, "log SIP and media events to stderr")
	if pos, err := parseInterleaved(fs, args); err != nil {
		return flagError(err)
	} else if len(pos) != 0 {
		return invalidf("reference takes no arguments, got %q", pos)
	}
	cfg := reference.DefaultConfig()
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *configPath != "" {
		loaded, err := reference.LoadConfig(*configPath)
		if err != nil {
			return withCode(exitInvalid, err, "fix the config file; every field is in reference/testdata/reference.yaml")
		}
		cfg = loaded
	}
	if *configPath == "" || set["ws"] {
		cfg.Gateway.WSAddr = *ws
	}
	if *configPath == "" || set["udp"] {
		cfg.Gateway.UDPAddr = *udp
	}
	if *weaken != "" {
		if err := cfg.Weaken(strings.Split(*weaken, ",")...); err != nil {
			return withCode(exitInvalid, err, "see `gauntlet reference -h` for the switches")
		}
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if err := cfg.Validate(); err != nil {
		return withCode(exitInvalid, err, "see `gauntlet reference -h`")
	}
	ref, err := reference.Start(ctx, cfg)
	if err != nil {
		return withCode(exitInvalid, err, "is another process on that port? choose others with --ws and --udp or in the config")
	}
	target := ref.TargetYAML()
	if *printTarget != "" {
		if err := os.WriteFile(*printTarget, target, 0o600); err != nil {
			return errors.Join(err, ref.Close())
		}
	}
	fmt.Fprintf(stdout, "# the reference is running; target file:\n%s", target)
	if u := ref.Gateway().HTTPURL(); u != "" {
		fmt.Fprintf(stderr, "gauntlet reference: metrics at %s/metrics, TURN credentials at %s/turn-credentials\n", u, u)
	}
	fmt.Fprintln(stderr, "gauntlet reference: running until interrupted (Ctrl-C)")
	<-ctx.Done()
	fmt.Fprintln(stderr, "gauntlet reference: draining")
	return ref.Drain(context.WithoutCancel(ctx))
}
