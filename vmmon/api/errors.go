package api

import (
	"encoding/json"
	"net/http"
)

// apiError is one entry of the API-SIG error format.
type apiError struct {
	RequestID string `json:"request_id"`
	Code      string `json:"code"`
	Status    int    `json:"status"`
	Title     string `json:"title"`
	Detail    string `json:"detail"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// fail answers with one error; code is a stable identifier (vmmon.xxx).
func fail(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	writeJSON(w, status, errorsResponse{Errors: []apiError{{
		RequestID: requestID(r), Code: code, Status: status, Title: http.StatusText(status), Detail: detail,
	}}})
}
