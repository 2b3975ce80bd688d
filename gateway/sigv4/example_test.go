package sigv4_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/cloudraya/raya/gateway/sigv4"
)

func ExampleVerifier_Verify() {
	creds := sigv4.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	v := &sigv4.Verifier{
		Lookup: func(_ context.Context, ak string) (string, error) {
			if ak == creds.AccessKeyID {
				return creds.SecretAccessKey, nil
			}
			return "", sigv4.ErrUnknownKey
		},
		Now: func() time.Time { return now },
	}

	// Client side.
	body := "hello"
	req := httptest.NewRequest("PUT", "https://s3.example.test/bucket/greeting.txt", strings.NewReader(body))
	_ = sigv4.SignRequest(req, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", creds, "us-east-1", "s3", now)

	// Server side: verify, then read the payload only through res.Body.
	res, err := v.Verify(req, "/bucket/greeting.txt")
	if err != nil {
		fmt.Println("denied:", err)
		return
	}
	b, err := io.ReadAll(res.Body)
	fmt.Println(res.AccessKeyID, string(b), err)
	// Output: AKIDEXAMPLE hello <nil>
}
