package questionnaire

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// End is the value of Option.Next that finishes the questionnaire.
const End = "end"

// Limits enforced by Load and Validate. They keep files small enough for a
// patient to answer and bound the work done on untrusted input.
const (
	MaxFileSize       = 256 << 10 // bytes
	MaxQuestions      = 64
	MaxOptions        = 8 // keypad digits 1 to 8; 0 and 9 are reserved for voice
	MaxWordsPerOption = 32
	MaxWordLength     = 64 // bytes, after normalisation
	MaxIDLength       = 64
)

// Questionnaire is a small declarative questionnaire: a start question and a
// graph of questions whose options lead to another question or to End.
//
// A Questionnaire returned by Load has passed Validate and its option words are
// normalised; treat it as read-only.
type Questionnaire struct {
	// ID names the questionnaire, for example "wellbeing".
	ID string `yaml:"id" json:"id"`
	// Version is a positive number the author increases on every change.
	Version int `yaml:"version" json:"version"`
	// Title is a human-readable name for staff; it is never sent to patients.
	Title string `yaml:"title,omitempty" json:"title,omitempty"`
	// Intro is an optional template key sent (SMS) or said (voice) before
	// the first question: the invitation or greeting.
	Intro string `yaml:"intro,omitempty" json:"intro,omitempty"`
	// Start is the ID of the first question.
	Start string `yaml:"start" json:"start"`
	// EndFine is the template key of the closing message when no need was
	// reported. Load sets it to KeyEndFine when empty.
	EndFine string `yaml:"end_fine,omitempty" json:"end_fine,omitempty"`
	// EndNeed is the template key of the closing message when at least one
	// need was reported. Load sets it to KeyEndNeed when empty.
	EndNeed string `yaml:"end_need,omitempty" json:"end_need,omitempty"`
	// Questions lists every question, in any order.
	Questions []Question `yaml:"questions" json:"questions"`
}

// Question is one question: a prompt and up to MaxOptions options.
type Question struct {
	// ID is unique in the questionnaire and may not be "end".
	ID string `yaml:"id" json:"id"`
	// Prompt is the template key of the question text (SMS and voice).
	Prompt string `yaml:"prompt" json:"prompt"`
	// Reprompt is an optional template key used instead of KeyNotUnderstood
	// followed by Prompt when the first reply is not understood.
	Reprompt string `yaml:"reprompt,omitempty" json:"reprompt,omitempty"`
	// UnclearPriority is the priority of the unclear-reply need raised when
	// a reply to this question is not understood twice. Load sets it to
	// PriorityHigh when empty; use PriorityUrgent on clinical questions.
	UnclearPriority Priority `yaml:"unclear_priority,omitempty" json:"unclear_priority,omitempty"`
	// Options are the possible answers.
	Options []Option `yaml:"options" json:"options"`
}

// Option is one answer to a question.
type Option struct {
	// Key identifies the option within its question, for example "yes".
	Key string `yaml:"key" json:"key"`
	// Digit is the keypad digit, "1" to "8". It also matches in SMS, as
	// the digit or its English word ("1", "one").
	Digit string `yaml:"digit" json:"digit"`
	// Words are SMS replies that mean this option, for example "yes", "ok",
	// "fine", "not ok". Each is a whole word or phrase; see Question.Match.
	Words []string `yaml:"words,omitempty" json:"words,omitempty"`
	// Label is a short description for staff, for example "Needs food".
	Label string `yaml:"label,omitempty" json:"label,omitempty"`
	// Next is the ID of the next question, or End.
	Next string `yaml:"next" json:"next"`
	// Need, when set, is recorded as reported by the patient; the
	// questionnaire still continues to Next.
	Need *Need `yaml:"need,omitempty" json:"need,omitempty"`
	// Advice is an optional template key of advice to send or say at once,
	// for example "advice.urgent_999".
	Advice string `yaml:"advice,omitempty" json:"advice,omitempty"`
}

// Need is something the patient needs help with, routed to a team by
// category and sorted by priority.
type Need struct {
	Category Category `yaml:"category" json:"category"`
	Priority Priority `yaml:"priority" json:"priority"`
}

// Category is the kind of need; escalation routes on it.
type Category string

// Categories known by default (see LoadOptions.Categories).
const (
	CategoryClinicalUrgent Category = "clinical-urgent"
	CategoryClinical       Category = "clinical"
	CategoryMedicines      Category = "medicines"
	CategoryFood           Category = "food"
	CategorySocial         Category = "social"
	CategoryCallBack       Category = "call-back"
	// CategoryUnclearReply is raised by the engine when replies could not
	// be understood and a human must read them.
	CategoryUnclearReply Category = "unclear-reply"
	// CategoryIdentityUnconfirmed is raised by a call whose identity check
	// failed: a person must reach the patient another way.
	CategoryIdentityUnconfirmed Category = "identity-unconfirmed"
)

// DefaultCategories are the categories Load accepts when
// LoadOptions.Categories is nil.
var DefaultCategories = []Category{
	CategoryClinicalUrgent, CategoryClinical, CategoryMedicines,
	CategoryFood, CategorySocial, CategoryCallBack, CategoryUnclearReply,
}

// Priority orders needs: urgent before high before normal before low.
type Priority string

// Priorities, most pressing first.
const (
	PriorityUrgent Priority = "urgent"
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
	PriorityLow    Priority = "low"
)

// Rank returns 0 for urgent, 1 for high, 2 for normal, 3 for low and 4 for
// anything else, so that a lower rank is more pressing.
func (p Priority) Rank() int {
	switch p {
	case PriorityUrgent:
		return 0
	case PriorityHigh:
		return 1
	case PriorityNormal:
		return 2
	case PriorityLow:
		return 3
	}
	return 4
}

// Valid reports whether p is one of the four priorities.
func (p Priority) Valid() bool { return p.Rank() < 4 }

// LoadOptions configures Load and Validate.
type LoadOptions struct {
	// TemplateExists reports whether a template key exists. Nil accepts any
	// non-empty key. An error (the lookup failed, say the database is down)
	// stops the load with that error: it is not reported as a missing
	// template.
	TemplateExists func(key string) (bool, error)
	// Categories lists the accepted need categories. Nil means
	// DefaultCategories.
	Categories []Category
}

// Problem is one reason a questionnaire was rejected.
type Problem struct {
	// Question is the question ID, or "" for the whole file.
	Question string `json:"question,omitempty"`
	// Option is the option key (or "#n" when it has no key), or "".
	Option string `json:"option,omitempty"`
	// Reason says what is wrong, in plain English.
	Reason string `json:"reason"`
}

// String returns the problem as `question "q": option "o": reason`.
func (p Problem) String() string {
	var b strings.Builder
	if p.Question != "" {
		fmt.Fprintf(&b, "question %q: ", p.Question)
	}
	if p.Option != "" {
		fmt.Fprintf(&b, "option %q: ", p.Option)
	}
	b.WriteString(p.Reason)
	return b.String()
}

// LoadError lists every problem found in a questionnaire file.
type LoadError struct {
	File     string
	Problems []Problem
}

// Error returns the file name and every problem, one per line.
func (e *LoadError) Error() string {
	var b strings.Builder
	file := e.File
	if file == "" {
		file = "questionnaire"
	}
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "%s: %s", file, e.Problems[0])
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %d problems:", file, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Load parses a questionnaire from YAML or JSON (JSON is read as YAML, which
// is a superset of it), normalises its option words, fills in defaults and
// validates it. filename is used only in error messages. Every problem found
// is returned in one *LoadError.
func Load(filename string, data []byte, opts LoadOptions) (*Questionnaire, error) {
	fail := func(reason string) error {
		return &LoadError{File: filename, Problems: []Problem{{Reason: reason}}}
	}
	if len(data) > MaxFileSize {
		return nil, fail(fmt.Sprintf("file is larger than %d bytes", MaxFileSize))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fail("file is empty")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var qn Questionnaire
	if err := dec.Decode(&qn); err != nil {
		return nil, fail(yamlReason(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fail("file holds more than one document")
	}
	qn.normalise()
	if err := qn.Validate(opts); err != nil {
		var le *LoadError
		if errors.As(err, &le) {
			le.File = filename
		}
		return nil, err
	}
	qn.normaliseWords()
	return &qn, nil
}

var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+\.(\w+)`)

var typeNames = map[string]string{
	"Questionnaire": "the questionnaire", "Question": "a question", "Option": "an option",
	"Need": "a need", "Text": "a text", "textsFile": "the texts file",
}

func yamlReason(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	msg = unknownField.ReplaceAllStringFunc(msg, func(m string) string {
		sub := unknownField.FindStringSubmatch(m)
		where := typeNames[sub[2]]
		if where == "" {
			where = sub[2]
		}
		return fmt.Sprintf("unknown field %q in %s", sub[1], where)
	})
	return "cannot read file: " + msg
}

// normalise trims IDs, keys and template keys and fills in defaults. It is
// idempotent.
func (qn *Questionnaire) normalise() {
	qn.ID = strings.TrimSpace(qn.ID)
	qn.Start = strings.TrimSpace(qn.Start)
	qn.Intro = strings.TrimSpace(qn.Intro)
	qn.EndFine = strings.TrimSpace(qn.EndFine)
	qn.EndNeed = strings.TrimSpace(qn.EndNeed)
	if qn.EndFine == "" {
		qn.EndFine = KeyEndFine
	}
	if qn.EndNeed == "" {
		qn.EndNeed = KeyEndNeed
	}
	for i := range qn.Questions {
		q := &qn.Questions[i]
		q.ID = strings.TrimSpace(q.ID)
		q.Prompt = strings.TrimSpace(q.Prompt)
		q.Reprompt = strings.TrimSpace(q.Reprompt)
		if q.UnclearPriority == "" {
			q.UnclearPriority = PriorityHigh
		}
		for j := range q.Options {
			o := &q.Options[j]
			o.Key = strings.TrimSpace(o.Key)
			o.Digit = strings.TrimSpace(o.Digit)
			o.Next = strings.TrimSpace(o.Next)
			o.Advice = strings.TrimSpace(o.Advice)
			o.Label = strings.TrimSpace(o.Label)
		}
	}
}

// normaliseWords stores option words in normalised form, after Validate.
func (qn *Questionnaire) normaliseWords() {
	for i := range qn.Questions {
		for j := range qn.Questions[i].Options {
			o := &qn.Questions[i].Options[j]
			for k, w := range o.Words {
				o.Words[k] = normaliseWord(w)
			}
			if len(o.Words) == 0 {
				o.Words = nil
			}
		}
	}
}

// Validate checks a questionnaire and returns a *LoadError listing every
// problem, or nil. Load calls it; call it yourself on a questionnaire built
// in code. Option words are compared in normalised form.
func (qn *Questionnaire) Validate(opts LoadOptions) error {
	v := validator{opts: opts}
	v.categories = map[Category]bool{}
	cats := opts.Categories
	if cats == nil {
		cats = DefaultCategories
	}
	for _, c := range cats {
		v.categories[c] = true
	}
	v.check(qn)
	if v.lookupErr != nil {
		return v.lookupErr
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &LoadError{Problems: v.problems}
}

type validator struct {
	opts       LoadOptions
	categories map[Category]bool
	problems   []Problem
	lookupErr  error // a template lookup that failed, not missed
}

func (v *validator) add(question, option, format string, args ...any) {
	v.problems = append(v.problems, Problem{Question: question, Option: option, Reason: fmt.Sprintf(format, args...)})
}

// template checks a template key; what names the field in messages.
func (v *validator) template(question, option, what, key string, required bool) {
	if key == "" {
		if required {
			v.add(question, option, "%s has no template key", what)
		}
		return
	}
	if !validKey(key) {
		v.add(question, option, "%s template key %q is not valid (use letters, digits, '.', '_' or '-')", what, key)
		return
	}
	if v.opts.TemplateExists == nil {
		return
	}
	ok, err := v.opts.TemplateExists(key)
	switch {
	case err != nil:
		v.lookupErr = errors.Join(v.lookupErr, fmt.Errorf("look up %s template %q: %w", what, key, err))
	case !ok:
		v.add(question, option, "%s template %q does not exist", what, key)
	}
}

func (v *validator) check(qn *Questionnaire) {
	if qn.ID == "" {
		v.add("", "", "questionnaire has no id")
	} else if !validID(qn.ID) {
		v.add("", "", "questionnaire id %q is not valid (use letters, digits, '.', '_' or '-', at most %d)", qn.ID, MaxIDLength)
	}
	if qn.Version < 1 {
		v.add("", "", "version must be a whole number of 1 or more")
	}
	v.template("", "", "intro", qn.Intro, false)
	v.template("", "", "end_fine", qn.EndFine, true)
	v.template("", "", "end_need", qn.EndNeed, true)
	if len(qn.Questions) == 0 {
		v.add("", "", "questionnaire has no questions")
		return
	}
	if len(qn.Questions) > MaxQuestions {
		v.add("", "", "questionnaire has %d questions; at most %d are allowed", len(qn.Questions), MaxQuestions)
		return
	}

	index := map[string]int{}
	for i, q := range qn.Questions {
		name := q.ID
		switch {
		case q.ID == "":
			name = fmt.Sprintf("#%d", i+1)
			v.add(name, "", "question has no id")
		case q.ID == End:
			v.add(name, "", "%q is reserved and cannot be a question id", End)
		default:
			if !validID(q.ID) {
				v.add(name, "", "question id is not valid (use letters, digits, '.', '_' or '-', at most %d)", MaxIDLength)
			}
			if _, dup := index[q.ID]; dup {
				v.add(name, "", "question id is used twice")
			} else {
				index[q.ID] = i
			}
		}
	}
	switch {
	case qn.Start == "":
		v.add("", "", "start is missing")
	case qn.Start == End:
		v.add("", "", "start cannot be %q", End)
	default:
		if _, ok := index[qn.Start]; !ok {
			v.add("", "", "start %q is not a question", qn.Start)
		}
	}

	for i := range qn.Questions {
		v.question(qn, i, index)
	}
	v.graph(qn, index)
}

func (v *validator) question(qn *Questionnaire, i int, index map[string]int) {
	q := &qn.Questions[i]
	name := q.ID
	if name == "" {
		name = fmt.Sprintf("#%d", i+1)
	}
	v.template(name, "", "prompt", q.Prompt, true)
	v.template(name, "", "reprompt", q.Reprompt, false)
	if !q.UnclearPriority.Valid() {
		v.add(name, "", "unclear_priority %q is not one of urgent, high, normal, low", q.UnclearPriority)
	}
	if len(q.Options) == 0 {
		v.add(name, "", "question has no options")
		return
	}
	if len(q.Options) > MaxOptions {
		v.add(name, "", "question has %d options; a keypad allows at most %d (digits 1 to 8)", len(q.Options), MaxOptions)
	}
	keys := map[string]bool{}
	digits := map[string]string{}
	// phrase -> option key, to find one word meaning two options.
	phrases := map[string]string{}
	for j, o := range q.Options {
		oname := o.Key
		switch {
		case o.Key == "":
			oname = fmt.Sprintf("#%d", j+1)
			v.add(name, oname, "option has no key")
		case !validID(o.Key):
			v.add(name, oname, "option key is not valid (use letters, digits, '.', '_' or '-', at most %d)", MaxIDLength)
		case keys[o.Key]:
			v.add(name, oname, "option key is used twice")
		default:
			keys[o.Key] = true
		}

		switch {
		case o.Digit == "":
			v.add(name, oname, "option has no digit")
		case o.Digit == "0":
			v.add(name, oname, "digit 0 is reserved: on a call it connects to a person")
		case o.Digit == "9":
			v.add(name, oname, "digit 9 is reserved: on a call it repeats the question")
		case len(o.Digit) != 1 || o.Digit[0] < '1' || o.Digit[0] > '8':
			v.add(name, oname, "digit %q must be one of 1 to 8", o.Digit)
		default:
			if other, dup := digits[o.Digit]; dup {
				v.add(name, oname, "digit %s is also used by option %q", o.Digit, other)
			} else {
				digits[o.Digit] = oname
				phrases[o.Digit] = oname
				phrases[digitWords[o.Digit[0]-'0']] = oname
			}
		}

		if len(o.Words) > MaxWordsPerOption {
			v.add(name, oname, "option has %d words; at most %d are allowed", len(o.Words), MaxWordsPerOption)
		}
		seen := map[string]bool{}
		for _, raw := range o.Words {
			w := normaliseWord(raw)
			switch {
			case w == "":
				v.add(name, oname, "word %q has no letter or digit", raw)
				continue
			case len(w) > MaxWordLength:
				v.add(name, oname, "word %q is longer than %d bytes", w, MaxWordLength)
				continue
			case seen[w]:
				v.add(name, oname, "word %q is listed twice", w)
				continue
			}
			seen[w] = true
			if k := keywordOf(w); k != KeywordNone {
				v.add(name, oname, "word %q is reserved: it is the %s keyword", w, k)
				continue
			}
			if hasDigitToken(w) {
				v.add(name, oname, "word %q contains a digit or a digit's name; digits come from the option's digit only", w)
				continue
			}
			if onlyFiller(w) {
				v.add(name, oname, "word %q is made only of filler words (such as please, thanks) that are ignored", w)
				continue
			}
			if other, dup := phrases[w]; dup && other != oname {
				v.add(name, oname, "word %q also means option %q", w, other)
				continue
			}
			phrases[w] = oname
		}

		switch {
		case o.Next == "":
			v.add(name, oname, "option leads nowhere: next is missing (use a question id or %q)", End)
		case o.Next == End:
		default:
			if _, ok := index[o.Next]; !ok {
				v.add(name, oname, "option leads nowhere: next %q is not a question", o.Next)
			}
		}
		if o.Need != nil {
			if o.Need.Category == "" {
				v.add(name, oname, "need has no category")
			} else if !v.categories[o.Need.Category] {
				v.add(name, oname, "need category %q is not known", o.Need.Category)
			}
			if !o.Need.Priority.Valid() {
				v.add(name, oname, "need priority %q is not one of urgent, high, normal, low", o.Need.Priority)
			}
		}
		v.template(name, oname, "advice", o.Advice, false)
	}
}

// graph reports questions that cannot be reached from the start and
// reachable questions from which End cannot be reached (a loop with no way
// out). A question without options or with an option whose next is broken
// counts as an exit, so that those problems, reported already, are not
// reported again as loops.
func (v *validator) graph(qn *Questionnaire, index map[string]int) {
	start, ok := index[qn.Start]
	if !ok {
		return
	}
	n := len(qn.Questions)
	succ := make([][]int, n)
	pred := make([][]int, n)
	exits := make([]bool, n)
	for i, q := range qn.Questions {
		if index[q.ID] != i || q.ID == "" {
			continue // unnamed or duplicate: reported already
		}
		if len(q.Options) == 0 {
			exits[i] = true
		}
		for _, o := range q.Options {
			j, ok := index[o.Next]
			if !ok {
				exits[i] = true // End, or broken and reported already
				continue
			}
			succ[i] = append(succ[i], j)
			pred[j] = append(pred[j], i)
		}
	}
	reach := walk([]int{start}, succ, n)
	var exitList []int
	for i, e := range exits {
		if e {
			exitList = append(exitList, i)
		}
	}
	canEnd := walk(exitList, pred, n)
	for i, q := range qn.Questions {
		if q.ID == "" || index[q.ID] != i {
			continue
		}
		if !reach[i] {
			v.add(q.ID, "", "no option leads to this question from start %q", qn.Start)
		} else if !canEnd[i] {
			v.add(q.ID, "", "loop with no way out: no path from this question reaches %q", End)
		}
	}
}

func walk(from []int, edges [][]int, n int) []bool {
	seen := make([]bool, n)
	stack := append([]int(nil), from...)
	for _, i := range from {
		seen[i] = true
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, j := range edges[i] {
			if !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	return seen
}

func validID(s string) bool {
	if s == "" || len(s) > MaxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '_' || c == '-' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// validKey is the syntax of a template key, for example "wellbeing.ok".
func validKey(s string) bool { return validID(s) }

// Question returns the question with the given ID, or nil.
func (qn *Questionnaire) Question(id string) *Question {
	for i := range qn.Questions {
		if qn.Questions[i].ID == id {
			return &qn.Questions[i]
		}
	}
	return nil
}

// Option returns the option with the given key, or false.
func (q *Question) Option(key string) (Option, bool) {
	for _, o := range q.Options {
		if o.Key == key {
			return o, true
		}
	}
	return Option{}, false
}

// Canonical returns the canonical JSON form of the questionnaire: what to
// store with its version. Load of the canonical form gives an equal
// questionnaire with the same Checksum.
func (qn *Questionnaire) Canonical() []byte {
	b, err := json.Marshal(qn)
	if err != nil {
		// Only strings, ints and slices of them: cannot fail.
		panic("questionnaire: canonical form: " + err.Error())
	}
	return b
}

// Checksum returns "sha256:" and the hex SHA-256 of the canonical form. Two
// questionnaires with the same checksum behave the same; store it with the
// version to detect a file changed without its version changing.
func (qn *Questionnaire) Checksum() string {
	sum := sha256.Sum256(qn.Canonical())
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TemplateKeys returns, sorted and without duplicates, every template key
// the engine may ask the caller to send or say for this questionnaire:
// intro, prompts, reprompts, advice, the closing messages, KeyNotUnderstood
// and KeyHandover. Add SystemTemplateKeys for the caller's own messages.
func (qn *Questionnaire) TemplateKeys() []string {
	set := map[string]bool{KeyNotUnderstood: true, KeyHandover: true}
	add := func(k string) {
		if k != "" {
			set[k] = true
		}
	}
	add(qn.Intro)
	add(qn.EndFine)
	add(qn.EndNeed)
	for _, q := range qn.Questions {
		add(q.Prompt)
		add(q.Reprompt)
		for _, o := range q.Options {
			add(o.Advice)
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clone returns a deep copy.
func (qn *Questionnaire) clone() *Questionnaire {
	c := *qn
	c.Questions = make([]Question, len(qn.Questions))
	for i, q := range qn.Questions {
		q.Options = append([]Option(nil), q.Options...)
		for j := range q.Options {
			o := &q.Options[j]
			o.Words = append([]string(nil), o.Words...)
			if len(o.Words) == 0 {
				o.Words = nil
			}
			if o.Need != nil {
				n := *o.Need
				o.Need = &n
			}
		}
		c.Questions[i] = q
	}
	return &c
}
