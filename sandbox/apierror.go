package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is Twilio's REST error body.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func newAPIError(status, code int, format string, args ...any) *apiError {
	return &apiError{
		Code:     code,
		Message:  fmt.Sprintf(format, args...),
		MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		Status:   status,
	}
}

func (e *apiError) Error() string { return fmt.Sprintf("twilio error %d: %s", e.Code, e.Message) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
	}
	writeJSON(w, e.Status, e)
}

// errorMessages are Twilio's wording for the codes the personas produce.
var errorMessages = map[int]string{
	21211: "The 'To' number %s is not a valid phone number.",
	21610: "Attempt to send to unsubscribed recipient",
	21614: "'To' number %s is not a valid mobile number",
	30003: "Unreachable destination handset",
	30005: "Unknown destination handset",
	30006: "Landline or unreachable carrier",
	30007: "Message filtered",
	30008: "Unknown error",
}

func createError(code int, to string) *apiError {
	msg, ok := errorMessages[code]
	if !ok {
		return newAPIError(http.StatusBadRequest, code, "Simulated error %d", code)
	}
	if code == 21211 || code == 21614 {
		return newAPIError(http.StatusBadRequest, code, msg, to)
	}
	return newAPIError(http.StatusBadRequest, code, "%s", msg)
}

func deliveryErrorMessage(code int) string {
	if msg, ok := errorMessages[code]; ok {
		return msg
	}
	return fmt.Sprintf("Simulated error %d", code)
}
