package reason

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestNewRefusesAnIncompleteReason(t *testing.T) {
	for _, tc := range []struct {
		name      string
		code      string
		class     Class
		status    int
		graphCode string
		message   string
	}{
		{"no class", "a_code", 0, http.StatusBadRequest, "BadRequest", "m"},
		{"class out of range", "a_code", Transient + 1, http.StatusBadRequest, "BadRequest", "m"},
		{"no status", "a_code", Rejected, 0, "BadRequest", "m"},
		{"not a status", "a_code", Rejected, 299, "BadRequest", "m"},
		{"empty code", "", Rejected, http.StatusBadRequest, "BadRequest", "m"},
		{"code with a space", "a code", Rejected, http.StatusBadRequest, "BadRequest", "m"},
		{"code in capitals", "A_CODE", Rejected, http.StatusBadRequest, "BadRequest", "m"},
		{"code ending in _", "a_", Rejected, http.StatusBadRequest, "BadRequest", "m"},
		{"failure without a Graph code", "a_code", Failed, http.StatusBadGateway, "", "m"},
		{"failure without a message", "a_code", Transient, http.StatusServiceUnavailable, "ServiceUnavailable", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New accepted it")
				}
			}()
			New(tc.code, tc.class, tc.status, tc.graphCode, tc.message)
		})
	}
}

func TestReasonCarriesItsClassAndAnswer(t *testing.T) {
	r := New("too_blurry", Rejected, http.StatusBadRequest, "InvalidImage", "the image is too blurry")
	if r.String() != "too_blurry" || r.Class() != Rejected || r.Transient() || !r.Failure() || r.HTTPStatus() != 400 ||
		r.GraphCode() != "InvalidImage" || r.Message() != "the image is too blurry" || r.IsZero() {
		t.Errorf("%+v", r)
	}
	again := New("too_blurry", Rejected, http.StatusBadRequest, "InvalidImage", "the image is too blurry")
	if r != again || r == (Reason{}) {
		t.Error("reasons do not compare by value")
	}
	if tr := New("busy", Transient, http.StatusServiceUnavailable, "ServiceUnavailable", "retry"); !tr.Transient() || !tr.Failure() {
		t.Errorf("%+v is not transient", tr)
	}
	for _, c := range []Class{Synced, Skipped} {
		if s := New("quiet", c, http.StatusOK, "", ""); s.Failure() || s.Transient() {
			t.Errorf("%v: %+v counts as a failure", c, s)
		}
	}
	var zero Reason
	if !zero.IsZero() || zero.String() != "" || zero.Class() != 0 || zero.Failure() {
		t.Errorf("zero %+v", zero)
	}
	b, err := json.Marshal(struct {
		R Reason `json:"reason,omitzero"`
		Z Reason `json:"zero,omitzero"`
	}{R: r})
	if err != nil || string(b) != `{"reason":"too_blurry"}` {
		t.Errorf("JSON %s, %v", b, err)
	}
	if Transient.String() != "transient" || Class(0).String() != "Class(0)" {
		t.Errorf("class names %s %s", Transient, Class(0))
	}
}
