// Package sandbox is a local stand-in for the parts of Twilio's REST API
// v2010 that Protect uses, with simulated patients ("personas") behind it.
// twilio-go talks to it through twilioapi.New(sid, token, sandboxURL), in
// development (make run) and in tests. It is for development only.
//
// # API
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json      create a message (201)
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json fetch a message
//	GET  /2010-04-01/Accounts/{AccountSid}/Messages.json      list: To, From, DateSent>, PageSize; newest first
//	POST /2010-04-01/Accounts/{AccountSid}/Calls.json         create a call (201)
//	GET  /2010-04-01/Accounts/{AccountSid}/Calls.json         list: To, From, PageSize; newest first
//	GET  /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json    fetch a call
//	POST /2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json    Status=canceled|completed
//
// Requests need HTTP Basic auth with Config.AccountSID and Config.AuthToken
// (else 401, code 20003). Errors use Twilio's body,
// {"code":21211,"message":"...","more_info":"https://www.twilio.com/docs/errors/21211","status":400},
// so twilio-go returns a *client.TwilioRestError. FailNext injects 429 and
// 5xx answers for retry tests.
//
// # Messages
//
// A message created with From starts "queued"; with only a
// MessagingServiceSid it starts "accepted" with no from, and is sent from
// Config.ServiceSenders[sid] or DefaultServiceSender. Then, every
// Config.CallbackDelay, it becomes queued, sent and delivered (or sent and
// undelivered, or failed, with an ErrorCode), and each change is posted to
// its StatusCallback: a form with MessageSid, SmsSid, MessageStatus,
// SmsStatus, AccountSid, From, To, ApiVersion, MessagingServiceSid when
// used, and ErrorCode on failure, signed with X-Twilio-Signature over the
// exact callback URL. Webhooks carry an I-Twilio-Idempotency-Token header,
// run on Config.Workers workers, are retried on connection errors, and can
// be duplicated on purpose (Config.DuplicateEvery).
//
// Once delivered, the persona may answer after its reply delay with an
// inbound SMS webhook to Config.InboundSMSURL (From=persona, To=sender,
// Body, MessageSid, AccountSid, NumMedia=0, NumSegments, SmsStatus=received,
// OptOutType for STOP/START/HELP keywords). STOP unsubscribes the persona
// from that sender: later messages fail with 21610 until it sends START.
// A <Message> in the TwiML answer to an inbound webhook is recorded as an
// outbound-reply message and delivered to the persona.
//
// # Calls
//
// After Config.CallbackDelay of ringing, the persona busy-signals, rings
// out, fails, or answers. An answered call fetches its Url (or runs its
// Twiml) with a signed request (CallSid, AccountSid, From, To, Called,
// Caller, CallStatus=in-progress, Direction=outbound-api, ApiVersion, and
// AnsweredBy when MachineDetection is set) and plays the TwiML: Say, Play,
// Pause, Gather (action, method, numDigits, timeout, finishOnKey,
// actionOnEmptyResult; nested Say, Play, Pause), Redirect, Dial (action;
// Number) and Hangup. The persona presses its scripted digits at each
// Gather; with no digits the Gather times out and the call goes on after it,
// as on Twilio. At most Config.MaxTwiMLFetches documents are fetched per
// call. The call's transcript records what was said and pressed. At the end
// the StatusCallback receives CallStatus (completed, busy, no-answer,
// failed, canceled), CallDuration (simulated seconds) and AnsweredBy; the
// StatusCallbackEvent values initiated, ringing and answered add the
// earlier callbacks.
//
// # Personas
//
// Configured personas (Config.Personas, SetPersona) win. Other numbers
// follow Config.DefaultPersona, by default the DefaultPersona function:
// anything not E.164 is invalid (21211); E.164 numbers outside the test
// range receive messages, never reply, and answer calls without pressing a
// key. The UK drama range 07700 900000-900999 (+447700900000 to
// +447700900999) is deterministic, so a demo cohort shows every path
// without configuration. For +447700900NNN:
//
//	NNN      label               SMS                                       call
//	990      unsubscribed        21610 at create                           answers as fine
//	991      unknown handset     undelivered, 30005                        no-answer
//	992      failed              queued then failed, 30003                 failed
//	993      fax                 delivered, never replies                  AnsweredBy=fax, ends
//	994      hangs up            replies "1" once                          hangs up at the 1st prompt
//	995      confused then fine  replies "maybe", then as fine           presses 9, then as fine
//	others, by the last digit:
//	..0      fine                replies "1" (I am OK), then "2" (no)     presses 1 to go on, then 1, 2, 2...
//	..1      needs help          replies "2" to every question             presses 2
//	..2      free text           replies "Not too bad thanks but I have    answers, presses nothing
//	                             run out of my tablets" once
//	..3      late                as fine, LateReplyFactor x slower         voicemail (AnsweredBy=machine_start)
//	..4      silent              delivered, never replies                  no-answer
//	..5      stop                replies "STOP" (then 21610)               busy
//	..6      landline            undelivered, 30006                        answers as fine
//	..7      unreachable         undelivered, 30003                        no-answer
//	..8      invalid             21211 at create                           21211 at create
//	..9      not a mobile        21614 at create                           answers as fine
//
// "Fine" answers suit the shipped wellbeing check: yes to "are you OK?",
// no to every later question. "Needs help" says no to "are you OK?" (a
// call-back) and no to the rest.
//
// Default personas answer only messages that ask for a reply (containing
// "?" or "reply") and at most ten of them, so confirmations and reminders
// do not start a conversation loop.
//
// # Observing
//
// Messages, Received, Message, Calls, Call and Webhooks return snapshots;
// WaitFor waits for a condition on them, WaitIdle for all pending work;
// Inbound injects a patient's SMS by hand; Reset forgets everything.
// Phone numbers are redacted in logs (twilioapi.Redact).
package sandbox
