package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/gobwas/ws"
)

// maxWSMessage bounds one SIP message over a WebSocket.
const maxWSMessage = 64 << 10

var errWSProtocol = errors.New("websocket protocol error")

// readMessage reads the client's next message (RFC 7118 5: one SIP
// message per WebSocket message, in text or binary frames, possibly
// fragmented) and returns it as the one masked text frame that sipgo's
// reader understands (it drops binary and continuation frames). Pings and
// pongs are skipped; a close frame is passed on so sipgo ends the
// connection. text is the SIP message the frame carries, nil for a close.
func readMessage(r *bufio.Reader) (frame, text []byte, err error) {
	var msg []byte
	started := false
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return nil, nil, err
		}
		if !h.Masked || h.Rsv != 0 || h.Length > maxWSMessage || (h.OpCode.IsControl() && (h.Length > 125 || !h.Fin)) {
			return nil, nil, fmt.Errorf("%w: frame %+v", errWSProtocol, h)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil, nil, err
		}
		ws.Cipher(payload, h.Mask, 0)
		switch h.OpCode {
		case ws.OpPing, ws.OpPong:
			continue
		case ws.OpClose:
			frame, err := ws.CompileFrame(ws.MaskFrame(ws.NewCloseFrame(payload)))
			return frame, nil, err
		case ws.OpText, ws.OpBinary:
			if started {
				return nil, nil, fmt.Errorf("%w: a new message inside a fragmented one", errWSProtocol)
			}
			started = true
		case ws.OpContinuation:
			if !started {
				return nil, nil, fmt.Errorf("%w: continuation without a message", errWSProtocol)
			}
		default:
			return nil, nil, fmt.Errorf("%w: opcode %d", errWSProtocol, h.OpCode)
		}
		if len(msg)+len(payload) > maxWSMessage {
			return nil, nil, fmt.Errorf("%w: message over %d bytes", errWSProtocol, maxWSMessage)
		}
		msg = append(msg, payload...)
		if h.Fin {
			frame, err := ws.CompileFrame(ws.MaskFrame(ws.NewTextFrame(msg)))
			return frame, msg, err
		}
	}
}
