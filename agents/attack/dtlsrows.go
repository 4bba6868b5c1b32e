package attack

import (
	"bytes"
	"crypto"
	_ "crypto/md5" // the MD5 row offers what RFC 8122 forbids, on purpose
	_ "crypto/sha1"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/gauntlet-rtc/gauntlet/agents/peer"
	"github.com/gauntlet-rtc/gauntlet/agents/wire"
	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/protocol"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
)

// Cipher suites the rows offer (IANA numbers, named by wire.CipherSuiteName).
var (
	// nonForwardSecret suites: static RSA and static ECDH key exchange (an
	// ECDSA certificate, as WebRTC's, can do static ECDH).
	nonForwardSecret = []uint16{0x009C, 0x009D, 0x002F, 0x0035, 0x003C, 0xC02D, 0xC02E, 0xC004, 0xC005}
	// cbcSuites are forward-secret but CBC (MAC-then-encrypt).
	cbcSuites = []uint16{0xC009, 0xC00A, 0xC023, 0xC024, 0xC013, 0xC014, 0xC027, 0xC028}
	// dtls10Suites are what a DTLS 1.0 client offers (no AEAD before 1.2).
	dtls10Suites = []uint16{0xC009, 0xC00A, 0xC013, 0xC014, 0x002F, 0x0035}
	// nullProfiles are the SRTP profiles without encryption.
	nullProfiles = []dtls.SRTPProtectionProfile{dtls.SRTP_NULL_HMAC_SHA1_80, dtls.SRTP_NULL_HMAC_SHA1_32}
)

// Remediation hints, one per weakness.
const (
	remedyNonFS   = "offer and accept only ECDHE suites, so every call has forward secrecy (RFC 8827 6.5)"
	remedyCBC     = "accept only AEAD suites (AES-GCM, ChaCha20-Poly1305) in the DTLS configuration; drop the CBC suites"
	remedyDTLS10  = "require DTLS 1.2 (RFC 8996): answer a DTLS 1.0 hello with protocol_version and abort a DTLS 1.0 ServerHello"
	remedyNull    = "never negotiate SRTP_NULL_* profiles: accept only AES-CM or AES-GCM profiles (RFC 5764 4.1.2)"
	remedyProfile = "abort the handshake with illegal_parameter when the server picks an SRTP profile the client did not offer (RFC 5764 4.1.1)"
	remedyEMS     = "require the extended master secret (RFC 7627) and abort a handshake without it"
	remedyMD5     = "refuse MD5 and MD2 fingerprints in SDP with 488 (RFC 8122 5); accept sha-256"
)

func suiteNames(ids []uint16) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = wire.CipherSuiteName(id)
	}
	return strings.Join(names, ", ")
}

func profileNames(ids []uint16) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = wire.SRTPProfileName(id)
	}
	return strings.Join(names, ", ")
}

func isNullProfile(id uint16) bool {
	return id == wire.SRTPNullSHA180 || id == wire.SRTPNullSHA132
}

// offerSuites rewrites the browser's ClientHello to offer only suites.
func offerSuites(suites []uint16, version *protocol.Version) func(*dtlsProbe, *peer.Config) {
	return func(_ *dtlsProbe, c *peer.Config) {
		c.DTLSOptions = append(c.DTLSOptions, dtls.WithClientHelloMessageHook(func(m handshake.MessageClientHello) handshake.Message {
			m.CipherSuiteIDs = slices.Clone(suites)
			if version != nil {
				m.Version = *version
			}
			return &m
		}))
	}
}

// refusedHello judges a ClientHello row: any ServerHello means the target
// took one of the weak offers.
func refusedHello(p *dtlsProbe, severity, what string) rowVerdict {
	if why := p.reachedDTLS(); why != "" {
		return unanswered("%s", why)
	}
	sh, ok := p.serverHello()
	if !ok {
		if a := p.alerts(); a != "no alert" {
			return weakRefused("%s", a)
		}
		return weakRefused("no ServerHello and no alert (the hello was ignored)")
	}
	return weakTaken(severity, "ServerHello chose %s %s for %s", wire.VersionName(sh.Version), wire.CipherSuiteName(sh.CipherSuite), what)
}

// clientHelloRows probe the target as DTLS server: the browser's
// ClientHello offers only something weak.
var clientHelloRows = []dtlsRow{
	{
		name:  "ClientHello offers only non-forward-secret suites",
		tweak: offerSuites(nonForwardSecret, nil),
		judge: func(p *dtlsProbe) rowVerdict {
			return refusedHello(p, High, "a ClientHello offering only "+suiteNames(nonForwardSecret))
		},
		remedy: remedyNonFS,
	},
	{
		name:  "ClientHello offers only CBC suites",
		tweak: offerSuites(cbcSuites, nil),
		judge: func(p *dtlsProbe) rowVerdict {
			return refusedHello(p, Medium, "a ClientHello offering only CBC suites")
		},
		remedy: remedyCBC,
	},
	{
		name: "ClientHello is DTLS 1.0 only (0xFEFF)",
		tweak: func(p *dtlsProbe, c *peer.Config) {
			v := protocol.Version1_0
			offerSuites(dtls10Suites, &v)(p, c)
			c.WrapConn = func(conn net.Conn) net.Conn { return dtls10Records{conn} }
		},
		judge: func(p *dtlsProbe) rowVerdict {
			v := refusedHello(p, High, "a DTLS 1.0 ClientHello")
			if sh, ok := p.serverHello(); ok && sh.Version != wire.VersionDTLS10 {
				return weakRefused("answered a DTLS 1.0-only ClientHello with a %s ServerHello instead of protocol_version (not a downgrade)", wire.VersionName(sh.Version))
			}
			return v
		},
		remedy: remedyDTLS10,
	},
	{
		name:  "use_srtp offers only NULL profiles",
		tweak: func(_ *dtlsProbe, c *peer.Config) { c.SRTPProfiles = nullProfiles },
		judge: func(p *dtlsProbe) rowVerdict {
			if why := p.reachedDTLS(); why != "" {
				return unanswered("%s", why)
			}
			sh, ok := p.serverHello()
			switch {
			case !ok:
				return weakRefused("%s", p.alerts())
			case !sh.UseSRTP:
				return weakRefused("ServerHello without use_srtp (the browser aborts: no SRTP)")
			case isNullProfile(sh.SRTPProfile):
				return weakTaken(High, "ServerHello chose %s: media without encryption", wire.SRTPProfileName(sh.SRTPProfile))
			}
			return weakTaken(Medium, "ServerHello chose %s, which the browser did not offer", wire.SRTPProfileName(sh.SRTPProfile))
		},
		remedy: remedyNull,
	},
	{
		name: "ClientHello without extended_master_secret",
		tweak: func(_ *dtlsProbe, c *peer.Config) {
			c.DTLSOptions = append(c.DTLSOptions, dtls.WithExtendedMasterSecret(dtls.DisableExtendedMasterSecret))
		},
		judge: func(p *dtlsProbe) rowVerdict {
			return refusedHello(p, Medium, "a ClientHello without extended_master_secret")
		},
		remedy: remedyEMS,
	},
}

// dtls10Records sets the record-layer version of the ClientHello records
// the browser sends to DTLS 1.0 (0xFEFF), as a DTLS 1.0 client sends them;
// pion's hook only reaches the handshake body.
type dtls10Records struct{ net.Conn }

func (c dtls10Records) Write(b []byte) (int, error) {
	recs, err := wire.ParseRecords(b)
	if err != nil || len(recs) == 0 {
		return c.Conn.Write(b)
	}
	out := bytes.Clone(b)
	off := 0
	for _, r := range recs {
		if r.ContentType == wire.ContentHandshake && r.Epoch == 0 && len(r.Fragment) > 0 && r.Fragment[0] == wire.HandshakeClientHello {
			out[off+1], out[off+2] = 0xfe, 0xff
		}
		off += 13 + len(r.Fragment)
	}
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// serveOnly makes the browser's DTLS server accept only what is given.
func serveSuites(suites ...dtls.CipherSuiteID) func(*dtlsProbe, *peer.Config) {
	return func(_ *dtlsProbe, c *peer.Config) {
		c.DTLSOptions = append(c.DTLSOptions, dtls.WithCipherSuites(suites...))
	}
}

// completedWith judges a ServerHello row where the browser's server took a
// weak option only if the target offered it: a completed handshake means
// the target, as client, accepted it.
func completedWith(p *dtlsProbe, severity, what string, offered func(wire.ClientHello) string) rowVerdict {
	if why := p.reachedDTLS(); why != "" {
		return unanswered("%s", why)
	}
	ch, ok := p.clientHello()
	if !ok {
		return unanswered("the target never sent a ClientHello")
	}
	if p.connected {
		sec := p.obs.Security()
		return weakTaken(severity, "the handshake completed with %s (%s, %s, extended master secret %v)", what, sec.CipherSuite, sec.SRTPProfile, sec.ExtendedMasterSecret)
	}
	detail := offered(ch) + "; target sent " + p.alerts()
	if ours := alertsFrom(p.obs, wire.Out); ours != "no alert" {
		detail += "; the browser's server sent " + ours
	}
	return weakRefused("%s", detail)
}

// forgedHello judges a ServerHello row whose hello the browser forged: the
// target must abort rather than go on to its key exchange.
func forgedHello(p *dtlsProbe, severity, what string) rowVerdict {
	if why := p.reachedDTLS(); why != "" {
		return unanswered("%s", why)
	}
	if _, ok := p.clientHello(); !ok {
		return unanswered("the target never sent a ClientHello")
	}
	if p.continued() {
		return weakTaken(severity, "the target went on to its key exchange after %s (%s)", what, p.alerts())
	}
	return weakRefused("%s", p.alerts())
}

// serverHelloRows probe the target as DTLS client: the browser, as server,
// takes only something weak, or forges its ServerHello.
var serverHelloRows = []dtlsRow{
	{
		name:  "server takes only CBC suites",
		tweak: serveSuites(dtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA),
		judge: func(p *dtlsProbe) rowVerdict {
			return completedWith(p, Medium, "a CBC suite", func(ch wire.ClientHello) string {
				if cbc := commonIDs(ch.CipherSuites, cbcSuites); len(cbc) > 0 {
					return "the target offered " + suiteNames(cbc) + " but aborted"
				}
				return "the target offered no CBC suite"
			})
		},
		remedy: remedyCBC,
	},
	{
		name: "ServerHello says DTLS 1.0",
		tweak: func(_ *dtlsProbe, c *peer.Config) {
			c.DTLSServerOptions = append(c.DTLSServerOptions, dtls.WithServerHelloMessageHook(func(m handshake.MessageServerHello) handshake.Message {
				m.Version = protocol.Version1_0
				return &m
			}))
		},
		judge:  func(p *dtlsProbe) rowVerdict { return forgedHello(p, High, "a DTLS 1.0 ServerHello") },
		remedy: remedyDTLS10,
	},
	{
		name:  "server takes only NULL SRTP profiles",
		tweak: func(_ *dtlsProbe, c *peer.Config) { c.SRTPProfiles = nullProfiles },
		judge: func(p *dtlsProbe) rowVerdict {
			return completedWith(p, High, "a NULL SRTP profile", func(ch wire.ClientHello) string {
				return "the target offered " + profileNames(ch.SRTPProfiles)
			})
		},
		remedy: remedyNull,
	},
	{
		name: "ServerHello picks an SRTP profile the target did not offer",
		tweak: func(p *dtlsProbe, c *peer.Config) {
			c.DTLSServerOptions = append(c.DTLSServerOptions, dtls.WithServerHelloMessageHook(func(m handshake.MessageServerHello) handshake.Message {
				ch, _ := p.clientHello()
				for i, e := range m.Extensions {
					if u, ok := e.(*extension.UseSRTP); ok {
						m.Extensions[i] = &extension.UseSRTP{ProtectionProfiles: []dtls.SRTPProtectionProfile{unofferedProfile(ch.SRTPProfiles)}, MasterKeyIdentifier: u.MasterKeyIdentifier}
					}
				}
				return &m
			}))
		},
		judge: func(p *dtlsProbe) rowVerdict {
			return forgedHello(p, Medium, "a ServerHello with an SRTP profile it did not offer")
		},
		remedy: remedyProfile,
	},
	{
		name: "server without extended_master_secret",
		tweak: func(_ *dtlsProbe, c *peer.Config) {
			c.DTLSOptions = append(c.DTLSOptions, dtls.WithExtendedMasterSecret(dtls.DisableExtendedMasterSecret))
		},
		judge: func(p *dtlsProbe) rowVerdict {
			return completedWith(p, Medium, "no extended master secret", func(wire.ClientHello) string {
				return "the target aborted a handshake without extended_master_secret"
			})
		},
		remedy: remedyEMS,
	},
}

// unofferedProfile picks an SRTP profile not in offered, NULL ones first.
func unofferedProfile(offered []uint16) dtls.SRTPProtectionProfile {
	for _, p := range []dtls.SRTPProtectionProfile{dtls.SRTP_NULL_HMAC_SHA1_80, dtls.SRTP_NULL_HMAC_SHA1_32, dtls.SRTP_AES128_CM_HMAC_SHA1_32, dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80} {
		if !slices.Contains(offered, uint16(p)) {
			return p
		}
	}
	return dtls.SRTPProtectionProfile(0xff00) // every known one offered: an unassigned one
}

func commonIDs(a, b []uint16) []uint16 {
	var out []uint16
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// offeredWeaknesses reads the target's ClientHello from a normal call, in
// which it acted as DTLS client: what it offers, any server may pick.
func offeredWeaknesses(ch wire.ClientHello) []matrixRow {
	var out []matrixRow
	add := func(v rowVerdict, remedy string) { out = append(out, matrixRow{v: v, remedy: remedy}) }
	if ch.Version != wire.VersionDTLS12 && ch.Version != wire.VersionDTLS13 {
		add(weakTaken(High, "ClientHello version %s", wire.VersionName(ch.Version)), remedyDTLS10)
	}
	if weak := commonIDs(ch.CipherSuites, nonForwardSecret); len(weak) > 0 {
		add(weakTaken(High, "ClientHello offers non-forward-secret suites %s", suiteNames(weak)), remedyNonFS)
	}
	if weak := slices.DeleteFunc(slices.Clone(ch.SRTPProfiles), func(id uint16) bool { return !isNullProfile(id) }); len(weak) > 0 {
		add(weakTaken(High, "use_srtp offers %s", profileNames(weak)), remedyNull)
	}
	if !ch.ExtendedMasterSecret {
		add(weakTaken(Medium, "ClientHello without extended_master_secret"), remedyEMS)
	}
	if len(out) == 0 {
		add(weakRefused("DTLS 1.2, %d suites, none without forward secrecy; use_srtp %s; extended_master_secret", len(ch.CipherSuites), profileNames(ch.SRTPProfiles)), "")
	}
	return out
}

// offerFingerprint makes the browser's SDP carry only a fingerprint of
// its real certificate under hash (named as SDP names it).
func offerFingerprint(hash string, h crypto.Hash) func(*dtlsProbe, *peer.Config) {
	return func(_ *dtlsProbe, c *peer.Config) {
		d := h.New()
		d.Write(c.Certificate.Certificate[0])
		sum := d.Sum(nil)
		parts := make([]string, len(sum))
		for i, b := range sum {
			parts[i] = fmt.Sprintf("%02X", b)
		}
		line := []byte("a=fingerprint:" + hash + " " + strings.Join(parts, ":"))
		c.LocalSDP = func(sdp []byte) []byte {
			lines := bytes.Split(sdp, []byte("\r\n"))
			for i, l := range lines {
				if bytes.HasPrefix(l, []byte("a=fingerprint:")) {
					lines[i] = line
				}
			}
			return bytes.Join(lines, []byte("\r\n"))
		}
	}
}

// judgeFingerprintOffer judges an offer whose only fingerprint is hash:
// taken is what a completed handshake gives.
func judgeFingerprintOffer(p *dtlsProbe, hash string, taken rowVerdict) rowVerdict {
	switch {
	case p.status >= 400 && p.status < 500 || p.status >= 600:
		return weakRefused("the INVITE was answered %d", p.status)
	case p.status != 200:
		return unanswered("%s", p.reachedDTLS())
	case p.connected:
		taken.detail = fmt.Sprintf("the INVITE was answered 200 and DTLS completed against the %s fingerprint", hash)
		return taken
	}
	return weakRefused("the INVITE was answered 200 but the handshake did not complete (%s)", p.alerts())
}

// rowMD5 offers an MD5 fingerprint of the browser's real certificate; the
// target must refuse the offer (488) or at least the handshake.
var rowMD5 = dtlsRow{
	name:   "offer with an MD5 fingerprint",
	tweak:  offerFingerprint("md5", crypto.MD5),
	judge:  func(p *dtlsProbe) rowVerdict { return judgeFingerprintOffer(p, "MD5", weakTaken(Medium, "")) },
	remedy: remedyMD5,
}

// rowSHA1 offers only a SHA-1 fingerprint: RFC 8122 allows it, so taking
// it is a warning, not a weakness.
var rowSHA1 = dtlsRow{
	name:  "offer with a SHA-1 fingerprint only",
	tweak: offerFingerprint("sha-1", crypto.SHA1),
	judge: func(p *dtlsProbe) rowVerdict {
		return judgeFingerprintOffer(p, "SHA-1", rowVerdict{state: rowWarning})
	},
}
