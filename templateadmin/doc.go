// Package templateadmin manages the message templates comms leads write
// and approve, and serves the approved wording to the outreach engine.
//
// It sits between the pure templates package (parsing, placeholder
// registries, SMS counting, lint) and the plain-SQL store, and is the one
// place the JSON API (api/templates.go) and the console's editor pages
// call. The engine never sees it: it gets wording only through
// outreach.Texts, which DBTexts implements.
//
// # Model
//
// A template is a key (wellbeing.ok), a channel (sms, voice) and a
// language (en, cy); PurposeFor maps the key to a templates.Purpose, which
// decides the placeholders it may use (Registry: those the purpose allows
// that the engine fills in, so an unknown placeholder is an error at save
// time, never at send time).
//
// Every save makes a new, immutable, numbered version (a trigger refuses
// changes to a body). A version is a draft, then pending approval, then
// approved or rejected; drafts and pending versions older than a newly
// approved one become superseded. The template's live version is set only
// by an approval, so a draft, pending or rejected version is never sent.
//
// Approval needs the approver right: admins always have it; a comms lead
// has it when an admin grants it (GrantApprover, stored in
// template_approvers by actor name, so it works for API tokens and
// console users alike). Nobody approves a version they wrote, which the
// service checks (ErrSelfApproval) and a database constraint backs up.
//
// Going back is one action: Revert copies an old body into a new version
// already submitted for approval. It goes live when someone else approves
// it: a revert gets the same four-eyes check as any change.
//
// Campaigns send the live version at the time of sending, unless they pin
// versions: campaigns.template_pins maps "key:channel:language" to an
// approved version (SetPins, or PinLive to freeze everything as it is
// now). Pins are per template rather than a "template set" version: a
// campaign can freeze only the wording it cares about and follow the rest.
//
// Seed imports the shipped texts at start for every template that does
// not exist yet: English as approved, live version 1 by "system"; Welsh
// (questionnaire/defaults/texts.cy.yaml, which needs review by a Welsh
// speaker) as version 1 pending approval, so Welsh speakers get English
// until a person approves each Welsh text.
//
// # Serving texts
//
// DBTexts keeps the live bodies in memory and checks one counter in
// PostgreSQL (bumped in the same transaction as each approval and pin
// change) every two seconds, so an approval reaches the next message
// within seconds in every process, and at once in the process that
// approved it (Service calls DBTexts.Invalidate).
//
// # Editor API
//
// An editor page is a thin layer over Service; every method takes the
// Actor (audit name and role), checks the role, audits what changes and
// returns errors to map to statuses: ErrForbidden (403), ErrSelfApproval
// (403), ErrNotVerified (403), *InvalidError carrying a Report (422),
// ErrCodeWrong and store.ErrCodeExpired (422), store.ErrNotFound (404),
// store.ErrVersionState and store.ErrDuplicate (409), ErrRateLimited and
// ErrTooManyCodes (429), ErrTestUnavailable (503).
//
//	Rights(ctx, actor)                      what the actor may do (show or hide buttons)
//	List(ctx, actor, store.TemplateFilter)  templates by purpose, channel, language, key
//	Show(ctx, actor, id)                    a template, its history (newest first), the live version, placeholders
//	Check(ctx, actor, id, body)             live preview as you type: Report with preview, problems, notices, SMS fragments and Unicode characters with GSM replacements, speaking time
//	Preview(ctx, actor, id, version)        the same Report for a saved version
//	Diff(ctx, actor, id, from, to)          line and word diff between two versions
//	Create(ctx, actor, ref, body, note)     a new template (a new key or language) with a first draft
//	SaveDraft(ctx, actor, id, Draft)        a new version (draft, or pending with Draft.Submit)
//	Submit(ctx, actor, id, version)         draft -> pending approval
//	Approve(ctx, actor, id, version, note)  pending -> approved and live (approver, not the author)
//	Reject(ctx, actor, id, version, note)   pending -> rejected
//	Revert(ctx, actor, id, to, note)        copy of an old version, pending approval
//	SendTest(ctx, actor, id, TestRequest)   the sample rendering, marked as a test, by SMS or call to a phone the actor verified (rate limited)
//	TestPhones / AddTestPhone / VerifyTestPhone / RemoveTestPhone
//	                                        the actor's own test phones: a number is added with a code texted to it, verified when the code is typed back
//	Pins / SetPins / PinLive                a campaign's pinned versions
//	Approvers / GrantApprover / RevokeApprover
//
// The package-level Check (no database) is the same validation for a body
// that has no template yet.
package templateadmin
