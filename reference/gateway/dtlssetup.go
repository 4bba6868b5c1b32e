package gateway

import (
	"strings"

	"github.com/pion/sdp/v3"
)

// SDP a=setup values (RFC 4145 4).
const (
	setupActive  = "active"
	setupPassive = "passive"
	setupActpass = "actpass"
)

// remoteSetup is the far end's a=setup as pion reads it to pick its own
// DTLS role: the first media section that has one; "active" or "passive",
// else "" (actpass, or none, which pion treats as actpass).
func remoteSetup(body []byte) string {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return ""
	}
	for _, m := range sd.MediaDescriptions {
		if v, ok := m.Attribute("setup"); ok {
			if v == setupActive || v == setupPassive {
				return v
			}
			return ""
		}
	}
	return ""
}

// localSetup is the a=setup that states the DTLS role the gateway's pion
// connection takes against a far end whose description says remote (as
// remoteSetup reads it): the opposite of an explicit role, else the
// configured one (Config.DTLSRole). RFC 4145 4.1 and RFC 5763 5: an
// answer to setup:passive is active, to active is passive, to actpass
// either.
//
// pion's SettingEngine.SetAnsweringDTLSRole fixes the a=setup pion writes
// in every answer, yet pion's DTLS still takes the opposite of an explicit
// remote role: an offer of passive got an answer of passive while the
// gateway connected as client. The gateway rewrites its answers with this
// value instead (see withSetup).
func localSetup(remote, configured string) string {
	switch remote {
	case setupActive:
		return setupPassive
	case setupPassive:
		return setupActive
	}
	if configured == DTLSRoleClient {
		return setupActive
	}
	return setupPassive
}

// withSetup replaces the value of every a=setup line of an SDP body.
func withSetup(body, setup string) string {
	lines := strings.Split(body, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "a=setup:") {
			lines[i] = "a=setup:" + setup
		}
	}
	return strings.Join(lines, "\r\n")
}
