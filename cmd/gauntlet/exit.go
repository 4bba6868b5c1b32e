package main

import (
	"errors"
	"fmt"
)

// Exit codes: the contract in README.md and DESIGN.md.
const (
	exitOK           = 0
	exitFailed       = 1   // a threshold failed, an attack found a weakness, or compare found a regression
	exitInvalid      = 2   // the scenario, target or flags are invalid
	exitUnreachable  = 3   // the run could not reach the target at all
	exitInconclusive = 4   // no weakness found, but some attack was inconclusive
	exitInterrupted  = 130 // stopped by SIGINT; every report still written
)

// exitError is an error that reaches the CLI with an exit code and a hint.
type exitError struct {
	code int
	err  error
	hint string
	// quiet marks an outcome the command already explained on the console
	// (a failed threshold, a vulnerable target): only the exit code is left to set.
	quiet bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error, hint string) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err, hint: hint}
}

func invalidf(format string, args ...any) error {
	return &exitError{code: exitInvalid, err: fmt.Errorf(format, args...)}
}

// codeOf returns the exit code an error carries; plain errors are 1.
func codeOf(err error) int {
	if err == nil {
		return exitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitFailed
}

func hintOf(err error) string {
	var e *exitError
	if errors.As(err, &e) {
		return e.hint
	}
	return ""
}

// outcome ends a command whose result was already printed, with a code.
func outcome(code int) error {
	if code == exitOK {
		return nil
	}
	return &exitError{code: code, err: fmt.Errorf("exit status %d", code), quiet: true}
}

func isQuiet(err error) bool {
	var e *exitError
	return errors.As(err, &e) && e.quiet
}
