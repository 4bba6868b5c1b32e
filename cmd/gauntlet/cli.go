package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run a scenario against a target (default: the embedded reference)", cmdRun},
		{"validate", "check scenario and target files without running them", cmdValidate},
		{"compare", "compare two runs (directories or summary.json) side by side; exit 1 on a regression", cmdCompare},
		{"report", "rebuild summary.json, report.html and junit.xml from results.jsonl", cmdReport},
		{"attack", "run the attack scenarios against a target: a verdict per attack (default: the embedded reference)", cmdAttack},
		{"turn-load", "load a TURN relay: allocation rates and relayed audio flows (default: the reference relay)", cmdTurnLoad},
		{"reference", "run the reference deployment standalone and print its target file", cmdReference},
		{"version", "print the version", cmdVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gauntlet COMMAND [ARGS]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'gauntlet COMMAND -h' for a command's flags.")
}

// run is the whole CLI: main only wires signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitInvalid
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		if err != nil && !isQuiet(err) {
			fmt.Fprintf(stderr, "gauntlet %s: %v\n", c.name, err)
			if h := hintOf(err); h != "" {
				fmt.Fprintf(stderr, "hint: %s\n", h)
			}
		}
		return codeOf(err)
	}
	fmt.Fprintf(stderr, "gauntlet: unknown command %q\n", args[0])
	usage(stderr)
	return exitInvalid
}

// parseInterleaved parses flags that may stand before or after positional
// arguments ("run smoke.yaml --target t.yaml"), as users type them.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gauntlet %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &exitError{code: exitInvalid, err: errors.New(strings.TrimSpace(err.Error()))}
}
