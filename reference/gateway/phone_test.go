package gateway

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"
)

// testPhone is a desk phone: a sipgo UA on its own UDP socket that
// registers, answers INVITEs with 180 and, once the test says so, a plain
// RTP/AVP answer (PCMU), and exchanges RTP on a socket of its own.
type testPhone struct {
	t        *testing.T
	user     string
	password string // answers digest challenges when set
	conn     net.PacketConn
	rtp      *net.UDPConn
	ua       *sipgo.UserAgent
	client   *sipgo.Client
	dialogs  *sipgo.DialogServerCache
	serving  sync.WaitGroup

	answer chan struct{}                   // the phone answers (200) once this is closed
	never  atomic.Bool                     // when set, the phone rings until the caller gives up
	reject atomic.Int32                    // when set, the phone answers INVITEs with this final status
	gaveUp chan struct{}                   // a caller gave up while it rang (CANCEL)
	offers chan string                     // SDP offers received
	calls  chan *sipgo.DialogServerSession // answered (and ACKed) calls
	media  chan *net.UDPAddr               // where the gateway wants RTP, once the call is answered
	byes   chan *sip.Request               // BYEs received

	// answerFor, when set, makes the phone's SDP answer to an offer, its
	// RTP socket's port given; else the phone answers plain PCMU.
	answerFor atomic.Pointer[func(offer []byte, port int) string]
}

func startPhone(t *testing.T, user string) *testPhone {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rtpConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"), sipgo.WithUserAgentDNSResolver(noDNS))
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().(*net.UDPAddr)
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientConnectionAddr(addr.String()))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPhone{
		t: t, user: user, conn: conn, rtp: rtpConn, ua: ua, client: client,
		dialogs: sipgo.NewDialogServerCache(client, sip.ContactHeader{Address: uriOf(user, addr)}),
		answer:  make(chan struct{}),
		gaveUp:  make(chan struct{}, 16),
		offers:  make(chan string, 16),
		calls:   make(chan *sipgo.DialogServerSession, 16),
		media:   make(chan *net.UDPAddr, 16),
		byes:    make(chan *sip.Request, 16),
	}
	srv.OnInvite(p.onInvite)
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { _ = p.dialogs.ReadAck(req, tx) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := p.dialogs.ReadBye(req, tx); err != nil {
			t.Errorf("phone BYE: %v", err)
		}
		p.byes <- req
	})
	ready := newReadyConn(conn)
	p.serving.Go(func() { _ = srv.ServeUDP(ready) })
	<-ready.ready
	t.Cleanup(p.close)
	return p
}

func uriOf(user string, addr *net.UDPAddr) sip.Uri {
	return sip.Uri{Scheme: "sip", User: user, Host: addr.IP.String(), Port: addr.Port}
}

func (p *testPhone) close() {
	_ = p.conn.Close()
	_ = p.rtp.Close()
	p.serving.Wait()
	_ = p.ua.Close()
}

// register sends REGISTER to the gateway and returns its final response.
func (p *testPhone) register(ctx context.Context, gwUDP, domain string) *sip.Response {
	p.t.Helper()
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: domain})
	req.SetDestination(gwUDP)
	aor := sip.Uri{Scheme: "sip", User: p.user, Host: domain}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(12))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	req.AppendHeader(&sip.ContactHeader{Address: uriOf(p.user, p.conn.LocalAddr().(*net.UDPAddr))})
	req.AppendHeader(sip.NewHeader("Expires", "600"))
	res, err := p.client.Do(ctx, req)
	if err != nil {
		p.t.Fatalf("phone REGISTER: %v", err)
	}
	if res.StatusCode == 401 && p.password != "" {
		res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: p.password})
		if err != nil {
			p.t.Fatalf("phone REGISTER with credentials: %v", err)
		}
	}
	return res
}

func (p *testPhone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	dlg, err := p.dialogs.ReadInvite(req, tx)
	if err != nil {
		p.t.Errorf("phone INVITE: %v", err)
		return
	}
	p.offers <- string(req.Body())
	remote, err := offerTarget(req.Body())
	if err != nil {
		p.t.Errorf("phone: gateway offer: %v", err)
		_ = dlg.Respond(488, "Not Acceptable Here", nil)
		return
	}
	if err := dlg.Respond(180, "Ringing", nil); err != nil {
		p.t.Errorf("phone 180: %v", err)
		return
	}
	port := p.rtp.LocalAddr().(*net.UDPAddr).Port
	answer := fmt.Sprintf("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=phone\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n", port)
	if fn := p.answerFor.Load(); fn != nil {
		answer = (*fn)(req.Body(), port)
	}
	if code := p.reject.Load(); code != 0 {
		if err := dlg.Respond(int(code), "Busy Here", nil); err != nil {
			p.t.Errorf("phone %d: %v", code, err)
		}
		return
	}
	if p.never.Load() {
		<-dlg.Context().Done()
		p.gaveUp <- struct{}{}
		return
	}
	select {
	case <-p.answer:
	case <-tx.Done():
		return
	}
	p.media <- remote
	// A BYE that follows the ACK at once (the gateway refusing the
	// answer) may be handled first: sipgo then reports no ACK, though
	// both came.
	if err := dlg.RespondSDP([]byte(answer)); err != nil && dlg.LoadState() != sip.DialogStateEnded {
		p.t.Errorf("phone 200: %v", err)
		return
	}
	p.calls <- dlg
}

// offerTarget reads the c= address and audio port of an RTP/AVP offer.
func offerTarget(body []byte) (*net.UDPAddr, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, err
	}
	if len(sd.MediaDescriptions) == 0 || sd.ConnectionInformation == nil {
		return nil, fmt.Errorf("no media or c= line")
	}
	ip := net.ParseIP(sd.ConnectionInformation.Address.Address)
	return &net.UDPAddr{IP: ip, Port: sd.MediaDescriptions[0].MediaName.Port.Value}, nil
}
