package reports

import "testing"

func TestRedact(t *testing.T) {
	const R = Redacted
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"nothing secret", "INVITE got 486 Busy Here from sip:bob@127.0.0.1", "INVITE got 486 Busy Here from sip:bob@127.0.0.1"},
		{"sip digest header",
			"REGISTER sip:example.test SIP/2.0\r\nAuthorization: Digest username=\"alice\", realm=\"x\", response=\"6629fae49393a05397450978507c4ef1\"\r\nCSeq: 2 REGISTER",
			"REGISTER sip:example.test SIP/2.0\r\nAuthorization: Digest " + R + "\r\nCSeq: 2 REGISTER"},
		{"proxy authorization", "Proxy-Authorization: Digest username=\"a\", response=\"ff\"", "Proxy-Authorization: Digest " + R},
		{"authorization lower case no scheme", "authorization: abc123", "authorization: " + R},
		{"authorization json", `{"Authorization": "Bearer abc.def", "x": 1}`, `{"Authorization": "Bearer ` + R + `", "x": 1}`},
		{"bearer in prose", "sent Bearer abcDEF123-_.~+/= to rooms", "sent Bearer " + R + " to rooms"},
		{"yaml password", "users:\n  - name: alice\n    password: hunter2\n    realm: x", "users:\n  - name: alice\n    password: " + R + "\n    realm: x"},
		{"yaml quoted secret", "turn:\n  secret: \"s3cr3t with space\"\n", "turn:\n  secret: \"" + R + "\"\n"},
		{"yaml empty value keeps next line", "token:\n  source: file\n", "token:\n  source: file\n"},
		{"yaml suffix key", "rest_secret: abc\nturn_credential: 'x y'", "rest_secret: " + R + "\nturn_credential: '" + R + "'"},
		{"json password", `{"user":"alice","password":"p\"w","n":2}`, `{"user":"alice","password":"` + R + `","n":2}`},
		{"json unquoted value", `{"token":12345,"n":2}`, `{"token":` + R + `,"n":2}`},
		{"json credential camel", `{"urls":["turn:127.0.0.1"],"username":"1700:u","credential":"b64+/=="}`, `{"urls":["turn:127.0.0.1"],"username":"1700:u","credential":"` + R + `"}`},
		{"query token", "GET /join?room=abc&token=t0k3n&x=1 HTTP/1.1", "GET /join?room=abc&token=" + R + "&x=1 HTTP/1.1"},
		{"query access_token at end", "wss://127.0.0.1:8443/ws?access_token=zzz", "wss://127.0.0.1:8443/ws?access_token=" + R},
		{"logfmt", "level=warn password=abc user=bob", "level=warn password=" + R + " user=bob"},
		{"jwt alone", "got eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl back", "got " + R + " back"},
		{"jwt alg none", "eyJhbGciOiJub25lIn0.eyJyb29tIjoiYSJ9.", R},
		{"url userinfo", "credential url https://bob:pa55@127.0.0.1/turn", "credential url https://bob:" + R + "@127.0.0.1/turn"},
		{"sip userinfo", "Contact: <sip:alice:pa55@127.0.0.1:5060>", "Contact: <sip:alice:" + R + "@127.0.0.1:5060>"},
		{"sip no password kept", "To: <sip:alice@127.0.0.1:5060>", "To: <sip:alice@127.0.0.1:5060>"},
		{"ice pwd", "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n", "a=ice-ufrag:abcd\r\na=ice-pwd:" + R + "\r\n"},
		{"sdes key", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + R},
		{"empty value untouched", "password= ", "password= "},
		{"idempotent", "Authorization: Digest " + R, "Authorization: Digest " + R},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.in)
			if got != tt.want {
				t.Fatalf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := Redact(got); again != got {
				t.Fatalf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}
