package escalation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/protectnow/protect/phone"
	"github.com/protectnow/protect/questionnaire"
	"github.com/protectnow/protect/store"
)

// This file is what a handler needs to act from one page: the escalation
// with the patient, their numbers, what they said in words and the whole
// conversation; "I called" on the contact ledger; a text from the console;
// and the filtered, searchable inbox.

// EscalationPage is everything a handler needs to act on one escalation.
type EscalationPage struct {
	Detail
	// PatientPage is the patient, with every escalation of theirs the
	// actor sees the details of, this one included.
	PatientPage
	// Others are the patient's other open escalations the actor may see.
	Others []store.Escalation `json:"others"`
	// DuplicateOf lists the escalations this one may be closed as a
	// duplicate of: the patient's others the actor may see.
	DuplicateOf []store.Escalation `json:"duplicate_of"`
	// ReadOnly is set when the escalation moved on from the actor's team
	// to another tier: they may watch it but not act on it.
	ReadOnly bool `json:"read_only"`
	// NeedText explains each need in words, by need id.
	NeedText map[int64]string `json:"need_text"`
}

// Conversation is a patient's conversation as an actor may see it.
type Conversation struct {
	// Said is what the patient said, in words, oldest first.
	Said []Said `json:"said"`
	// Thread is the conversation, oldest first.
	Thread []ThreadEntry `json:"thread"`
}

// PatientPage is a patient as a handler sees them: the record, the
// numbers, the escalations whose details they see and the conversation.
type PatientPage struct {
	Patient      store.Patient        `json:"patient"`
	PracticeName string               `json:"practice_name,omitempty"`
	Phones       []store.PatientPhone `json:"phones"`
	Escalations  []store.Escalation   `json:"escalations"`
	Conversation
}

// Said is one thing the patient said: an answer in words, a text quoted
// in full, or the advice Protect gave them at once.
type Said struct {
	At time.Time `json:"at"`
	// Kind is answer, text or advice.
	Kind string `json:"kind"`
	// Question and Answer are the question's text and the option's label.
	Question string `json:"question,omitempty"`
	Answer   string `json:"answer,omitempty"`
	// Channel is sms or voice; Keys are the keys pressed on a call.
	Channel string `json:"channel"`
	Keys    string `json:"keys,omitempty"`
	// Text is a text's words, or the advice given.
	Text string `json:"text,omitempty"`
}

// ThreadEntry is one line of the conversation; answers carry their words.
type ThreadEntry struct {
	store.ThreadItem
	QuestionText string `json:"question_text,omitempty"`
	OptionLabel  string `json:"option_label,omitempty"`
	// Hidden is set when another team's note or detail was left out.
	Hidden bool `json:"hidden,omitempty"`
}

// viewable loads an escalation the actor may see, or only watch: a team
// that had it before it moved on to another tier sees it read-only while
// it is open. Anything else is reported as not found, as visible does.
func (s *Service) viewable(ctx context.Context, a Actor, id int64, action string) (store.Escalation, bool, error) {
	if !a.handles() {
		return store.Escalation{}, false, ErrForbidden
	}
	e, err := s.store.Escalation(ctx, id)
	if err != nil {
		return e, false, err
	}
	if a.inTeam(e.Team) {
		return e, false, nil
	}
	if e.State == store.EscalationOpen || e.State == store.EscalationClaimed {
		had, err := s.store.EscalationHadTeam(ctx, id, a.Teams)
		if err != nil {
			return e, false, err
		}
		if had {
			return e, true, nil
		}
	}
	s.audit(ctx, a, "access.denied", "escalation", id, &e.PatientID, map[string]any{"attempted": action, "team": e.Team})
	return store.Escalation{}, false, fmt.Errorf("escalation %d: %w", id, store.ErrNotFound)
}

// Page shows one escalation with everything needed to act on it.
func (s *Service) Page(ctx context.Context, a Actor, id int64) (EscalationPage, error) {
	e, readOnly, err := s.viewable(ctx, a, id, "escalation.view")
	if err != nil {
		return EscalationPage{}, err
	}
	p := EscalationPage{Detail: Detail{Escalation: e, Overdue: e.Overdue(s.now())}, ReadOnly: readOnly}
	if p.Needs, err = s.store.EscalationNeeds(ctx, id); err != nil {
		return p, err
	}
	if p.Events, err = s.store.EscalationEvents(ctx, id); err != nil {
		return p, err
	}
	if p.PatientPage, err = s.patientPage(ctx, a, e.PatientID, e.ID); err != nil {
		return p, err
	}
	p.NeedText = needTexts(p.Needs, e.CampaignID, s.answerWords(ctx))
	for _, o := range p.Escalations {
		if o.ID == e.ID {
			continue
		}
		if o.State == store.EscalationOpen || o.State == store.EscalationClaimed {
			p.Others = append(p.Others, o)
		}
		if o.State != store.EscalationDuplicate {
			p.DuplicateOf = append(p.DuplicateOf, o)
		}
	}
	s.audit(ctx, a, "escalation.view", "escalation", id, &e.PatientID, nil)
	return p, nil
}

// PatientPage shows a patient to an actor who may see them, with the
// conversation in words (the sharing rule applied).
func (s *Service) PatientPage(ctx context.Context, a Actor, id int64) (PatientPage, error) {
	if err := s.patientVisible(ctx, a, id, "patient.view"); err != nil {
		return PatientPage{}, err
	}
	p, err := s.patientPage(ctx, a, id, 0)
	if err != nil {
		return p, err
	}
	s.audit(ctx, a, "patient.view", "patient", id, &id, nil)
	return p, nil
}

// patientPage loads a patient for an actor whose access was checked;
// escalationID is the escalation of the page, if any (visibleThread).
func (s *Service) patientPage(ctx context.Context, a Actor, id, escalationID int64) (PatientPage, error) {
	var p PatientPage
	var err error
	if p.Patient, err = s.store.PatientByID(ctx, id); err != nil {
		return p, err
	}
	if p.PracticeName, err = s.store.PracticeName(ctx, p.Patient.Practice); err != nil {
		return p, err
	}
	if p.Phones, err = s.store.PatientPhones(ctx, id); err != nil {
		return p, err
	}
	all, err := s.store.PatientEscalations(ctx, id)
	if err != nil {
		return p, err
	}
	p.Escalations = visibleEscalations(a, all)
	p.Conversation, err = s.conversation(ctx, a, id, escalationID)
	return p, err
}

// conversation is the patient's conversation as the actor may see it
// (visibleThread), with answers in words and what the patient said drawn
// out; escalationID is the escalation of the page, if any.
func (s *Service) conversation(ctx context.Context, a Actor, patientID, escalationID int64) (Conversation, error) {
	var c Conversation
	items, err := s.store.PatientThread(ctx, patientID, 500)
	if err != nil {
		return c, err
	}
	words := s.answerWords(ctx)
	c.Thread = make([]ThreadEntry, 0, len(items))
	for _, t := range visibleThread(a, escalationID, items) {
		it := t.ThreadItem
		if it.Kind == "answer" {
			w := words(it.CampaignID, it.Question, it.Option, it.Channel)
			t.QuestionText, t.OptionLabel = w.question, w.label
			c.Said = append(c.Said, Said{At: it.At, Kind: "answer", Question: w.question, Answer: w.label, Channel: it.Channel,
				Keys: keysOf(it)})
			if w.advice != "" {
				c.Said = append(c.Said, Said{At: it.At, Kind: "advice", Channel: it.Channel, Text: w.advice})
			}
		}
		if it.Kind == "sms-in" && it.Sub != "answer" && it.Sub != "opt_out" && it.Sub != "opt_in" {
			c.Said = append(c.Said, Said{At: it.At, Kind: "text", Channel: "sms", Text: it.Body})
		}
		c.Thread = append(c.Thread, t)
	}
	return c, nil
}

func keysOf(it store.ThreadItem) string {
	if it.Channel == "voice" {
		return it.Body
	}
	return ""
}

// visibleThread applies the patient timeline's sharing rule (SeesDetails)
// to a patient's conversation. Everything Protect itself said and heard is
// shown, and every team's contacts (the ledger is shared), a contact's note
// only as SeesDetails allows. Another team's escalation entries keep only
// that something happened and when, unless the entry is a shared note, whose
// need stays with the team. The escalation of the page (id) is shown whole
// to whoever may open that page: its team, or a team it moved on from.
func visibleThread(a Actor, id int64, items []store.ThreadItem) []ThreadEntry {
	out := make([]ThreadEntry, 0, len(items))
	for _, it := range items {
		t := ThreadEntry{ThreadItem: it}
		own := it.EscalationID != nil && *it.EscalationID == id
		switch {
		case it.Kind == "contact" && !SeesDetails(a, it.Team, it.Shared):
			t.Body = ""
		case it.Kind != "event" || own || SeesDetails(a, it.Team, false):
		case it.Shared:
			// A shared note is for everyone who sees the patient; which
			// need the escalation is about stays with the team.
			t.EscalationID, t.Category = nil, ""
		default:
			t.ThreadItem = store.ThreadItem{At: it.At, Kind: it.Kind, Team: it.Team}
			t.Hidden = true
		}
		out = append(out, t)
	}
	return out
}

type answerText struct{ question, label, advice string }

// spokenDigits are digits spelt out one by one for a voice ("9 9 9").
var spokenDigits = regexp.MustCompile(`\b\d( \d)+\b`)

// answerWords returns a function that puts an answer in words: the
// question as the patient read it (in English) and the option's label,
// from the questionnaire the campaign asked. Unknown questions or options
// fall back to their keys, made readable.
func (s *Service) answerWords(ctx context.Context) func(campaignID *int64, question, option, channel string) answerText {
	// Handlers read English, whatever language the patient was asked in.
	texts := questionnaire.DefaultTexts()
	cache := map[int64]*questionnaire.Questionnaire{}
	load := func(id *int64) *questionnaire.Questionnaire {
		if id == nil {
			return questionnaire.Default()
		}
		if qn, ok := cache[*id]; ok {
			return qn
		}
		var qn *questionnaire.Questionnaire
		def, err := s.store.CampaignQuestionnaire(ctx, *id)
		if err == nil {
			qn = &questionnaire.Questionnaire{}
			if err := json.Unmarshal(def, qn); err != nil {
				s.logger.Error("questionnaire of campaign not readable", "campaign", *id, "error", err)
				qn = nil
			}
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.logger.Error("questionnaire of campaign not loaded", "campaign", *id, "error", err)
		}
		cache[*id] = qn
		return qn
	}
	return func(campaignID *int64, question, option, channel string) answerText {
		w := answerText{question: readable(question), label: readable(option)}
		qn := load(campaignID)
		if qn == nil {
			return w
		}
		q := qn.Question(question)
		if q == nil {
			return w
		}
		w.question = ""
		if t, ok := texts.SMS(q.Prompt); ok {
			w.question = QuestionText(t)
		}
		if w.question == "" {
			// A question that is all options ("Reply 1 if...") is
			// named by its id; the option's label says what was meant.
			w.question = readable(question)
		}
		if o, ok := q.Option(option); ok {
			if o.Label != "" {
				w.label = o.Label
			}
			// The advice as the patient got it: said on the call, or texted.
			say := texts.SMS
			if channel == "voice" {
				say = texts.Voice
			}
			if o.Advice != "" {
				if t, ok := say(o.Advice); ok {
					// "call 9 9 9" is spelt out for the speech engine.
					w.advice = spokenDigits.ReplaceAllStringFunc(t, func(d string) string { return strings.ReplaceAll(d, " ", "") })
				}
			}
		}
		return w
	}
}

// readable makes a key readable: "call_back" reads "Call back".
func readable(key string) string {
	if key == "" {
		return ""
	}
	key = strings.NewReplacer("_", " ", "-", " ").Replace(key)
	return strings.ToUpper(key[:1]) + key[1:]
}

// QuestionText is a question's SMS text without the instructions on how
// to reply ("Reply 1 for yes or 2 for no."), so it reads as the question.
// A text that is all instructions has no question: it returns "".
func QuestionText(sms string) string {
	var keep []string
	for _, s := range splitSentences(sms) {
		l := strings.ToLower(s)
		if strings.HasPrefix(l, "reply ") || strings.HasPrefix(l, "press ") || strings.HasPrefix(l, "text ") {
			continue
		}
		keep = append(keep, s)
	}
	return strings.Join(keep, " ")
}

func splitSentences(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if (s[i] == '.' || s[i] == '?' || s[i] == '!') && (i+1 == len(s) || s[i+1] == ' ') {
			if t := strings.TrimSpace(s[start : i+1]); t != "" {
				out = append(out, t)
			}
			start = i + 1
		}
	}
	if t := strings.TrimSpace(s[start:]); t != "" {
		out = append(out, t)
	}
	return out
}

// CallOutcomes are the results of a handler's call, as the contact ledger
// records them.
var CallOutcomes = []string{"spoke", "no_answer", "left_message", "wrong_number"}

// Called records that the actor phoned the patient of an escalation: on
// the contact ledger (and so on the timeline), for the escalation's team.
func (s *Service) Called(ctx context.Context, a Actor, id int64, outcome, note string) error {
	if !slices.Contains(CallOutcomes, outcome) {
		return invalid("Choose what happened on the call")
	}
	e, err := s.visible(ctx, a, id, "contact.record")
	if err != nil {
		return err
	}
	_, err = s.RecordContact(ctx, a, e.PatientID, ContactInput{Team: e.Team, Method: "phone", Outcome: outcome, Note: note,
		EscalationID: &e.ID})
	return err
}

// MaxSMS is the longest text a handler may send: six GSM-7 segments.
const MaxSMS = 918

// CheckSMS cleans a text a handler typed (line breaks made plain, space
// trimmed) and refuses one that is empty, too long or holds a control
// character, with a message the handler can act on.
func CheckSMS(body string) (string, error) {
	body = strings.TrimSpace(strings.ReplaceAll(body, "\r\n", "\n"))
	if body == "" {
		return "", invalid("Write the text to send")
	}
	if !utf8.ValidString(body) {
		return "", invalid("The text has characters that cannot be sent: retype it")
	}
	if n := utf8.RuneCountInString(body); n > MaxSMS {
		return "", invalid("The text is %d characters long: it must be %d characters or fewer", n, MaxSMS)
	}
	for _, r := range body {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return "", invalid("The text has a hidden control character (%U): retype it without it", r)
		}
	}
	return body, nil
}

// SendSMS texts the patient of an escalation from the console, through
// the sender of the campaign that raised it. It is refused when the
// patient opted out or has no mobile. The text is recorded on the
// patient's conversation and audited (its length, not its words).
func (s *Service) SendSMS(ctx context.Context, a Actor, id int64, body string) error {
	body, err := CheckSMS(body)
	if err != nil {
		return err
	}
	e, err := s.visible(ctx, a, id, "escalation.sms")
	if err != nil {
		return err
	}
	p, err := s.store.PatientByID(ctx, e.PatientID)
	if err != nil {
		return err
	}
	if p.OptedOut {
		return invalid("The patient opted out of texts: phone them instead")
	}
	phones, err := s.store.PatientPhones(ctx, e.PatientID)
	if err != nil {
		return err
	}
	to := ""
	for _, ph := range phones {
		if ph.Kind == string(phone.Mobile) {
			to = ph.E164
			break
		}
	}
	if to == "" {
		return invalid("The patient has no mobile number to text: phone them instead")
	}
	if e.CampaignID == nil {
		return invalid("This escalation came from no campaign, so there is no sender to text from")
	}
	c, err := s.store.Campaign(ctx, *e.CampaignID)
	if err != nil {
		return err
	}
	if s.twilio == nil {
		return invalid("Texting from the console is not set up on this system")
	}
	params := &openapi.CreateMessageParams{}
	params.SetTo(to)
	if strings.HasPrefix(c.Sender, "MG") {
		params.SetMessagingServiceSid(c.Sender)
	} else {
		params.SetFrom(c.Sender)
	}
	params.SetBody(body)
	m, err := s.twilio.Api.CreateMessage(params)
	if err != nil {
		s.audit(ctx, a, "escalation.sms.failed", "escalation", id, &e.PatientID, map[string]any{"length": len(body)})
		return fmt.Errorf("send text to patient of escalation %d: %w", id, err)
	}
	sid := ""
	if m.Sid != nil {
		sid = *m.Sid
	}
	if err := s.store.RecordHandlerMessage(ctx, store.HandlerMessage{PatientID: e.PatientID, CampaignID: e.CampaignID, SID: sid,
		From: c.Sender, To: to, Body: body, SentBy: a.Name, At: s.now()}); err != nil {
		return err
	}
	s.audit(ctx, a, "escalation.sms", "escalation", id, &e.PatientID, map[string]any{"length": len(body), "sid": sid})
	return nil
}

// HandlerInboxQuery selects a handler's inbox.
type HandlerInboxQuery struct {
	// Team narrows the inbox to one of the actor's teams.
	Team      string
	Closed    bool
	Mine      bool
	Unclaimed bool
	Overdue   bool
	Urgent    bool
	Category  string
	// Search is an NHS number, a phone number in any format, or a part of
	// a name.
	Search string
	Limit  int
	Offset int
}

// cleanSearch makes a search string safe to look up whatever was typed or
// pasted: invalid UTF-8, control and format characters (a NUL byte among
// them, which PostgreSQL refuses in text) are dropped, space trimmed.
func cleanSearch(q string) string {
	q = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(q, ""))
	return strings.TrimSpace(q)
}

// MaxSearch bounds a search string.
const MaxSearch = 100

// HandlerInbox is a page of inbox rows and the totals of the actor's teams.
type HandlerInbox struct {
	Teams  []string          `json:"teams"`
	Totals store.InboxTotals `json:"totals"`
	Rows   []store.InboxRow  `json:"rows"`
	Now    time.Time         `json:"now"`
	// MyOverdue counts the escalations the actor claimed that are past
	// their resolve deadline.
	MyOverdue int `json:"my_overdue"`
	// SearchedAs says how the search was read: "NHS number", "phone
	// number" or "name".
	SearchedAs string `json:"searched_as,omitempty"`
}

// HandlerInbox lists the escalations of the actor's teams with filters and
// search, and those their teams had that moved on (read-only). A search
// finds only what the actor may see.
func (s *Service) HandlerInbox(ctx context.Context, a Actor, q HandlerInboxQuery) (HandlerInbox, error) {
	teams, err := s.inboxTeams(ctx, a, q.Team)
	if err != nil {
		return HandlerInbox{}, err
	}
	now := s.now()
	out := HandlerInbox{Teams: teams, Rows: []store.InboxRow{}, Now: now}
	if teams != nil && len(teams) == 0 {
		return out, nil
	}
	f := store.InboxFilter{Teams: teams, Closed: q.Closed, Unclaimed: q.Unclaimed, Overdue: q.Overdue, Urgent: q.Urgent,
		Category: q.Category, Limit: q.Limit, Offset: q.Offset, Now: now}
	if q.Mine {
		f.ClaimedBy = a.Name
	}
	if len(q.Search) > MaxSearch {
		return out, invalid("Search for at most %d characters", MaxSearch)
	}
	if search := cleanSearch(q.Search); search != "" {
		digits := strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return -1
			}
			return r
		}, search)
		if len(digits) == 10 && strings.Trim(digits, "0123456789") == "" && !strings.HasPrefix(digits, "0") {
			f.NHSNumber, out.SearchedAs = digits, "NHS number"
		} else if n, err := (phone.Parser{AllowTestNumbers: true}).Parse(search); err == nil {
			f.Phone, out.SearchedAs = n.E164, "phone number"
		} else {
			f.Name, out.SearchedAs = search, "name"
		}
	}
	rows, totals, err := s.store.HandlerInbox(ctx, f)
	if err != nil {
		return out, err
	}
	if out.MyOverdue, err = s.store.OverdueClaims(ctx, a.Name, now); err != nil {
		return out, err
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	s.audit(ctx, a, "inbox.view", "team", 0, nil, map[string]any{"teams": teams, "closed": q.Closed, "escalations": ids,
		"search": out.SearchedAs})
	if rows != nil {
		out.Rows = rows
	}
	if teams == nil {
		out.Teams = s.Routing().TeamKeys()
	}
	out.Totals = totals
	return out, nil
}
