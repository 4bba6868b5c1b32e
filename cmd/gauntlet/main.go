// Command gauntlet puts a WebRTC/SIP deployment through conformance, load and
// attack tests. See README.md for the contracts (files, exit codes).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Libraries that log to the default logger (sipgo's WebSocket
	// bookkeeping warns on every closed connection) must not clutter the
	// console: only their errors reach stderr. Commands log through their
	// own loggers (-v).
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
