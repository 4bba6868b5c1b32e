package gateway

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/gauntlet-rtc/gauntlet/agents/media"
	"github.com/gauntlet-rtc/gauntlet/agents/plainrtp"
)

// TestPhoneLegRTCP puts a phone leg of the gateway opposite the harness's
// own plain-RTP agent (an RTP stack written apart from the gateway's),
// with the agent offering as a calling phone: plain RTCP on port + 1,
// rtcp-mux (the agent has no RTCP socket, so only a muxed answer gives it
// RTCP at all) and SDES-SRTP (SRTCP: the agent cannot read plain RTCP).
// Media flows both ways for a while; then the agent must have read the
// gateway's sender reports, a reception block on its stream with nothing
// lost, and a round trip; and the gateway must have read the agent's
// reports and measured the round trip the other way.
func TestPhoneLegRTCP(t *testing.T) {
	for _, tc := range []struct {
		name string
		mux  bool
		sdes []string
	}{
		{name: "port+1"},
		{name: "rtcp-mux", mux: true},
		{name: "SRTCP", sdes: []string{"AES_CM_128_HMAC_SHA1_80"}},
		{name: "SRTCP muxed", mux: true, sdes: []string{"AEAD_AES_128_GCM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			cfg := DefaultConfig()
			cfg.RTCPInterval = 100 * time.Millisecond
			if tc.sdes != nil {
				cfg.TrunkSRTP, cfg.SDESSuites = TrunkSRTPSDES, tc.sdes
			}
			g := &Gateway{cfg: cfg, metrics: newMetrics(func() int { return 0 }, func() int { return 0 })}
			phone := newRTCPAgent(t, tc.mux, tc.sdes)

			offer, err := phone.Offer(ctx, []media.Codec{media.PCMU})
			if err != nil {
				t.Fatal(err)
			}
			o, err := parsePlainOffer(offer, g.offerSuites())
			if err != nil {
				t.Fatalf("the agent's offer: %v\n%s", err, offer)
			}
			r, err := g.phoneLeg()
			if err != nil {
				t.Fatal(err)
			}
			var crypto []cryptoAttr
			if o.SDES != nil {
				ours, err := r.sdes.answer(*o.SDES)
				if err != nil {
					t.Fatal(err)
				}
				crypto = append(crypto, ours)
			}
			ch := chosen{Audio: o.Codecs[0]}
			r.connect(o.Plain, ch)
			answer := plainSDP(cfg.mediaIP(), r.port(), ch.codecs(), dirSendRecv, r.mux(), 1, 1, crypto...)
			if got := strings.Contains(string(answer), "a=rtcp-mux"); got != tc.mux {
				t.Fatalf("a=rtcp-mux in the answer: %v, want %v\n%s", got, tc.mux, answer)
			}
			if _, err := phone.SetAnswer(answer); err != nil {
				t.Fatal(err)
			}
			if err := phone.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			r.start(func(f func()) bool { wg.Go(f); return true }, func(pktKind, *rtp.Packet) {})
			defer wg.Wait()
			defer func() {
				if err := r.close(); err != nil {
					t.Errorf("closing the gateway leg: %v", err)
				}
			}()

			// 20 ms audio both ways until each side has had a round trip.
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				seq, ts := uint16(1000+i), uint32(160*i)
				if err := phone.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: ts, SSRC: 0xa1}, Payload: make([]byte, 160)}); err != nil {
					t.Fatal(err)
				}
				if err := r.send(kindAudio, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, SSRC: 0xb2}, Payload: make([]byte, 160)}); err != nil {
					t.Fatal(err)
				}
				st := phone.Report().RTCP
				gwRTT := gwRTTs(t, g)
				if st.RTTCount > 0 && st.RemoteSRs > 0 && gwRTT > 0 {
					t.Logf("after %d frames: the agent read %d reports (%d unreadable), block: lost %d of %d, jitter %.2f ms, rtt %.3f ms; the gateway saw %d RTT samples",
						i, st.PacketsReceived, st.Unreadable, st.CumulativeLost, st.Expected, st.JitterMS, st.RTTLastMS, gwRTT)
					if st.Unreadable != 0 || st.CumulativeLost != 0 || st.Expected < 1 || st.RemotePacketsSent < 1 {
						t.Fatalf("the agent's view of the gateway's RTCP: %+v", st)
					}
					if n := testutil.ToFloat64(g.metrics.rtcpPackets.WithLabelValues("unreadable")); n != 0 {
						t.Fatalf("the gateway could not read %v of the agent's reports", n)
					}
					return
				}
				select {
				case <-tick.C:
				case <-ctx.Done():
					t.Fatalf("no round trip both ways: the agent's RTCP %+v; the gateway read %v, unreadable %v", st,
						testutil.ToFloat64(g.metrics.rtcpPackets.WithLabelValues("received")),
						testutil.ToFloat64(g.metrics.rtcpPackets.WithLabelValues("unreadable")))
				}
			}
		})
	}
}

// gwRTTs is how many round trips to the phone the gateway observed.
func gwRTTs(t *testing.T, g *Gateway) uint64 {
	var m dto.Metric
	if err := g.metrics.rtcpRTT.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// newRTCPAgent is the harness's plain-RTP agent as a phone on 127.0.0.1:
// with an RTCP socket on the RTP port + 1 unless mux (then RTCP only if
// the answer agrees to rtcp-mux), reporting every 50 ms.
func newRTCPAgent(t *testing.T, mux bool, sdes []string) *plainrtp.Leg {
	t.Helper()
	cfg := plainrtp.Config{RTCPMux: mux, RTCPInterval: 50 * time.Millisecond, SDES: sdes}
	var err error
	if mux {
		cfg.Conn, err = net.ListenPacket("udp4", "127.0.0.1:0")
	} else {
		cfg.Conn, cfg.RTCPConn, err = plainrtp.ListenPair(net.ListenPacket, netip.MustParseAddr("127.0.0.1"))
	}
	if err != nil {
		t.Fatal(err)
	}
	l, err := plainrtp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}
