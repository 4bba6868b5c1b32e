package reports

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file is a small client of the Chrome DevTools Protocol over
// --remote-debugging-pipe: Chromium reads JSON commands, each ended by a NUL
// byte, from its fd 3 and writes responses and events the same way to its
// fd 4. No port is opened, so nothing but the two pipes connects the test
// to the browser.

// chromiumFlags start a headless browser that does nothing on its own: no
// background requests, no first-run, no sync, a fresh profile.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
	"--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
	"--disable-default-apps", "--no-default-browser-check", "--disable-dev-shm-usage",
	"--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe",
}

// interopRequired is how CI says that a missing outside program is a
// failure rather than a reason to skip (DESIGN.md).
func interopRequired() bool { return os.Getenv("GAUNTLET_INTEROP") == "require" }

// requireTool returns the path of the first of names found on PATH. When
// none is, the test is skipped, or fails under GAUNTLET_INTEROP=require.
func requireTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("none of %s is installed (Debian: apt-get install chromium)", strings.Join(names, ", "))
	if interopRequired() {
		t.Fatal(msg + "; GAUNTLET_INTEROP=require makes this a failure")
	}
	t.Skip(msg)
	return ""
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// browser is a running headless Chromium and its protocol pipes.
type browser struct {
	cmd    *exec.Cmd
	out    *os.File // commands to the browser (its fd 3)
	in     *os.File // responses and events from it (its fd 4)
	stderr bytes.Buffer
	done   chan struct{} // closed when the reader goroutine returns

	mu      sync.Mutex
	writeMu sync.Mutex
	nextID  int
	pending map[int]chan cdpMessage
	events  []cdpMessage
	changed chan struct{} // closed and replaced whenever events grows
}

// startBrowser starts Chromium with a fresh profile in a temporary
// directory. Its Close is registered with t.Cleanup.
func startBrowser(t *testing.T, bin string) *browser {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	evR, evW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, chromiumFlags...), "--user-data-dir="+t.TempDir(), "about:blank")
	b := &browser{
		cmd: exec.Command(bin, args...), out: cmdW, in: evR, done: make(chan struct{}),
		pending: map[int]chan cdpMessage{}, changed: make(chan struct{}),
	}
	b.cmd.ExtraFiles = []*os.File{cmdR, evW} // fds 3 and 4
	b.cmd.Stdout, b.cmd.Stderr = &b.stderr, &b.stderr
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so Close can end its helpers too
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	_ = cmdR.Close() // the child holds its own copies now
	_ = evW.Close()
	go b.read()
	t.Cleanup(func() { b.Close(t) })
	return b
}

func (b *browser) read() {
	defer close(b.done)
	r := bufio.NewReaderSize(b.in, 1<<20)
	for {
		frame, err := r.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var m cdpMessage
		if json.Unmarshal(frame[:len(frame)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if m.ID != 0 {
			if ch := b.pending[m.ID]; ch != nil {
				ch <- m
				delete(b.pending, m.ID)
			}
		} else {
			b.events = append(b.events, m)
			close(b.changed)
			b.changed = make(chan struct{})
		}
		b.mu.Unlock()
	}
}

// call sends one command (to the browser when session is "", else to the
// attached target) and decodes its result into result, if not nil.
func (b *browser) call(ctx context.Context, session, method string, params, result any) error {
	if params == nil {
		params = struct{}{}
	}
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	frame, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params, "sessionId": session})
	if err != nil {
		return err
	}
	b.writeMu.Lock()
	_, err = b.out.Write(append(frame, 0))
	b.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: the browser closed the pipe", method)
		}
		if m.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, m.Error.Message, m.Error.Code)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// eventsOf returns the events of method so far ("" for all).
func (b *browser) eventsOf(method string) []cdpMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []cdpMessage
	for _, e := range b.events {
		if method == "" || e.Method == method {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits until more than after events of method arrived for session.
func (b *browser) waitEvent(ctx context.Context, session, method string, after int) error {
	for {
		b.mu.Lock()
		n, changed := 0, b.changed
		for _, e := range b.events {
			if e.Method == method && e.SessionID == session {
				n++
			}
		}
		b.mu.Unlock()
		if n > after {
			return nil
		}
		select {
		case <-changed:
		case <-b.done:
			return fmt.Errorf("waiting for %s: the browser went away", method)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", method, ctx.Err())
		}
	}
}

// Close asks the browser to close, and ends its process group if it does
// not within a few seconds; it returns once the reader has stopped.
func (b *browser) Close(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = b.call(ctx, "", "Browser.close", nil, nil) // it may close the pipe before it answers
	exited := make(chan error, 1)
	go func() { exited <- b.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) // the group Start made for this browser
		<-exited
	}
	_ = b.out.Close()
	_ = b.in.Close() // unblocks the reader if a helper process still holds the pipe
	<-b.done
	if t.Failed() && b.stderr.Len() > 0 {
		t.Logf("chromium output:\n%s", tail(b.stderr.String(), 3000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// newPage opens a blank tab and attaches to it, returning the session ID.
// Child targets (frames, workers) it would start are attached too, so
// their requests cannot go unseen.
func (b *browser) newPage(ctx context.Context) (string, error) {
	var created struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &created); err != nil {
		return "", err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": created.TargetID, "flatten": true}, &attached); err != nil {
		return "", err
	}
	s := attached.SessionID
	for _, c := range []struct {
		method string
		params any
	}{
		{"Network.enable", nil}, {"Page.enable", nil}, {"Runtime.enable", nil}, {"Log.enable", nil},
		{"Target.setAutoAttach", map[string]any{"autoAttach": true, "waitForDebuggerOnStart": false, "flatten": true}},
		{"Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}},
	} {
		if err := b.call(ctx, s, c.method, c.params, nil); err != nil {
			return "", err
		}
	}
	return s, nil
}

// navigate loads url in the page and waits for its load event.
func (b *browser) navigate(ctx context.Context, session, url string) error {
	before := 0
	for _, e := range b.eventsOf("Page.loadEventFired") {
		if e.SessionID == session {
			before++
		}
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.call(ctx, session, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return err
	}
	if nav.ErrorText != "" {
		return errors.New("navigate: " + nav.ErrorText)
	}
	return b.waitEvent(ctx, session, "Page.loadEventFired", before)
}

// eval evaluates a JavaScript expression in the page (awaiting it when it
// is a promise) and decodes its JSON value into out.
func (b *browser) eval(ctx context.Context, session, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := b.call(ctx, session, "Runtime.evaluate",
		map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res)
	if err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return errors.New("evaluate: " + res.ExceptionDetails.Text)
	}
	return json.Unmarshal(res.Result.Value, out)
}
