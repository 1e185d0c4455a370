package templateadmin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/protectnow/protect/internal/testdb"
	"github.com/protectnow/protect/outreach"
	"github.com/protectnow/protect/store"
	"github.com/protectnow/protect/templateadmin"
)

var (
	admin = templateadmin.Actor{Name: "token:admin", Role: store.RoleAdmin}
	alice = templateadmin.Actor{Name: "user:alice", Role: store.RoleCommsLead} // approver
	bob   = templateadmin.Actor{Name: "user:bob", Role: store.RoleCommsLead}   // approver
	carol = templateadmin.Actor{Name: "user:carol", Role: store.RoleCommsLead} // not an approver
	pat   = templateadmin.Actor{Name: "user:pat", Role: store.RoleProgrammeLead}
	hank  = templateadmin.Actor{Name: "user:hank", Role: store.RoleHandler}
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixture struct {
	t     *testing.T
	st    *store.Store
	svc   *templateadmin.Service
	texts *templateadmin.DBTexts
}

// newFixture empties the database, seeds the shipped texts and grants
// alice and bob the approver right.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := testdb.Store(t)
	ctx := context.Background()
	// Only the template tables: cohorts and campaigns have names unique
	// to each test, and a full reset takes seconds.
	if _, err := st.Pool().Exec(ctx, `TRUNCATE templates, template_versions, template_approvers, test_phones, audit_log RESTART IDENTITY CASCADE;
		UPDATE campaigns SET template_pins = '{}'`); err != nil {
		t.Fatal(err)
	}
	n, err := templateadmin.Seed(ctx, st)
	if err != nil || n == 0 {
		t.Fatalf("seed: %d %v", n, err)
	}
	texts := templateadmin.NewDBTexts(st, time.Hour, quiet)
	svc := templateadmin.New(templateadmin.Options{Store: st, Texts: texts, Logger: quiet})
	f := &fixture{t: t, st: st, svc: svc, texts: texts}
	for _, who := range []string{alice.Name, bob.Name} {
		if err := svc.GrantApprover(ctx, admin, who); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) template(key, channel, lang string) store.Template {
	f.t.Helper()
	tm, err := f.st.TemplateByRef(context.Background(), store.TemplateRef{Key: key, Channel: channel, Language: lang})
	if err != nil {
		f.t.Fatal(err)
	}
	return tm
}

// sent is what the engine would get for key now.
func (f *fixture) sent(ctx context.Context, key, lang string) string {
	f.t.Helper()
	body, got, err := f.texts.Body(ctx, "sms", key, lang)
	if err != nil {
		f.t.Fatal(err)
	}
	if want := lang; want != got && got != "en" {
		f.t.Fatalf("text of %s asked in %s came in %s", key, lang, got)
	}
	return body
}

func TestSeedIsIdempotentAndWelshWaitsForApproval(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n, err := templateadmin.Seed(ctx, f.st)
	if err != nil || n != 0 {
		t.Fatalf("second seed created %d: %v", n, err)
	}
	en := f.template("wellbeing.ok", "sms", "en")
	if en.LiveVersion == nil || *en.LiveVersion != 1 || en.LatestVersion != 1 {
		t.Fatalf("English not live: %+v", en)
	}
	cy := f.template("wellbeing.ok", "sms", "cy")
	if cy.LiveVersion != nil || cy.Pending != 1 {
		t.Fatalf("Welsh should be pending, not live: %+v", cy)
	}
	// A Welsh speaker gets English until the Welsh is approved.
	if got := f.sent(ctx, "wellbeing.ok", "cy"); !strings.HasPrefix(got, "Are you OK?") {
		t.Fatalf("Welsh patient got %q before approval", got)
	}
	if _, err := f.svc.Approve(ctx, alice, cy.ID, 1, "checked by a Welsh speaker"); err != nil {
		t.Fatal(err)
	}
	if got := f.sent(ctx, "wellbeing.ok", "cy"); !strings.HasPrefix(got, "Ydych chi'n iawn?") {
		t.Fatalf("Welsh patient got %q after approval", got)
	}
	// A language with no texts falls back to English too.
	if got := f.sent(ctx, "wellbeing.ok", "pl"); !strings.HasPrefix(got, "Are you OK?") {
		t.Fatalf("Polish patient got %q", got)
	}
}

func TestApprovalWorkflow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tm := f.template("wellbeing.ok", "sms", "en")
	v1 := f.sent(ctx, "wellbeing.ok", "en")
	const v2body = "Are you OK, ((first_name))? Reply 1 for yes or 2 for no."

	// Each step runs in order against the same template.
	steps := []struct {
		name    string
		do      func() error
		wantErr error
		sends   string // what the engine sends after the step
	}{
		{"a handler cannot write", func() error {
			_, _, err := f.svc.SaveDraft(ctx, hank, tm.ID, templateadmin.Draft{Body: v2body})
			return err
		}, templateadmin.ErrForbidden, v1},
		{"a programme lead cannot write", func() error {
			_, _, err := f.svc.SaveDraft(ctx, pat, tm.ID, templateadmin.Draft{Body: v2body})
			return err
		}, templateadmin.ErrForbidden, v1},
		{"an unknown placeholder is refused at save", func() error {
			_, _, err := f.svc.SaveDraft(ctx, carol, tm.ID, templateadmin.Draft{Body: "Hi ((nickname))"})
			return err
		}, templateadmin.ErrInvalid, v1},
		{"carol saves a draft: version 2, nothing changes", func() error {
			v, _, err := f.svc.SaveDraft(ctx, carol, tm.ID, templateadmin.Draft{Body: v2body, Note: "use the name"})
			if err == nil && (v.Version != 2 || v.State != store.VersionDraft) {
				t.Errorf("draft %+v", v)
			}
			return err
		}, nil, v1},
		{"a draft cannot be approved", func() error {
			_, err := f.svc.Approve(ctx, alice, tm.ID, 2, "")
			return err
		}, store.ErrVersionState, v1},
		{"carol submits", func() error {
			_, err := f.svc.Submit(ctx, carol, tm.ID, 2)
			return err
		}, nil, v1},
		{"carol cannot approve: no approver right", func() error {
			_, err := f.svc.Approve(ctx, carol, tm.ID, 2, "")
			return err
		}, templateadmin.ErrForbidden, v1},
		{"a programme lead cannot approve", func() error {
			_, err := f.svc.Approve(ctx, pat, tm.ID, 2, "")
			return err
		}, templateadmin.ErrForbidden, v1},
		{"alice saves her own version 3 and submits it", func() error {
			_, _, err := f.svc.SaveDraft(ctx, alice, tm.ID, templateadmin.Draft{Body: "Are you OK? Reply 1 or 2.", Submit: true})
			return err
		}, nil, v1},
		{"alice cannot approve her own change", func() error {
			_, err := f.svc.Approve(ctx, alice, tm.ID, 3, "")
			return err
		}, templateadmin.ErrSelfApproval, v1},
		{"bob rejects version 3", func() error {
			_, err := f.svc.Reject(ctx, bob, tm.ID, 3, "keep the name")
			return err
		}, nil, v1},
		{"a rejected version cannot be approved", func() error {
			_, err := f.svc.Approve(ctx, bob, tm.ID, 3, "")
			return err
		}, store.ErrVersionState, v1},
		{"alice approves carol's version 2: it is live", func() error {
			_, err := f.svc.Approve(ctx, alice, tm.ID, 2, "fine")
			return err
		}, nil, v2body},
		{"carol edits again: version 4 is a draft, version 2 still sent", func() error {
			_, _, err := f.svc.SaveDraft(ctx, carol, tm.ID, templateadmin.Draft{Body: "Draft text ((first_name))", Submit: true})
			return err
		}, nil, v2body},
		{"an admin approves version 4", func() error {
			_, err := f.svc.Approve(ctx, admin, tm.ID, 4, "")
			return err
		}, nil, "Draft text ((first_name))"},
		{"an older version cannot be approved over a newer live one", func() error {
			_, err := f.svc.Approve(ctx, admin, tm.ID, 2, "")
			return err
		}, store.ErrVersionState, "Draft text ((first_name))"},
	}
	for _, s := range steps {
		err := s.do()
		if (s.wantErr == nil) != (err == nil) || (s.wantErr != nil && !errors.Is(err, s.wantErr)) {
			t.Fatalf("%s: error %v, want %v", s.name, err, s.wantErr)
		}
		if got := f.sent(ctx, "wellbeing.ok", "en"); got != s.sends {
			t.Fatalf("%s: engine gets %q, want %q", s.name, got, s.sends)
		}
	}

	d, err := f.svc.Show(ctx, carol, tm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Live == nil || d.Live.Version != 4 || len(d.Versions) != 4 || d.Rights.Approve {
		t.Fatalf("detail %+v", d)
	}
	wantStates := map[int]string{1: "approved", 2: "approved", 3: "rejected", 4: "approved"}
	for _, v := range d.Versions {
		if v.State != wantStates[v.Version] {
			t.Errorf("version %d is %s, want %s", v.Version, v.State, wantStates[v.Version])
		}
	}
	if v := d.Versions[2]; v.Version != 2 || v.Author != carol.Name || *v.SubmittedBy != carol.Name || *v.DecidedBy != alice.Name || v.Note != "use the name" {
		t.Errorf("history of version 2: %+v", v)
	}

	// Every action is in the audit log.
	entries, err := f.st.AuditLog(ctx, store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range entries {
		count[e.Action]++
	}
	for action, n := range map[string]int{"template.save": 3, "template.submit": 1, "template.approve": 2, "template.reject": 1, "template.approver_grant": 2} {
		if count[action] != n {
			t.Errorf("audit %s: %d entries, want %d (%v)", action, count[action], n, count)
		}
	}

	diff, err := f.svc.Diff(ctx, pat, tm.ID, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	var added []string
	for _, p := range diff.Words {
		if p.Op == templateadmin.DiffInsert {
			added = append(added, p.Text)
		}
	}
	if strings.Join(added, "|") != ", ((first_name))" {
		t.Errorf("diff added %q: %+v", added, diff.Words)
	}
	if _, err := f.svc.Diff(ctx, hank, tm.ID, 1, 2); !errors.Is(err, templateadmin.ErrForbidden) {
		t.Errorf("a handler read the history: %v", err)
	}
}

// The database refuses self-approval even if a caller skips the service.
func TestDatabaseRefusesSelfApproval(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tm := f.template("wellbeing.food", "sms", "en")
	v, _, err := f.svc.SaveDraft(ctx, alice, tm.ID, templateadmin.Draft{Body: "Need food? Reply 1 or 2.", Submit: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.DecideTemplateVersion(ctx, tm.ID, v.Version, alice.Name, true, ""); err == nil {
		t.Fatal("store approved a version by its author")
	}
	if _, err := f.st.Pool().Exec(ctx, `UPDATE template_versions SET body = 'changed' WHERE template_id = $1 AND version = 1`, tm.ID); err == nil {
		t.Fatal("an approved body was changed in place")
	}
}

func TestRevert(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tm := f.template("system.reminder", "sms", "en")
	original := f.sent(ctx, "system.reminder", "en")
	v, _, err := f.svc.SaveDraft(ctx, carol, tm.ID, templateadmin.Draft{Body: "Hello ((first_name)), a reminder.", Submit: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, alice, tm.ID, v.Version, ""); err != nil {
		t.Fatal(err)
	}
	if got := f.sent(ctx, "system.reminder", "en"); got != "Hello ((first_name)), a reminder." {
		t.Fatalf("after approval: %q", got)
	}
	// One action: back to version 1. It waits for someone else's approval.
	r, err := f.svc.Revert(ctx, alice, tm.ID, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 3 || r.State != store.VersionPending || r.Body != original || *r.RevertedFrom != 1 {
		t.Fatalf("revert made %+v", r)
	}
	if got := f.sent(ctx, "system.reminder", "en"); got == original {
		t.Fatal("a revert went live without approval")
	}
	if _, err := f.svc.Approve(ctx, alice, tm.ID, 3, ""); !errors.Is(err, templateadmin.ErrSelfApproval) {
		t.Fatalf("the reverter approved their revert: %v", err)
	}
	if _, err := f.svc.Approve(ctx, bob, tm.ID, 3, ""); err != nil {
		t.Fatal(err)
	}
	if got := f.sent(ctx, "system.reminder", "en"); got != original {
		t.Fatalf("after the revert was approved: %q", got)
	}
}

func TestPinning(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	camp := newCampaign(t, f.st, t.Name())
	tm := f.template("wellbeing.ok", "sms", "en")
	original := f.sent(ctx, "wellbeing.ok", "en")

	// A draft cannot be pinned; the programme lead pins version 1.
	v2, _, err := f.svc.SaveDraft(ctx, carol, tm.ID, templateadmin.Draft{Body: "New wording: reply 1 or 2.", Submit: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPins(ctx, pat, camp, map[string]int{"wellbeing.ok:sms:en": v2.Version}); !errors.Is(err, store.ErrVersionState) {
		t.Fatalf("pinned a pending version: %v", err)
	}
	if err := f.svc.SetPins(ctx, carol, camp, map[string]int{"wellbeing.ok:sms:en": 1}); !errors.Is(err, templateadmin.ErrForbidden) {
		t.Fatalf("a comms lead pinned: %v", err)
	}
	pins, err := f.svc.PinLive(ctx, pat, camp)
	if err != nil || pins["wellbeing.ok:sms:en"] != 1 || pins["wellbeing.ok:sms:cy"] != 0 {
		t.Fatalf("pin live: %v %v", pins, err)
	}
	if _, err := f.svc.Approve(ctx, alice, tm.ID, v2.Version, ""); err != nil {
		t.Fatal(err)
	}
	pinned := outreach.WithCampaign(ctx, camp)
	other := outreach.WithCampaign(ctx, camp+1000)
	if got := f.sent(pinned, "wellbeing.ok", "en"); got != original {
		t.Errorf("pinned campaign got %q", got)
	}
	if got := f.sent(other, "wellbeing.ok", "en"); got != "New wording: reply 1 or 2." {
		t.Errorf("unpinned campaign got %q", got)
	}
	// Unpinning follows the live version again.
	if err := f.svc.SetPins(ctx, pat, camp, nil); err != nil {
		t.Fatal(err)
	}
	if got := f.sent(pinned, "wellbeing.ok", "en"); got != "New wording: reply 1 or 2." {
		t.Errorf("unpinned campaign got %q", got)
	}
}

// A call speaks each script in the language it is written in (a Welsh
// speaker hears English where Welsh is not approved yet, in an English
// voice), and a campaign's pins hold for voice scripts as for SMS.
func TestVoiceScriptsFollowLanguageAndPins(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	camp := newCampaign(t, f.st, t.Name())
	eng := outreach.New(outreach.Options{Store: f.st, Texts: f.texts, Logger: quiet})
	vals := outreach.PatientValues("Megan", "Y Feddygfa", "", "", "")
	keys := []string{"system.greeting", "wellbeing.ok"}
	langs := func(campaign int64) ([]string, []outreach.Spoken) {
		t.Helper()
		said, err := eng.VoiceText(ctx, campaign, "cy", vals, keys...)
		if err != nil {
			t.Fatal(err)
		}
		var l []string
		for _, s := range said {
			l = append(l, s.Language)
		}
		return l, said
	}
	if got, said := langs(camp); !slices.Equal(got, []string{"en"}) || !strings.Contains(said[0].Text, "Y Feddygfa") {
		t.Fatalf("before any Welsh approval: %v %q", got, said)
	}
	cy := f.template("system.greeting", "voice", "cy")
	if _, err := f.svc.Approve(ctx, alice, cy.ID, 1, "checked by a Welsh speaker"); err != nil {
		t.Fatal(err)
	}
	got, said := langs(camp)
	if !slices.Equal(got, []string{"cy", "en"}) || !strings.HasPrefix(said[0].Text, "Helo.") || !strings.HasPrefix(said[1].Text, "Are you OK?") {
		t.Fatalf("Welsh greeting, English question: %v %q", got, said)
	}

	// The campaign pins what is live; a later English wording reaches
	// other campaigns' calls only.
	if _, err := f.svc.PinLive(ctx, pat, camp); err != nil {
		t.Fatal(err)
	}
	en := f.template("wellbeing.ok", "voice", "en")
	v2, _, err := f.svc.SaveDraft(ctx, carol, en.ID, templateadmin.Draft{Body: "New wording. Press 1 if you are OK, 2 if not.", Submit: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(ctx, alice, en.ID, v2.Version, ""); err != nil {
		t.Fatal(err)
	}
	if _, said := langs(camp); !strings.HasPrefix(said[1].Text, "Are you OK?") {
		t.Errorf("pinned campaign's call says %q", said[1].Text)
	}
	if _, said := langs(camp + 1000); said[1].Text != "New wording. Press 1 if you are OK, 2 if not." {
		t.Errorf("unpinned campaign's call says %q", said[1].Text)
	}
}

// A second process sees an approval within its refresh interval without
// being told.
func TestOtherProcessSeesApproval(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other := templateadmin.NewDBTexts(f.st, 100*time.Millisecond, quiet)
	before, _, err := other.Body(ctx, "sms", "wellbeing.unwell", "en")
	if err != nil {
		t.Fatal(err)
	}
	tm := f.template("wellbeing.unwell", "sms", "en")
	v, _, err := f.svc.SaveDraft(ctx, carol, tm.ID, templateadmin.Draft{Body: "Do you feel unwell? Reply 1 or 2.", Submit: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := other.Body(ctx, "sms", "wellbeing.unwell", "en"); got != before {
		t.Fatalf("pending version served: %q", got)
	}
	if _, err := f.svc.Approve(ctx, bob, tm.ID, v.Version, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _, _ := other.Body(ctx, "sms", "wellbeing.unwell", "en")
		if got == "Do you feel unwell? Reply 1 or 2." {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %q after the approval", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCreateTranslationAndRights(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ref := store.TemplateRef{Key: "wellbeing.ok", Channel: "sms", Language: "pl"}
	tm, v, err := f.svc.Create(ctx, carol, ref, "Czy wszystko w porządku? Odpowiedz 1 lub 2.", "Polish")
	if err != nil {
		t.Fatal(err)
	}
	if tm.LiveVersion != nil || v.Version != 1 || v.State != store.VersionDraft {
		t.Fatalf("created %+v %+v", tm, v)
	}
	if _, _, err := f.svc.Create(ctx, carol, ref, "again", ""); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, _, err := f.svc.Create(ctx, carol, store.TemplateRef{Key: "Bad Key", Channel: "sms", Language: "pl"}, "x", ""); !errors.Is(err, templateadmin.ErrInvalid) {
		t.Fatalf("bad key: %v", err)
	}
	rep, err := f.svc.Preview(ctx, pat, tm.ID, 1)
	if err != nil || rep.SMS == nil || rep.SMS.Encoding != "UCS-2" || len(rep.SMS.UnicodeChars) != 1 {
		t.Fatalf("preview %+v %v", rep, err)
	}
	list, err := f.svc.List(ctx, pat, store.TemplateFilter{Language: "pl"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list %v %v", list, err)
	}
	list, err = f.svc.List(ctx, pat, store.TemplateFilter{Purpose: "urgent_advice", Language: "en"})
	if err != nil || len(list) != 4 {
		t.Fatalf("urgent advice templates: %d %v", len(list), err)
	}

	tests := []struct {
		who  templateadmin.Actor
		want templateadmin.Rights
	}{
		{admin, templateadmin.Rights{Read: true, Write: true, Approve: true, Pin: true, Grant: true}},
		{alice, templateadmin.Rights{Read: true, Write: true, Approve: true}},
		{carol, templateadmin.Rights{Read: true, Write: true}},
		{pat, templateadmin.Rights{Read: true, Pin: true}},
		{hank, templateadmin.Rights{}},
	}
	for _, tt := range tests {
		got, err := f.svc.Rights(ctx, tt.who)
		if err != nil || got != tt.want {
			t.Errorf("%s: rights %+v, want %+v (%v)", tt.who.Name, got, tt.want, err)
		}
	}
	if err := f.svc.RevokeApprover(ctx, admin, alice.Name); err != nil {
		t.Fatal(err)
	}
	if r, _ := f.svc.Rights(ctx, alice); r.Approve {
		t.Error("revoked approver can still approve")
	}
	if err := f.svc.GrantApprover(ctx, alice, carol.Name); !errors.Is(err, templateadmin.ErrForbidden) {
		t.Errorf("a comms lead granted the approver right: %v", err)
	}
}

// The service's errors reach people with the statuses doc.go lists.
func TestTemplateErrorStatuses(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{&templateadmin.InvalidError{}, http.StatusUnprocessableEntity},
		{fmt.Errorf("x: %w", templateadmin.ErrSelfApproval), http.StatusForbidden},
		{templateadmin.ErrForbidden, http.StatusForbidden},
		{store.ErrVersionState, http.StatusConflict},
		{templateadmin.ErrRateLimited, http.StatusTooManyRequests},
		{templateadmin.ErrTestUnavailable, http.StatusServiceUnavailable},
		{store.ErrNotFound, http.StatusNotFound},
		{io.ErrUnexpectedEOF, http.StatusInternalServerError},
	}
	for _, tc := range tests {
		if got := templateadmin.Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
