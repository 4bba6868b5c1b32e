package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/agents/attack"
	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// attackFlags are the flags of `gauntlet attack`.
type attackFlags struct {
	target  string
	only    string
	out     string
	weaken  string
	list    bool
	verbose bool
}

// cmdAttack runs the attacks against a target, or against the embedded
// reference (hardened, or with --weaken switches off), and writes every
// report with a verdict per attack.
func cmdAttack(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("attack", "attack [--target T.yaml] [--only NAME,...] [--out DIR] [--weaken LIST] [--list]", stderr)
	var f attackFlags
	fs.StringVar(&f.target, "target", "", "target file (default: start the reference in-process on loopback)")
	fs.StringVar(&f.only, "only", "", "comma-separated attacks to run (default: all; see --list)")
	fs.StringVar(&f.out, "out", "", "output directory (default ./gauntlet-out/<timestamp>)")
	fs.StringVar(&f.weaken, "weaken", "", "embedded reference only: defences to switch off, to see an attack find them ("+strings.Join(reference.WeakenNames(), ", ")+")")
	fs.BoolVar(&f.list, "list", false, "list the attacks and exit")
	fs.BoolVar(&f.verbose, "v", false, "log agent and reference events to stderr")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 0 {
		return invalidf("attack takes no arguments, got %q (attacks are chosen with --only)", pos)
	}
	if f.list {
		for _, a := range attack.All() {
			needs := strings.Join(a.Needs, ",")
			if needs == "" {
				needs = "-"
			}
			summary := a.Summary
			if a.PartOf != "" {
				summary = "(part of " + a.PartOf + ", run alone only when named) " + summary
			}
			fmt.Fprintf(stdout, "%-22s needs %-6s %s\n", a.Name, needs, summary)
		}
		return nil
	}
	var names []string
	if f.only != "" {
		names = strings.Split(f.only, ",")
		for i := range names {
			names[i] = strings.TrimSpace(names[i])
		}
	}
	chosen, err := attack.Select(names)
	if err != nil {
		return withCode(exitInvalid, err, "gauntlet attack --list shows them")
	}
	if f.weaken != "" && f.target != "" {
		return invalidf("--weaken applies to the embedded reference only; weaken your own deployment yourself")
	}
	logger := slog.New(slog.DiscardHandler)
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	target, stop, err := attackTarget(ctx, f, logger, stderr)
	if err != nil {
		return err
	}
	defer stop()
	if !target.Loopback() && !target.Authorized {
		return invalidf("target %q names addresses outside loopback and does not say authorized: true; attacks run only against deployments you are allowed to attack", target.Name)
	}

	dir, jsonl, err := openOutput(f.out)
	if err != nil {
		return err
	}
	meta := reports.HostMeta(reports.RunMeta{Scenario: "attacks", Target: target.Name, Version: gauntletVersion(), MOSModel: mosModel()})
	sum := reports.NewSummarizer(meta)
	rep := reports.Tee(jsonl, sum)

	fmt.Fprintf(stdout, "gauntlet %s: %d attacks against %q, reports in %s\n", gauntletVersion(), len(chosen), target.Name, dir)
	start := time.Now()
	runErr := runAttacks(ctx, chosen, target, filepath.Join(dir, "captures"), logger, rep, stdout)
	closeErr := jsonl.Close()
	meta.Start, meta.End = start, time.Now()
	meta.DurationMS = float64(meta.End.Sub(start)) / float64(time.Millisecond)
	meta.Interrupted = ctx.Err() != nil
	sum.SetMeta(meta)
	summary := sum.Summary()
	if err := reports.WriteAll(dir, summary); err != nil {
		return errors.Join(err, closeErr, runErr)
	}
	if err := errors.Join(closeErr, runErr); err != nil {
		return err
	}
	printVerdict(stdout, summary, dir)
	return outcome(statusCode(summary))
}

// attackTarget loads the target file, or starts the embedded reference
// with the --weaken switches off.
func attackTarget(ctx context.Context, f attackFlags, logger *slog.Logger, stderr io.Writer) (*scenarios.Target, func(), error) {
	if f.target != "" {
		return resolveTarget(ctx, f.target, logger, stderr)
	}
	cfg := reference.DefaultConfig()
	if f.weaken != "" {
		if err := cfg.Weaken(strings.Split(f.weaken, ",")...); err != nil {
			return nil, func() {}, withCode(exitInvalid, err, "")
		}
	}
	return startReference(ctx, cfg, logger, stderr)
}

// runAttacks runs each attack in turn and reports its record; it stops
// early when ctx ends, with the records so far reported.
func runAttacks(ctx context.Context, chosen []attack.Attack, target *scenarios.Target, captures string, logger *slog.Logger, rep reports.Reporter, stdout io.Writer) error {
	clock, err := media.NewClock()
	if err != nil {
		return err
	}
	stopClock, err := clock.Start(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	defer stopClock()
	env, err := target.AttackEnv(ctx, clock, logger, captures, 0)
	if err != nil {
		return withCode(exitUnreachable, err, "")
	}
	for _, a := range chosen {
		if ctx.Err() != nil {
			return nil
		}
		started := time.Now()
		fmt.Fprintf(stdout, "  %-22s ", a.Name)
		out := attack.Run(ctx, a, env)
		f := out.Finding(a.Name)
		rec := reports.Result{
			Kind: reports.KindAttack, ID: "attack-" + a.Name, Start: started, End: time.Now(),
			Outcome: reports.OutcomeOK, Attack: &f,
		}
		if ctx.Err() != nil && out.Verdict == attack.Inconclusive {
			rec.Cause = reports.CauseCanceled
		}
		rep.Add(rec)
		fmt.Fprintf(stdout, "%-13s %s (%.1fs)\n", out.Verdict, out.Severity, time.Since(started).Seconds())
	}
	return nil
}
