// Package twilioapi builds the twilio-go REST client that Protect uses and
// holds the small helpers around it: webhook signatures (X-Twilio-Signature),
// error classification and phone-number redaction for logs.
//
// twilio-go always addresses *.twilio.com. New installs an HTTP transport
// that sends those requests to any Twilio-compatible API instead (the
// PROTECT_TWILIO_API_URL setting, or the local sandbox in development and
// tests), keeping the path and query of every request.
package twilioapi
