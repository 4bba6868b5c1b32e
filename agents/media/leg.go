package media

import (
	"context"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
	"github.com/pion/rtp"
)

// Leg is one media leg of a call, whatever carries it: peer.Peer (WebRTC:
// ICE and DTLS-SRTP) and plainrtp.Leg (plain RTP/AVP) both implement it, so
// an agent can drive either the same way: Offer and SetAnswer (offerer) or
// Answer (answerer), OnRTP, Connect, WriteRTP, Report, Close.
type Leg interface {
	Offer(ctx context.Context, codecs []Codec) ([]byte, error)
	Answer(ctx context.Context, offer []byte, codecs []Codec) ([]byte, Codec, error)
	SetAnswer(answer []byte) (Codec, error)
	OnRTP(fn func(pkt *rtp.Packet, arrival time.Time))
	Connect(ctx context.Context) error
	WriteRTP(pkt *rtp.Packet) error
	Report() LegReport
	Close() error
}

// LegReport is what a leg negotiated and measured. A plain RTP leg leaves
// ICE, ICEMS and DTLSMS empty, and of Security fills only TrunkSRTP (SDES
// or none, from the SDP exchanged).
type LegReport struct {
	ICE       reports.ICE
	Security  reports.Security // as seen on the wire, plus the remote fingerprint hash and our DTLS role
	Codec     Codec            // negotiated (zero before the remote description)
	ICEMS     float64          // Connect called to ICE connected
	DTLSMS    float64          // ICE connected to SRTP keyed
	Connected time.Time        // media ready (SRTP keyed, or Connect for plain RTP); zero if not reached

	RTPReceived  int  // handed to OnRTP
	RTCPReceived int  // counted, not decrypted or parsed
	AuthFailed   int  // dropped: SRTP authentication tag did not verify
	Rejected     int  // dropped for another reason: replayed, too old, unreadable
	EarlyDropped int  // dropped: arrived before the SRTP keys, beyond the early buffer
	RemoteClosed bool // the far end closed the association (DTLS close_notify)

	// RTCP is what the leg's RTCP exchanged: the far end's view of what
	// we sent, and the round-trip time.
	RTCP RTCPStats
}
