package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/reports/emodel"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// runFlags are the flags of `gauntlet run`.
type runFlags struct {
	target   string
	out      string
	seed     string
	verbose  bool
	progress time.Duration
}

// cmdRun runs a scenario against a target, or against the embedded
// reference when there is none, and writes every report.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "run SCENARIO [--target T.yaml] [--out DIR] [--seed N]", stderr)
	var f runFlags
	fs.StringVar(&f.target, "target", "", "target file (default: start the reference in-process on loopback)")
	fs.StringVar(&f.out, "out", "", "output directory (default ./gauntlet-out/<timestamp>)")
	fs.StringVar(&f.seed, "seed", "", "seed for the run's random choices (default: the scenario's, else random)")
	fs.BoolVar(&f.verbose, "v", false, "log agent and reference events to stderr")
	fs.DurationVar(&f.progress, "progress", 0, "interval of progress lines (default 1s on a terminal, 10s otherwise)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return invalidf("run takes one scenario file, got %d arguments", len(pos))
	}
	s, err := scenarios.Load(pos[0])
	if err != nil {
		return withCode(exitInvalid, err, "")
	}
	thresholds, err := s.ParseThresholds()
	if err != nil {
		return withCode(exitInvalid, err, "")
	}
	seed, err := chooseSeed(f.seed, s)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	target, stopRef, err := resolveTarget(ctx, f.target, logger, stderr)
	if err != nil {
		return err
	}
	defer stopRef()
	if err := target.Check(s); err != nil {
		return withCode(exitInvalid, err, "the target file has no users or transport for a population of the scenario")
	}

	dir, jsonl, err := openOutput(f.out)
	if err != nil {
		return err
	}
	meta := reports.HostMeta(reports.RunMeta{
		Scenario: s.Name, Seed: seed, Target: target.Name, Version: gauntletVersion(), MOSModel: mosModel(),
	})
	sum := reports.NewSummarizer(meta, reports.WithThresholds(thresholds...))

	fmt.Fprintf(stdout, "gauntlet %s: scenario %q, %d %s, seed %d, target %q, reports in %s\n",
		gauntletVersion(), s.Name, s.Load.Calls, s.Units(), seed, target.Name, dir)
	info, runErr := scenarios.Run(ctx, scenarios.RunConfig{
		Scenario: s, Target: target, Seed: seed,
		Reporter:   reports.Tee(jsonl, sum),
		Progress:   newProgressPrinter(stdout, f.progress).print,
		Logger:     logger,
		CaptureDir: filepath.Join(dir, "captures"),
	})
	closeErr := jsonl.Close()

	meta.Start, meta.End = info.Start, info.End
	meta.DurationMS = float64(info.End.Sub(info.Start)) / float64(time.Millisecond)
	meta.Interrupted = info.Interrupted
	meta.Warnings = info.Warnings
	if f.target == "" && info.Saturated {
		meta.Warnings = append(meta.Warnings, "the embedded reference runs in this process and competes with the agents for CPU and scheduling; "+
			"for load figures, run `gauntlet reference` in its own process (or on its own machine) and point --target at it")
	}
	sum.SetMeta(meta)
	summary := sum.Summary()
	if err := reports.WriteAll(dir, summary); err != nil {
		return errors.Join(err, closeErr)
	}
	if closeErr != nil {
		return closeErr
	}
	if runErr != nil {
		if errors.Is(runErr, scenarios.ErrUnreachable) {
			return withCode(exitUnreachable, runErr, "is the target running, and is the address in the target file right?")
		}
		return runErr
	}
	printVerdict(stdout, summary, dir)
	return outcome(statusCode(summary))
}

// chooseSeed takes --seed, else the scenario's seed, else a random one.
func chooseSeed(flagValue string, s *scenarios.Scenario) (int64, error) {
	if flagValue != "" {
		n, err := strconv.ParseInt(flagValue, 10, 64)
		if err != nil {
			return 0, invalidf("--seed %q: not an integer", flagValue)
		}
		return n, nil
	}
	if s.Seed != nil {
		return *s.Seed, nil
	}
	return rand.Int64N(1 << 53), nil
}

// resolveTarget loads the target file, or starts the reference in-process
// and returns the target that points at it.
func resolveTarget(ctx context.Context, path string, logger *slog.Logger, stderr io.Writer) (*scenarios.Target, func(), error) {
	if path != "" {
		t, err := scenarios.LoadTarget(path)
		if err != nil {
			return nil, func() {}, withCode(exitInvalid, err, "")
		}
		return t, func() {}, nil
	}
	return startReference(ctx, reference.DefaultConfig(), logger, stderr)
}

// startReference starts the reference in-process and returns the target
// that points at it, and how to stop it.
func startReference(ctx context.Context, cfg reference.Config, logger *slog.Logger, stderr io.Writer) (*scenarios.Target, func(), error) {
	cfg.Logger = logger
	ref, err := reference.Start(ctx, cfg)
	if err != nil {
		return nil, func() {}, fmt.Errorf("starting the embedded reference: %w", err)
	}
	stop := func() {
		if err := ref.Close(); err != nil {
			fmt.Fprintf(stderr, "gauntlet: stopping the reference: %v\n", err)
		}
	}
	t, err := scenarios.ParseTarget("embedded reference", ref.TargetYAML())
	if err != nil {
		stop()
		return nil, func() {}, fmt.Errorf("the reference's own target file does not load: %w", err)
	}
	return t, stop, nil
}

// mosModel names the E-model variant and constants, for the report.
func mosModel() string {
	t := emodel.Table()
	return fmt.Sprintf("simplified E-model (G.107 defaults, Cole-Rosenbluth delay, G.113 codec constants): "+
		"PCMU/PCMA Ie %.1f Bpl %.1f; Opus wideband form Ie %.1f Bpl %.1f base %.0f scale %.2f",
		t["pcmu"].Ie, t["pcmu"].Bpl, t["opus"].Ie, t["opus"].Bpl, t["opus"].Base, t["opus"].Scale)
}

// openOutput makes the output directory (default
// ./gauntlet-out/<timestamp>) and opens results.jsonl in it.
func openOutput(dir string) (string, *reports.JSONLWriter, error) {
	if dir == "" {
		dir = filepath.Join("gauntlet-out", time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, withCode(exitInvalid, err, "")
	}
	jsonl, err := reports.CreateJSONL(filepath.Join(dir, reports.ResultsFile))
	if err != nil {
		return "", nil, withCode(exitInvalid, err, "")
	}
	return dir, jsonl, nil
}
