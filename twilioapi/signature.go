package twilioapi

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"

	"github.com/twilio/twilio-go/client"
)

// Sign returns the X-Twilio-Signature that Twilio sends with a webhook
// request to fullURL carrying the form-encoded body form: the base64
// HMAC-SHA1, keyed with the auth token, of fullURL exactly as given followed
// by every parameter name and value, with names in byte order and, for a
// repeated name, its values in byte order too. For a GET webhook pass the
// URL with its query and a nil form.
func Sign(authToken, fullURL string, form url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		values := slices.Clone(form[k])
		slices.Sort(values)
		for _, v := range values {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignatureValid reports whether signature is a valid X-Twilio-Signature
// for a request to fullURL (as Twilio was told it, scheme and host
// included) with the form-encoded body form, signed with authToken.
//
// When every parameter has at most one value it defers to twilio-go's
// client.RequestValidator, which accepts the signature computed both with
// and without the default port (Twilio is inconsistent about ports). That
// validator only looks at the first value of each parameter, so when a name
// repeats, SignatureValid checks all values itself (same port tolerance),
// rather than accept a signature that leaves values unsigned.
func SignatureValid(authToken, fullURL string, form url.Values, signature string) bool {
	if signature == "" {
		return false
	}
	multi := false
	single := make(map[string]string, len(form))
	for k, vs := range form {
		switch len(vs) {
		case 0:
		case 1:
			single[k] = vs[0]
		default:
			multi = true
		}
	}
	if !multi {
		v := client.NewRequestValidator(authToken)
		return v.Validate(fullURL, single, signature)
	}
	for _, u := range portVariants(fullURL) {
		if subtle.ConstantTimeCompare([]byte(Sign(authToken, u, form)), []byte(signature)) == 1 {
			return true
		}
	}
	return false
}

// portVariants returns fullURL as given, with its scheme's default port
// made explicit, and without any port.
func portVariants(fullURL string) []string {
	out := []string{fullURL}
	u, err := url.Parse(fullURL)
	if err != nil {
		return out
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if u.Port() != "" {
		bare := *u
		bare.Host = host
		out = append(out, bare.String())
		return out
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	withPort := *u
	withPort.Host = host + ":" + port
	return append(out, withPort.String())
}
