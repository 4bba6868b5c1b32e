package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/gauntlet-rtc/gauntlet/reference"
)

// cmdReference runs the reference deployment standalone until interrupted
// and prints the target file that points at it.
func cmdReference(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reference", "reference [--ws ADDR] [--udp ADDR] [--print-target FILE]", stderr)
	cfg := reference.DefaultConfig()
	fs.StringVar(&cfg.Gateway.WSAddr, "ws", "127.0.0.1:5066", "listen address of SIP over WebSocket")
	fs.StringVar(&cfg.Gateway.UDPAddr, "udp", "127.0.0.1:5060", "listen address of SIP over UDP")
	printTarget := fs.String("print-target", "", "also write the target file here")
	verbose := fs.Bool("v", false, "log SIP and media events to stderr")
	if pos, err := parseInterleaved(fs, args); err != nil {
		return flagError(err)
	} else if len(pos) != 0 {
		return invalidf("reference takes no arguments, got %q", pos)
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ref, err := reference.Start(ctx, cfg)
	if err != nil {
		return withCode(exitInvalid, err, "is another process on that port? choose others with --ws and --udp")
	}
	defer ref.Close()
	target := ref.TargetYAML()
	if *printTarget != "" {
		if err := os.WriteFile(*printTarget, target, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "# the reference is running; target file:\n%s", target)
	fmt.Fprintln(stderr, "gauntlet reference: running until interrupted (Ctrl-C)")
	<-ctx.Done()
	return nil
}
