package escalation

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/protectnow/protect/store"
)

// Organisation kinds a team can be.
const (
	KindGPPractice = "gp_practice"
	KindClinical   = "clinical"
	KindCouncil    = "council"
	KindCharity    = "charity"
)

// Resolve SLAs used when the routing file does not set them: a working day,
// and an hour for anything urgent.
const (
	DefaultResolveSLA       = 8 * time.Hour
	DefaultUrgentResolveSLA = time.Hour
)

var priorities = []string{"urgent", "high", "normal", "low"}

//go:embed default_routing.yaml
var defaultRouting []byte

// Routing is the routing file: teams, rules from need to team, SLAs and
// the tiers an unclaimed escalation climbs. It is checked as a whole when
// loaded; a Routing in use is never changed.
type Routing struct {
	Teams []*Team `yaml:"teams"`
	Rules []Rule  `yaml:"rules"`
	// DefaultTeam takes needs no rule matches.
	DefaultTeam string `yaml:"default_team"`
	// UrgentTeam takes every urgent need, whatever the rules say.
	UrgentTeam string `yaml:"urgent_team"`
	// DutyTeam's on-call numbers are texted when sending from a sender is
	// held by a fault of the account or the gateway, and when it resumes;
	// default: the urgent team.
	DutyTeam string `yaml:"duty_team"`
	// SLA is how long an escalation of a category may stay unclaimed;
	// "default" covers categories not listed.
	SLA map[string]time.Duration `yaml:"sla"`
	// PrioritySLA caps the SLA by priority (urgent: 15m).
	PrioritySLA map[string]time.Duration `yaml:"priority_sla"`
	// ResolveSLA is how long a claimed escalation of a category may stay
	// unresolved before the team and the claimer are alerted again;
	// "default" (DefaultResolveSLA when left out) covers the rest.
	ResolveSLA map[string]time.Duration `yaml:"resolve_sla"`
	// PriorityResolveSLA caps ResolveSLA by priority; when the file has
	// none, urgent escalations must be resolved within DefaultUrgentResolveSLA.
	PriorityResolveSLA map[string]time.Duration `yaml:"priority_resolve_sla"`
	// EscalationChain lists the teams an escalation goes to, tier by tier,
	// when it is not claimed in time; past the end it stays with the last
	// team and is alerted again at each SLA period.
	EscalationChain []string `yaml:"escalation_chain"`
	// AlertSender is the number or alphanumeric sender alert SMS come from.
	AlertSender string `yaml:"alert_sender"`
	// SMSPriorities are the priorities whose escalations are texted to the
	// team's on-call numbers (webhooks carry every escalation).
	SMSPriorities []string `yaml:"sms_priorities"`

	byKey map[string]*Team
	// source is the SHA-256 of the file this routing was read from, so a
	// watcher can tell whether the file on disk is the one in use.
	source [32]byte
}

// Team is an organisation that handles escalations.
type Team struct {
	Key  string `yaml:"key"`
	Name string `yaml:"name"`
	// Kind is gp_practice, clinical, council or charity.
	Kind string `yaml:"kind"`
	// Members are console user names who belong to the team, in addition to
	// the teams given to users when they are created.
	Members []string `yaml:"members"`
	// OnCall numbers (E.164) receive alert SMS.
	OnCall  []string `yaml:"on_call"`
	Webhook *Webhook `yaml:"webhook"`
	// CapacityPerHour is how many new escalations the team can take in an
	// hour; a campaign's forecast warns when it would send more. 0: not
	// set.
	CapacityPerHour int `yaml:"capacity_per_hour"`
}

// Webhook is a team system that receives signed escalation events.
type Webhook struct {
	URL string `yaml:"url"`
	// Secret signs the body (HMAC-SHA256); SecretEnv names an environment
	// variable holding it instead, which keeps it out of the file.
	Secret    string `yaml:"secret"`
	SecretEnv string `yaml:"secret_env"`
}

// Rule sends needs of some categories, optionally in one locality or GP
// practice, to a team. Rules are tried in order; the first match wins.
type Rule struct {
	Categories []string `yaml:"categories"`
	Locality   string   `yaml:"locality"`
	Practice   string   `yaml:"practice"`
	Team       string   `yaml:"team"`
}

var (
	teamKey    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	categoryRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	e164       = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	alphaID    = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
)

// DefaultRoutingYAML is the built-in routing used when PROTECT_ROUTING_FILE
// is not set.
func DefaultRoutingYAML() []byte { return slices.Clone(defaultRouting) }

// LoadRoutingFile reads and checks a routing file; an empty path loads the
// built-in default.
func LoadRoutingFile(path string) (*Routing, error) {
	name, b, err := readRouting(path)
	if err != nil {
		return nil, err
	}
	return ParseRouting(name, b, os.LookupEnv)
}

// readRouting reads a routing file, or the built-in one for an empty path,
// and names it for messages.
func readRouting(path string) (name string, data []byte, err error) {
	if path == "" {
		return "built-in routing", defaultRouting, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return path, nil, fmt.Errorf("routing file: %w", err)
	}
	return path, b, nil
}

// ParseRouting reads a routing file and checks it, reporting every problem
// at once. lookupEnv resolves webhook secret_env names.
func ParseRouting(name string, data []byte, lookupEnv func(string) (string, bool)) (*Routing, error) {
	var r Routing
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := r.check(lookupEnv); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.source = sha256.Sum256(data)
	return &r, nil
}

func (r *Routing) check(lookupEnv func(string) (string, bool)) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	r.byKey = map[string]*Team{}
	if len(r.Teams) == 0 {
		bad("teams: at least one team is required")
	}
	for i, t := range r.Teams {
		where := fmt.Sprintf("teams[%d]", i)
		if t == nil {
			bad("%s: empty", where)
			continue
		}
		if !teamKey.MatchString(t.Key) {
			bad("%s.key: %q must be lower-case letters, digits and dashes", where, t.Key)
		} else if r.byKey[t.Key] != nil {
			bad("%s.key: %q is used twice", where, t.Key)
		}
		r.byKey[t.Key] = t
		if strings.TrimSpace(t.Name) == "" {
			bad("%s.name: required", where)
		}
		switch t.Kind {
		case KindGPPractice, KindClinical, KindCouncil, KindCharity:
		default:
			bad("%s.kind: %q is not one of gp_practice, clinical, council, charity", where, t.Kind)
		}
		if t.CapacityPerHour < 0 {
			bad("%s.capacity_per_hour: expected 0 or more escalations an hour, got %d", where, t.CapacityPerHour)
		}
		for j, n := range t.OnCall {
			if !e164.MatchString(n) {
				bad("%s.on_call[%d]: expected an E.164 number such as +447700900004", where, j)
			}
		}
		if w := t.Webhook; w != nil {
			u, err := url.Parse(w.URL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad("%s.webhook.url: expected an absolute http(s) URL", where)
			}
			if w.SecretEnv != "" {
				if w.Secret != "" {
					bad("%s.webhook: give secret or secret_env, not both", where)
				}
				w.Secret, _ = lookupEnv(w.SecretEnv)
				if w.Secret == "" {
					bad("%s.webhook.secret_env: environment variable %s is not set", where, w.SecretEnv)
				}
			}
			if w.Secret != "" && len(w.Secret) < 16 {
				bad("%s.webhook: the secret must have at least 16 characters", where)
			} else if w.Secret == "" && w.SecretEnv == "" {
				bad("%s.webhook: a secret (or secret_env) is required to sign requests", where)
			}
		}
	}
	known := func(field, key string) {
		if key == "" {
			bad("%s: required", field)
		} else if r.byKey[key] == nil {
			bad("%s: no team %q", field, key)
		}
	}
	known("default_team", r.DefaultTeam)
	known("urgent_team", r.UrgentTeam)
	if r.DutyTeam != "" {
		known("duty_team", r.DutyTeam)
	}
	for i, k := range r.EscalationChain {
		known(fmt.Sprintf("escalation_chain[%d]", i), k)
	}
	for i, rule := range r.Rules {
		where := fmt.Sprintf("rules[%d]", i)
		if len(rule.Categories) == 0 {
			bad("%s.categories: at least one category (or \"*\") is required", where)
		}
		for _, c := range rule.Categories {
			if c != "*" && !categoryRe.MatchString(c) {
				bad("%s.categories: %q is not a category name", where, c)
			}
		}
		if rule.Locality != "" && rule.Practice != "" {
			bad("%s: give locality or practice, not both", where)
		}
		known(where+".team", rule.Team)
	}
	if _, ok := r.SLA["default"]; !ok {
		bad("sla.default: required (the SLA of categories not listed)")
	}
	if r.ResolveSLA == nil {
		r.ResolveSLA = map[string]time.Duration{}
	}
	if _, ok := r.ResolveSLA["default"]; !ok {
		r.ResolveSLA["default"] = DefaultResolveSLA
	}
	if r.PriorityResolveSLA == nil {
		r.PriorityResolveSLA = map[string]time.Duration{"urgent": DefaultUrgentResolveSLA}
	}
	isCategory := func(c string) bool { return c == "default" || categoryRe.MatchString(c) }
	isPriority := func(p string) bool { return slices.Contains(priorities, p) }
	checkSLAs(bad, "sla", "a category name", r.SLA, isCategory)
	checkSLAs(bad, "priority_sla", "one of urgent, high, normal, low", r.PrioritySLA, isPriority)
	checkSLAs(bad, "resolve_sla", "a category name", r.ResolveSLA, isCategory)
	checkSLAs(bad, "priority_resolve_sla", "one of urgent, high, normal, low", r.PriorityResolveSLA, isPriority)
	if r.SMSPriorities == nil {
		r.SMSPriorities = []string{"urgent", "high"}
	}
	for _, p := range r.SMSPriorities {
		if !isPriority(p) {
			bad("sms_priorities: %q is not one of urgent, high, normal, low", p)
		}
	}
	if r.AlertSender == "" {
		r.AlertSender = "Protect"
	}
	if !e164.MatchString(r.AlertSender) && !(alphaID.MatchString(r.AlertSender) && strings.ContainsAny(strings.ToLower(r.AlertSender), "abcdefghijklmnopqrstuvwxyz")) {
		bad("alert_sender: expected an E.164 number or an alphanumeric sender ID of up to 11 characters")
	}
	return errors.Join(errs...)
}

// checkSLAs checks one map of SLAs: known keys, durations from a minute to
// 30 days.
func checkSLAs(bad func(string, ...any), field, want string, m map[string]time.Duration, keyOK func(string) bool) {
	for k, d := range m {
		if !keyOK(k) {
			bad("%s: %q is not %s", field, k, want)
		}
		if d < time.Minute || d > 30*24*time.Hour {
			bad("%s.%s: %v is outside 1m to 720h", field, k, d)
		}
	}
}

// Team returns the team with this key, or nil.
func (r *Routing) Team(key string) *Team { return r.byKey[key] }

// TeamName is the team's display name, or its key when unknown.
func (r *Routing) TeamName(key string) string {
	if t := r.byKey[key]; t != nil {
		return t.Name
	}
	return key
}

// Route chooses the team for a need: the urgent team for anything urgent,
// else the first matching rule, else the default team.
func (r *Routing) Route(n store.PendingNeed) string {
	if n.Priority == "urgent" {
		return r.UrgentTeam
	}
	for _, rule := range r.Rules {
		if !slices.Contains(rule.Categories, n.Category) && !slices.Contains(rule.Categories, "*") {
			continue
		}
		if rule.Locality != "" && !strings.EqualFold(rule.Locality, n.Locality) {
			continue
		}
		if rule.Practice != "" && !strings.EqualFold(rule.Practice, n.Practice) {
			continue
		}
		return rule.Team
	}
	return r.DefaultTeam
}

// Duty is the team told of faults of the gateway itself: duty_team, or
// the urgent team when the file has none.
func (r *Routing) Duty() string {
	if r.DutyTeam != "" {
		return r.DutyTeam
	}
	return r.UrgentTeam
}

// Capacities are the teams' capacity_per_hour, for those that set one.
func (r *Routing) Capacities() map[string]int {
	m := map[string]int{}
	for _, t := range r.Teams {
		if t.CapacityPerHour > 0 {
			m[t.Key] = t.CapacityPerHour
		}
	}
	return m
}

// UnreachableTeam is the team that takes patients not reached after every
// attempt (a normal "unreachable" need, no locality or practice rule).
func (r *Routing) UnreachableTeam() string {
	return r.Route(store.PendingNeed{Category: "unreachable", Priority: "normal"})
}

// ClaimWithin is the SLA of an escalation: its category's, capped by its
// priority's.
func (r *Routing) ClaimWithin(category, priority string) time.Duration {
	return within(r.SLA, r.PrioritySLA, category, priority)
}

// ResolveWithin is how long a claimed escalation may stay unresolved: its
// category's resolve SLA, capped by its priority's.
func (r *Routing) ResolveWithin(category, priority string) time.Duration {
	return within(r.ResolveSLA, r.PriorityResolveSLA, category, priority)
}

func within(byCategory, byPriority map[string]time.Duration, category, priority string) time.Duration {
	d, ok := byCategory[category]
	if !ok {
		d = byCategory["default"]
	}
	if p, ok := byPriority[priority]; ok && p < d {
		d = p
	}
	return d
}

// NextTeam is the team an escalation goes to when it reaches tier (1 for
// the first re-escalation); current when there is no chain.
func (r *Routing) NextTeam(tier int, current string) string {
	if len(r.EscalationChain) == 0 || tier < 1 {
		return current
	}
	return r.EscalationChain[min(tier-1, len(r.EscalationChain)-1)]
}

// Alerts lists the alerts for an escalation arriving at a team: SMS to the
// on-call numbers when its priority calls for them, and the team's webhook.
func (r *Routing) Alerts(team, priority string) []store.AlertTarget {
	t := r.byKey[team]
	if t == nil {
		return nil
	}
	var out []store.AlertTarget
	if slices.Contains(r.SMSPriorities, priority) {
		for _, n := range t.OnCall {
			out = append(out, store.AlertTarget{Channel: "sms", Target: n})
		}
	}
	if t.Webhook != nil {
		out = append(out, store.AlertTarget{Channel: "webhook", Target: t.Webhook.URL})
	}
	return out
}

// OverdueAlerts lists the alerts for an escalation past a deadline at a
// team: SMS to every on-call number whatever the priority, and the webhook.
func (r *Routing) OverdueAlerts(team string) []store.AlertTarget {
	t := r.byKey[team]
	if t == nil {
		return nil
	}
	var out []store.AlertTarget
	for _, n := range t.OnCall {
		out = append(out, store.AlertTarget{Channel: "sms", Target: n})
	}
	if t.Webhook != nil {
		out = append(out, store.AlertTarget{Channel: "webhook", Target: t.Webhook.URL})
	}
	return out
}

// TeamsOf lists the teams whose members in the file include the user.
func (r *Routing) TeamsOf(user string) []string {
	var out []string
	for _, t := range r.Teams {
		if slices.Contains(t.Members, user) {
			out = append(out, t.Key)
		}
	}
	sort.Strings(out)
	return out
}

// TeamKeys lists every team's key in file order.
func (r *Routing) TeamKeys() []string {
	out := make([]string, len(r.Teams))
	for i, t := range r.Teams {
		out[i] = t.Key
	}
	return out
}
