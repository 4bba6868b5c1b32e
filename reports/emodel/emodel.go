// Package emodel computes the listening-quality estimate Gauntlet reports as
// MOS: the simplified E-model VoIP monitors use (ITU-T G.107 defaults, the
// Cole-Rosenbluth delay term, G.113 codec constants), per call and direction.
//
//	R      = Base - Id - Ie,eff
//	Ie,eff = Ie + (Ceiling - Ie) * Ppl / (Ppl/BurstR + Bpl)
//	Id     = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)     (d: one-way delay, ms)
//	MOS    = 1 + 0.035 R' + 7e-6 R' (R' - 60) (100 - R'), R' = R / Scale,
//	         1 below R' = 0 and 4.5 above R' = 100.
//
// Narrowband codecs use Base 93.2, Ceiling 95, Scale 1. Opus has no G.113
// narrowband entry; it uses the wideband form rtpengine uses (Base 148,
// Ie 10.2, Bpl 4.3, Scale 1.48) with Ceiling = Base, which keeps the loss
// term proportional on the wider scale. The table is data: callers may pass
// their own Codec values, and reports print the constants used.
package emodel

import (
	"fmt"
	"math"
	"strings"
)

// Codec holds the E-model constants for one codec.
type Codec struct {
	Name    string  `json:"name"`
	Ie      float64 `json:"ie"`      // equipment impairment
	Bpl     float64 `json:"bpl"`     // packet-loss robustness
	Base    float64 `json:"base"`    // R with no impairment (93.2 with G.107 defaults)
	Ceiling float64 `json:"ceiling"` // the loss term's upper bound (95 narrowband)
	Scale   float64 `json:"scale"`   // divides R before the MOS mapping (1 narrowband, 1.48 wideband)
}

// Narrowband returns a G.113 narrowband codec entry with G.107 defaults.
func Narrowband(name string, ie, bpl float64) Codec {
	return Codec{Name: name, Ie: ie, Bpl: bpl, Base: 93.2, Ceiling: 95, Scale: 1}
}

// Table is the default codec table. Keys are lower-case codec names.
func Table() map[string]Codec {
	return map[string]Codec{
		"pcmu":       Narrowband("PCMU (G.711, PLC)", 0, 25.1),
		"pcma":       Narrowband("PCMA (G.711, PLC)", 0, 25.1),
		"g711-noplc": Narrowband("G.711 without PLC", 0, 4.3),
		"g729a":      Narrowband("G.729A", 11, 19.0),
		"opus":       {Name: "Opus (wideband form)", Ie: 10.2, Bpl: 4.3, Base: 148, Ceiling: 148, Scale: 1.48},
	}
}

// Lookup finds a codec in the default table by name, accepting SDP rtpmap
// forms such as "PCMU/8000" or "opus/48000/2".
func Lookup(name string) (Codec, bool) {
	key := strings.ToLower(name)
	if i := strings.IndexByte(key, '/'); i >= 0 {
		key = key[:i]
	}
	c, ok := Table()[key]
	return c, ok
}

// Input is what one direction of a call measured.
type Input struct {
	LossPct float64 // packet loss, percent, after the jitter buffer
	BurstR  float64 // burst ratio; 0 or 1 means random loss
	DelayMS float64 // one-way mouth-to-ear delay, ms
}

// Validate rejects inputs the model has no meaning for.
func (in Input) Validate() error {
	switch {
	case math.IsNaN(in.LossPct) || in.LossPct < 0 || in.LossPct > 100:
		return fmt.Errorf("emodel: loss %v%% out of [0,100]", in.LossPct)
	case math.IsNaN(in.DelayMS) || in.DelayMS < 0:
		return fmt.Errorf("emodel: delay %v ms is negative", in.DelayMS)
	case in.BurstR < 0:
		return fmt.Errorf("emodel: burst ratio %v is negative", in.BurstR)
	}
	return nil
}

// DelayImpairment is Id for a one-way delay in ms (Cole-Rosenbluth).
func DelayImpairment(d float64) float64 {
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	return id
}

// R returns the transmission rating factor on the codec's own scale.
func (c Codec) R(in Input) float64 {
	burst := in.BurstR
	if burst <= 0 {
		burst = 1
	}
	ppl := in.LossPct
	ieEff := c.Ie
	if ppl > 0 {
		ieEff += (c.Ceiling - c.Ie) * ppl / (ppl/burst + c.Bpl)
	}
	return c.Base - DelayImpairment(in.DelayMS) - ieEff
}

// MOS maps the codec's R for the input to a MOS between 1 and 4.5.
func (c Codec) MOS(in Input) float64 {
	scale := c.Scale
	if scale <= 0 {
		scale = 1
	}
	return MOSFromR(c.R(in) / scale)
}

// MOSFromR maps a narrowband-scale R to MOS (G.107 Annex B).
func MOSFromR(r float64) float64 {
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	return 1 + 0.035*r + 7e-6*r*(r-60)*(100-r)
}
