package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gauntlet-rtc/gauntlet/agents/endpoint"
	"github.com/gauntlet-rtc/gauntlet/reference"
	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/gauntlet-rtc/gauntlet/scenarios"
	"github.com/gauntlet-rtc/gauntlet/suites/fixture"
)

// InteropEnv set to "require" turns a missing outside program from a skip
// into a failure (.ci/run sets it after installing them).
const InteropEnv = "GAUNTLET_INTEROP"

// requireTool returns the path of an outside program, skipping the spec
// when it is missing (failing it under GAUNTLET_INTEROP=require).
func requireTool(name, pkg string) string {
	path, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s not installed (Debian package %s)", name, pkg)
		if os.Getenv(InteropEnv) == "require" {
			Fail(msg + " and " + InteropEnv + "=require")
		}
		Skip(msg)
	}
	return path
}

// freeUDPPort returns a UDP port free on 127.0.0.1 a moment ago.
func freeUDPPort() int {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// sipp runs SIPp to the end of its one call and returns its exit error and
// output.
type sippRun struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

func startSIPp(ctx context.Context, args ...string) *sippRun {
	path := requireTool("sipp", "sip-tester")
	r := &sippRun{done: make(chan error, 1)}
	r.cmd = exec.CommandContext(ctx, path, append(args, "-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin")...)
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	r.cmd.Dir = absTestdata("") // scenarios name the recording relative to it
	Expect(r.cmd.Start()).To(Succeed())
	go func() { r.done <- r.cmd.Wait() }()
	DeferCleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *sippRun) wait(ctx context.Context) {
	select {
	case err := <-r.done:
		Expect(err).NotTo(HaveOccurred(), "sipp:\n%s", r.out.String())
	case <-ctx.Done():
		Fail("sipp did not finish its call:\n" + r.out.String())
	}
}

func absTestdata(name string) string {
	p, err := filepath.Abs(filepath.Join("testdata", "sipp", name))
	Expect(err).NotTo(HaveOccurred())
	return p
}

// registerContact binds user's AOR to contact (SIPp's address) from a raw
// UDP client.
func registerContact(ctx context.Context, user, password string, contact sip.Uri) {
	raw, err := dialRawUDP(fx.Target.SIP.UDP)
	Expect(err).NotTo(HaveOccurred())
	defer raw.close()
	raw.user, raw.password = user, password
	d := newRawDialog(raw.aor(user))
	req := raw.request(sip.REGISTER, d, sip.Uri{Scheme: "sip", Host: raw.domain}, nil, "")
	req.RemoveHeader("Contact")
	req.AppendHeader(&sip.ContactHeader{Address: contact})
	req.AppendHeader(sip.NewHeader("Expires", "120"))
	res, _, err := raw.do(ctx, req, d)
	Expect(err).NotTo(HaveOccurred())
	Expect(res.StatusCode).To(Equal(200))
}

// Interop with a SIP peer nobody here wrote: SIPp (sip-tester) on the
// phone side of the gateway.
var _ = Describe("SIPp interop", Label("interop", "sipp", "rfc3261", "rfc3550"), func() {
	It("answers a browser's call as the phone-side UAS and echoes its audio back", func(ctx SpecContext) {
		c, cancel := within(ctx, 45*time.Second)
		defer cancel()
		requireTool("sipp", "sip-tester")
		user, password := rawUser(scenarios.KindSIP)
		port := freeUDPPort()
		sipp := startSIPp(c, "-sf", absTestdata("uas-echo.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(port),
			"-mi", "127.0.0.1", "-mp", strconv.Itoa(freeUDPPort()), "-rtp_echo")
		registerContact(c, user, password, sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: port})

		browser, err := fx.Endpoint(c, browserPopulation())
		Expect(err).NotTo(HaveOccurred())
		leg := browser.Dial(c, user)
		DeferCleanup(leg.Close)
		Expect(leg.Err()).NotTo(HaveOccurred())
		own := leg.Report().SendTag
		Eventually(func() []uint64 { return leg.Report().Recv.Tags }).WithContext(c).WithTimeout(10*time.Second).
			Should(ContainElement(own), "the browser hears its own audio, echoed by SIPp through the gateway")
		Eventually(func() int { return leg.Report().Recv.Matched }).WithContext(c).Should(BeNumerically(">=", 25))
		Expect(leg.Hangup(c)).To(Succeed())
		sipp.wait(c)
	})

	// SIPp 3.6 answers only an MD5 challenge, and only the first one: this
	// spec runs its own reference configured as an operator would for such
	// phones (MD5 offered first).
	It("plays a known recording as a UAC toward a registered browser, which receives it as recorded", func(ctx SpecContext) {
		c, cancel := within(ctx, 45*time.Second)
		defer cancel()
		requireTool("sipp", "sip-tester")
		cfg := reference.DefaultConfig()
		cfg.Gateway.Auth.Algorithms = []string{"MD5"}
		own, err := fixture.StartReference(c, cfg)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(own.Close)
		browser, err := own.Endpoint(c, browserPopulation())
		Expect(err).NotTo(HaveOccurred())
		Expect(browser.Register(c).Outcome).To(Equal(reports.OutcomeOK))
		accepted := make(chan *endpoint.Leg, 1)
		go func() { accepted <- browser.Accept(c) }()

		user, password := rawUserOf(own.Target, scenarios.KindSIP)
		sipp := startSIPp(c, own.Target.SIP.UDP, "-sf", "uac-play.xml", "-s", browser.User(),
			"-au", user, "-ap", password, "-auth_uri", browser.User()+"@"+own.Target.SIPDomain(), // the digest uri is the Request-URI
			"-set", "user", user, "-set", "dom", own.Target.SIPDomain(),
			"-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort()), "-mi", "127.0.0.1", "-mp", strconv.Itoa(freeUDPPort()))
		var leg *endpoint.Leg
		Eventually(accepted).WithContext(c).Should(Receive(&leg))
		DeferCleanup(leg.Close)
		Expect(leg.Err()).NotTo(HaveOccurred())
		sipp.wait(c)
		Eventually(leg.Done()).WithContext(c).Should(BeClosed(), "SIPp's BYE reaches the browser")
		rec := leg.Report().Recv
		Expect(rec.Tags).To(ContainElement(uint64(recordingTag)))
		Expect(rec.Matched).To(BeNumerically(">=", recordingPackets*9/10),
			"payloads exactly as recorded: %d of %d (received %d)", rec.Matched, recordingPackets, rec.Packets)
	})
})
