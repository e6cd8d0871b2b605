package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/authpilot/authpilot/notify/webhook"
)

// A receiver checks each delivery before trusting it: the signature over
// id, timestamp and body, and that the timestamp is recent. It answers 2xx
// only once the alert is safely stored, and drops a webhook-id it has seen.
func ExampleVerify() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"     // from `authpilot secrets`
	now := func() time.Time { return time.Unix(1614265330, 0) } // time.Now in a real receiver
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header, body, 5*time.Minute, now()); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		fmt.Println("verified", r.Header.Get(webhook.HeaderID))
		w.WriteHeader(http.StatusNoContent)
	})

	// The published Standard Webhooks test message.
	req := httptest.NewRequest(http.MethodPost, "/authpilot", strings.NewReader(`{"test": 2432232314}`))
	req.Header.Set(webhook.HeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	req.Header.Set(webhook.HeaderTimestamp, "1614265330")
	req.Header.Set(webhook.HeaderSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// verified msg_p5jXN8AQM9LWM0D4loKWxJek
	// 204
}
