package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gauntlet-rtc/gauntlet/scenarios"
)

// cmdValidate checks scenario files (and a target file) without running them.
func cmdValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", "validate SCENARIO... [--target T.yaml]", stderr)
	targetPath := fs.String("target", "", "a target file to check, and to check each scenario against")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) == 0 && *targetPath == "" {
		fs.Usage()
		return invalidf("validate needs a scenario or --target")
	}
	var target *scenarios.Target
	if *targetPath != "" {
		if target, err = scenarios.LoadTarget(*targetPath); err != nil {
			return withCode(exitInvalid, err, "")
		}
		fmt.Fprintf(stdout, "%s: ok\n", *targetPath)
	}
	for _, p := range pos {
		s, err := scenarios.Load(p)
		if err != nil {
			return withCode(exitInvalid, err, "")
		}
		if target != nil {
			if err := target.Check(s); err != nil {
				return withCode(exitInvalid, err, "")
			}
		}
		fmt.Fprintf(stdout, "%s: ok\n", p)
		for _, w := range s.Warnings() {
			fmt.Fprintf(stdout, "%s: warning: %s\n", p, w)
		}
	}
	return nil
}
