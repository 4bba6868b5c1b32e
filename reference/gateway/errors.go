package gateway

import "errors"

// Errors callers can match with errors.Is.
var (
	// ErrInvalidConfig wraps every Config.Validate failure.
	ErrInvalidConfig = errors.New("gateway: invalid config")
	// ErrStarted is returned by Start when the gateway was already started.
	ErrStarted = errors.New("gateway: already started")
	// ErrClosed is returned by Start after Close.
	ErrClosed = errors.New("gateway: closed")
)

// Reasons an SDP offer or answer is refused; the B2BUA answers 488 for any
// of them (wrapped in an *sdpError that also carries the SIP Warning text).
var (
	ErrSDPSyntax       = errors.New("sdp: malformed")
	ErrSDPNoAudio      = errors.New("sdp: no audio m-line")
	ErrSDPNotWebRTC    = errors.New("sdp: audio is not UDP/TLS/RTP/SAVPF")
	ErrSDPNoICE        = errors.New("sdp: ice-ufrag/ice-pwd missing or malformed")
	ErrSDPFingerprint  = errors.New("sdp: no usable sha-256 fingerprint")
	ErrSDPCrypto       = errors.New("sdp: a=crypto (SDES) is refused")
	ErrSDPNoCodec      = errors.New("sdp: no codec in common")
	ErrSDPNotRTPAVP    = errors.New("sdp: audio is not RTP/AVP")
	ErrSDPNoConnection = errors.New("sdp: no usable connection address or port")
	ErrSDPNotSAVP      = errors.New("sdp: audio is not RTP/SAVP (trunk_srtp: sdes requires SDES-SRTP)")
	ErrSDPNoCrypto     = errors.New("sdp: no usable a=crypto (SDES)")
)
