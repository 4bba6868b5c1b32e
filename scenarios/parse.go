package scenarios

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gauntlet-rtc/gauntlet/reports"
	"gopkg.in/yaml.v3"
)

// Load reads, decodes and validates the scenario file at path. Mistakes in
// the file come back together as *Errors, each naming path, line, column
// and field.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a scenario; name is the file name used in
// error messages. Decoding is strict: unknown fields, wrong types and bad
// values are errors, never ignored or clamped. Fields the file leaves out
// get their defaults (DefaultCodecs, DefaultSRTPProfiles, actpass,
// weight 1, hangup caller, DefaultTimeouts); a missing max_duration or
// thresholds stays empty and is resolved by RunLimit and ParseThresholds.
func Parse(name string, data []byte) (*Scenario, error) {
	d := newDecoder(name)
	root := d.document(data)
	if root == nil {
		return nil, d.errs.err()
	}
	s := &Scenario{src: d.src}
	d.scenario(root, s)
	s.validate(d.errs)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// fields are the keys each object of a scenario file may have, in the
// order messages list them. scenario.schema.json must say the same (a test
// holds them together).
var fields = map[string][]string{
	"scenario":     {"name", "description", "seed", "users", "populations", "flows", "load", "timeouts", "thresholds", "attacks"},
	"population":   {"name", "kind", "count", "share", "codecs", "srtp_profiles", "dtls_setup", "ice_policy", "nat", "turn", "signaling", "network", "transport"},
	"network":      append([]string{"direction", "schedule"}, netProfileFields...),
	"network_step": append([]string{"at", "for"}, netProfileFields...),
	"flow":         {"name", "from", "to", "weight", "hold", "hangup", "actions", "room_size", "join_spread"},
	"action":       {"at", "do", "for", "digits", "by"},
	"hold":         {"min", "max"},
	"load":         {"calls", "concurrency", "rate", "duration", "stages", "max_duration"},
	"stage":        {"duration", "concurrency"},
	"timeouts":     {"setup", "register", "teardown"},
}

func (d *decoder) scenario(root *yaml.Node, s *Scenario) {
	f := d.mapping(root, "", fields["scenario"]...)
	if v, ok := f["name"]; ok {
		s.Name, _ = d.str(v.val, "name")
	}
	if v, ok := f["description"]; ok {
		s.Description, _ = d.str(v.val, "description")
	}
	if v, ok := f["seed"]; ok {
		if seed, ok := d.integer(v.val, "seed"); ok {
			s.Seed = &seed
		}
	}
	if v, ok := f["users"]; ok {
		s.Users = d.smallInt(v.val, "users")
	}
	if v, ok := f["populations"]; ok {
		items, _ := d.seq(v.val, "populations")
		s.Populations = make([]Population, len(items))
		for i, item := range items {
			d.population(item, indexPath("populations", i), &s.Populations[i])
		}
	}
	d.shares(s)
	if v, ok := f["flows"]; ok {
		items, _ := d.seq(v.val, "flows")
		s.Flows = make([]Flow, len(items))
		for i, item := range items {
			d.flow(item, indexPath("flows", i), &s.Flows[i])
		}
	}
	if v, ok := f["load"]; ok {
		d.load(v.val, "load", &s.Load)
	}
	s.Timeouts = DefaultTimeouts()
	if v, ok := f["timeouts"]; ok {
		d.timeouts(v.val, "timeouts", &s.Timeouts)
	}
	if v, ok := f["thresholds"]; ok {
		exprs, ok := d.strs(v.val, "thresholds")
		if ok && len(exprs) == 0 && len(resolve(v.val).Content) == 0 {
			d.errs.at(v.pos(), "thresholds", ErrRequired, "empty list; leave thresholds out to get the defaults (%s)", defaultThresholdExprs())
		}
		s.Thresholds = exprs
	}
	if v, ok := f["attacks"]; ok {
		s.Attacks, _ = d.strs(v.val, "attacks")
	}
}

func (d *decoder) population(n *yaml.Node, path string, p *Population) {
	f := d.mapping(n, path, fields["population"]...)
	if f == nil {
		return
	}
	if v, ok := f["name"]; ok {
		p.Name, _ = d.str(v.val, joinPath(path, "name"))
	}
	if v, ok := f["kind"]; ok {
		k, _ := d.str(v.val, joinPath(path, "kind"))
		p.Kind = Kind(k)
	}
	if v, ok := f["count"]; ok {
		p.Count = d.smallInt(v.val, joinPath(path, "count"))
	}
	if v, ok := f["share"]; ok {
		p.Share = d.share(v.val, joinPath(path, "share"))
	}
	p.Codecs = DefaultCodecs(p.Kind)
	if v, ok := f["codecs"]; ok {
		names, _ := d.strs(v.val, joinPath(path, "codecs"))
		p.Codecs = make([]Codec, len(names))
		for i, c := range names {
			p.Codecs[i] = Codec(c)
		}
	}
	if p.Kind == KindWebRTC {
		p.SRTPProfiles = DefaultSRTPProfiles()
		p.DTLSSetup = DTLSSetupActpass
	}
	if v, ok := f["srtp_profiles"]; ok {
		names, _ := d.strs(v.val, joinPath(path, "srtp_profiles"))
		p.SRTPProfiles = make([]SRTPProfile, len(names))
		for i, c := range names {
			p.SRTPProfiles[i] = SRTPProfile(c)
		}
	}
	if v, ok := f["dtls_setup"]; ok {
		s, _ := d.str(v.val, joinPath(path, "dtls_setup"))
		p.DTLSSetup = DTLSSetup(s)
	}
	d.populationNet(f, path, p)
}

func (d *decoder) flow(n *yaml.Node, path string, fl *Flow) {
	f := d.mapping(n, path, fields["flow"]...)
	if f == nil {
		return
	}
	if v, ok := f["name"]; ok {
		fl.Name, _ = d.str(v.val, joinPath(path, "name"))
	}
	if v, ok := f["from"]; ok {
		fl.From, _ = d.str(v.val, joinPath(path, "from"))
	}
	if v, ok := f["to"]; ok {
		fl.To, _ = d.str(v.val, joinPath(path, "to"))
	}
	fl.Weight = 1
	if v, ok := f["weight"]; ok {
		fl.Weight = d.smallInt(v.val, joinPath(path, "weight"))
	}
	if v, ok := f["hold"]; ok {
		fl.Hold = d.hold(v.val, joinPath(path, "hold"))
	}
	fl.Hangup = HangupCaller
	if v, ok := f["hangup"]; ok {
		s, _ := d.str(v.val, joinPath(path, "hangup"))
		fl.Hangup = Hangup(s)
	}
	if v, ok := f["actions"]; ok {
		fl.Actions = d.actions(v.val, joinPath(path, "actions"))
	}
	if v, ok := f["room_size"]; ok {
		fl.RoomSize = d.smallInt(v.val, joinPath(path, "room_size"))
	}
	if v, ok := f["join_spread"]; ok {
		fl.JoinSpread, _ = d.duration(v.val, joinPath(path, "join_spread"))
	}
}

// hold decodes "3s" (fixed) or {min: 2s, max: 5s} (uniform).
func (d *decoder) hold(n *yaml.Node, path string) Hold {
	if resolve(n).Kind != yaml.MappingNode {
		v, _ := d.duration(n, path)
		return FixedHold(v)
	}
	f := d.mapping(n, path, fields["hold"]...)
	var h Hold
	for _, b := range []struct {
		name string
		dst  *time.Duration
	}{{"min", &h.Min}, {"max", &h.Max}} {
		p := joinPath(path, b.name)
		v, ok := f[b.name]
		if !ok {
			d.errs.at(d.src.lookup(path), p, ErrRequired, "required: a hold range needs both min and max (or write one duration)")
			continue
		}
		*b.dst, _ = d.duration(v.val, p)
	}
	return h
}

func (d *decoder) load(n *yaml.Node, path string, l *LoadSpec) {
	f := d.mapping(n, path, fields["load"]...)
	if f == nil {
		return
	}
	if v, ok := f["calls"]; ok {
		l.Calls = d.smallInt(v.val, joinPath(path, "calls"))
	}
	if v, ok := f["concurrency"]; ok {
		l.Concurrency = d.smallInt(v.val, joinPath(path, "concurrency"))
	}
	if v, ok := f["rate"]; ok {
		p := joinPath(path, "rate")
		if s, ok := d.str(v.val, p); ok {
			r, err := ParseRate(s)
			if err != nil {
				d.errs.at(v.pos(), p, err, "%s", err)
			}
			l.Rate = r
		}
	}
	if v, ok := f["max_duration"]; ok {
		l.MaxDuration, _ = d.duration(v.val, joinPath(path, "max_duration"))
	}
	if v, ok := f["duration"]; ok {
		l.Duration, _ = d.duration(v.val, joinPath(path, "duration"))
	}
	if v, ok := f["stages"]; ok {
		items, _ := d.seq(v.val, joinPath(path, "stages"))
		l.Stages = make([]Stage, len(items))
		for i, item := range items {
			sp := indexPath(joinPath(path, "stages"), i)
			sf := d.mapping(item, sp, fields["stage"]...)
			if sv, ok := sf["duration"]; ok {
				l.Stages[i].Duration, _ = d.duration(sv.val, joinPath(sp, "duration"))
			} else if sf != nil {
				d.errs.at(d.src.lookup(sp), joinPath(sp, "duration"), ErrRequired, "required: how long the stage ramps")
			}
			if sv, ok := sf["concurrency"]; ok {
				l.Stages[i].Concurrency = d.smallInt(sv.val, joinPath(sp, "concurrency"))
			} else if sf != nil {
				d.errs.at(d.src.lookup(sp), joinPath(sp, "concurrency"), ErrRequired, "required: the calls up at once the stage ramps to")
			}
		}
	}
}

func (d *decoder) timeouts(n *yaml.Node, path string, t *Timeouts) {
	f := d.mapping(n, path, fields["timeouts"]...)
	for name, dst := range map[string]*time.Duration{"setup": &t.Setup, "register": &t.Register, "teardown": &t.Teardown} {
		if v, ok := f[name]; ok {
			*dst, _ = d.duration(v.val, joinPath(path, name))
		}
	}
}

func defaultThresholdExprs() string {
	ts := reports.DefaultThresholds()
	exprs := make([]string, len(ts))
	for i, t := range ts {
		exprs[i] = t.Expr
	}
	return strings.Join(exprs, ", ")
}

// smallInt decodes an integer that must fit an int32-sized count; larger
// values are reported here (validation then sees 0 and stays quiet).
func (d *decoder) smallInt(n *yaml.Node, path string) int {
	v, ok := d.integer(n, path)
	if !ok {
		return 0
	}
	if v > math.MaxInt32 || v < math.MinInt32 {
		d.errs.at(d.src.lookup(path), path, ErrRange, "%d is out of range (|n| <= %d)", v, math.MaxInt32)
		return 0
	}
	return int(v)
}

// share decodes a population's share of the scenario's users: "60%" or 0.6.
func (d *decoder) share(n *yaml.Node, path string) float64 {
	v, ok := d.percentage(n, path, "60%", "0.6")
	if !ok {
		return 0
	}
	if v <= 0 || v > 1 {
		d.errs.at(d.src.lookup(path), path, ErrRange, "must be above 0%% and at most 100%%, got %s", resolve(n).Value)
		return 0
	}
	return v
}

// percentage decodes "N%" or a plain number as a fraction (60% is 0.6);
// egPct and egFrac are the examples its messages give.
func (d *decoder) percentage(n *yaml.Node, path, egPct, egFrac string) (float64, bool) {
	r := resolve(n)
	var v float64
	switch {
	case r.Kind == yaml.ScalarNode && r.Tag == "!!str" && strings.HasSuffix(r.Value, "%"):
		pct, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(r.Value, "%")), 64)
		if err != nil {
			d.errs.at(d.src.lookup(path), path, ErrSyntax, "bad percentage %q: want e.g. %s or %s", r.Value, egPct, egFrac)
			return 0, false
		}
		v = pct / 100
	case r.Kind == yaml.ScalarNode && (r.Tag == "!!float" || r.Tag == "!!int"):
		if err := r.Decode(&v); err != nil {
			d.errs.at(d.src.lookup(path), path, ErrType, "want a fraction or a percentage, got %q", r.Value)
			return 0, false
		}
	default:
		d.errs.at(d.src.lookup(path), path, ErrType, "want a percentage like %s or a fraction like %s, got %s", egPct, egFrac, describe(n))
		return 0, false
	}
	if math.IsNaN(v) {
		d.errs.at(d.src.lookup(path), path, ErrRange, "not a number: %s", r.Value)
		return 0, false
	}
	return v, true
}

// shares turns population shares into counts of the scenario's users.
func (d *decoder) shares(s *Scenario) {
	total, any := 0.0, false
	for i := range s.Populations {
		p := &s.Populations[i]
		if p.Share == 0 {
			continue
		}
		any = true
		total += p.Share
		path := indexPath("populations", i)
		switch {
		case d.src.has(joinPath(path, "count")):
			d.errs.at(d.src.lookup(joinPath(path, "share")), joinPath(path, "share"), ErrConflict, "give count or share, not both")
		case s.Users < 1:
			d.errs.at(d.src.lookup(joinPath(path, "share")), joinPath(path, "share"), ErrRequired, "a share needs the scenario's users: the total the shares divide")
		default:
			p.Count = int(math.Round(p.Share * float64(s.Users)))
			if p.Count < 1 {
				d.errs.at(d.src.lookup(joinPath(path, "share")), joinPath(path, "share"), ErrRange, "%.4g%% of %d users is no user at all; raise users or the share", p.Share*100, s.Users)
			}
		}
	}
	if total > 1+1e-9 {
		d.errs.at(d.src.lookup("populations"), "populations", ErrRange, "population shares add up to %.4g%%, more than 100%%", total*100)
	}
	if s.Users != 0 && !any {
		d.errs.at(d.src.lookup("users"), "users", ErrConflict, "users is the total that population shares divide, but no population gives a share")
	}
}
