package gateway

import (
	"testing"

	"github.com/icholy/digest"
)

// The digest check against RFC 7616 3.9.1's worked example: user Mufasa,
// password "Circle of Life", realm http-auth@example.org, GET
// /dir/index.html, nc 00000001, qop auth; the responses are the RFC's.
func TestDigestRFC7616Vector(t *testing.T) {
	base := digest.Credentials{
		Username: "Mufasa", Realm: "http-auth@example.org", URI: "/dir/index.html", QOP: "auth", Nc: 1,
		Nonce:  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
		Cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
		Opaque: "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
	}
	tests := []struct {
		alg, response, password string
		want                    bool
	}{
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", "Circle of Life", true},
		{"MD5", "8ca523f5e9506fed4657c9700eebdbec", "Circle of Life", true},
		{"SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", "circle of life", false},
		{"MD5", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", "Circle of Life", false}, // SHA-256's answer under MD5
	}
	for _, tt := range tests {
		c := base
		c.Algorithm, c.Response = tt.alg, tt.response
		if got := digestMatches(&c, "GET", tt.password); got != tt.want {
			t.Errorf("%s with %q: matches %v, want %v", tt.alg, tt.password, got, tt.want)
		}
	}
}
