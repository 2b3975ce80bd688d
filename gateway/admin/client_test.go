package admin_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudraya/raya/gateway/admin"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/sigv4"
)

// verified stands in for the S3 handler: it verifies the SigV4 signature
// against the keys in store, requires the root key, and names the caller.
func verified(t *testing.T, store meta.Store, h http.Handler) http.Handler {
	v := &sigv4.Verifier{Lookup: func(ctx context.Context, id string) (string, error) {
		k, err := store.GetKey(ctx, id)
		if errors.Is(err, meta.ErrNotFound) {
			return "", sigv4.ErrUnknownKey
		}
		if err != nil {
			return "", err
		}
		return k.SecretAccessKey, nil
	}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := v.Verify(r, r.URL.EscapedPath())
		if err != nil || res.Anonymous {
			t.Errorf("%s %s: not verified: %v", r.Method, r.URL, err)
			http.Error(w, "<Error><Code>SignatureDoesNotMatch</Code><Message>bad signature</Message></Error>", 403)
			return
		}
		if k, err := store.GetKey(r.Context(), res.AccessKeyID); err != nil || !k.Root {
			http.Error(w, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>", 403)
			return
		}
		r.Body = res.Body
		h.ServeHTTP(w, r.WithContext(admin.WithCaller(r.Context(), res.AccessKeyID)))
	})
}

func TestClientRoundTrip(t *testing.T) {
	store := newStore(t)
	h := admin.NewHandler(store, &admin.Options{Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(verified(t, store, h))
	defer srv.Close()
	c := admin.NewClient(srv.URL+"/", rootID, strings.Repeat("s", 40), srv.Client())
	ctx := context.Background()

	buckets, err := c.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(buckets) != 2 || buckets[1].Name != "photos" || buckets[1].Owner != ownerID || buckets[1].Backend != "local" ||
		!buckets[1].CreatedAt.Equal(clock) {
		t.Fatalf("buckets %+v", buckets)
	}
	accounts, err := c.ListAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accounts) != 2 || accounts[0].ID != ownerID {
		t.Fatalf("accounts %+v", accounts)
	}

	exp := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	k, err := c.CreateKey(ctx, admin.CreateKeyRequest{Bucket: "photos", Label: "web", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if k.AccessKeyID == "" || k.SecretAccessKey == "" || k.Bucket != "photos" || k.Account != ownerID ||
		k.Label != "web" || k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) {
		t.Fatalf("created %+v", k)
	}
	wide, err := c.CreateKey(ctx, admin.CreateKeyRequest{Account: otherID})
	if err != nil {
		t.Fatal(err)
	}
	if wide.Bucket != "" || wide.Account != otherID {
		t.Fatalf("account-wide %+v", wide)
	}

	keys, err := c.ListKeys(ctx, "photos", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].AccessKeyID != k.AccessKeyID || keys[0].SecretAccessKey != "" {
		t.Fatalf("keys of photos %+v", keys)
	}
	keys, err = c.ListKeys(ctx, "", otherID)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].AccessKeyID != wide.AccessKeyID {
		t.Fatalf("keys of other %+v", keys)
	}

	if err := c.DeleteKey(ctx, k.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	err = c.DeleteKey(ctx, k.AccessKeyID)
	var ae *admin.Error
	if !errors.As(err, &ae) || ae.Code != "NotFound" || ae.StatusCode != 404 || !strings.Contains(ae.Message, k.AccessKeyID) {
		t.Fatalf("second delete: %v", err)
	}
	err = c.DeleteKey(ctx, rootID)
	if !errors.As(err, &ae) || ae.Code != "InvalidRequest" || ae.StatusCode != 400 {
		t.Fatalf("delete root: %v", err)
	}
	_, err = c.CreateKey(ctx, admin.CreateKeyRequest{Bucket: "nope"})
	if !errors.As(err, &ae) || ae.Code != "NotFound" {
		t.Fatalf("key for unknown bucket: %v", err)
	}

	// A bucket key is not an administrator: the S3 layer answers in XML.
	_, err = admin.NewClient(srv.URL, wide.AccessKeyID, wide.SecretAccessKey, srv.Client()).ListBuckets(ctx)
	if !errors.As(err, &ae) || ae.Code != "AccessDenied" || ae.StatusCode != 403 {
		t.Fatalf("non-root key: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        admin.Error
	}{
		{"admin JSON", 404, "application/json", `{"error":{"code":"NotFound","message":"bucket \"x\" does not exist"}}`,
			admin.Error{StatusCode: 404, Code: "NotFound", Message: `bucket "x" does not exist`, RequestID: "REQ1"}},
		{"S3 XML", 403, "application/xml", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match.</Message><RequestId>REQ2</RequestId><HostId>REQ2</HostId></Error>`,
			admin.Error{StatusCode: 403, Code: "SignatureDoesNotMatch", Message: "The request signature we calculated does not match.", RequestID: "REQ2"}},
		{"plain text", 502, "text/plain", "upstream down\n",
			admin.Error{StatusCode: 502, Code: "BadGateway", Message: "upstream down", RequestID: "REQ1"}},
		{"empty", 500, "", "",
			admin.Error{StatusCode: 500, Code: "InternalServerError", RequestID: "REQ1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Amz-Request-Id", "REQ1")
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			_, err := admin.NewClient(srv.URL, "RYX", "secret", nil).ListBuckets(context.Background())
			var ae *admin.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want *admin.Error", err, err)
			}
			if *ae != tt.want {
				t.Errorf("got %+v, want %+v", *ae, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want.Code) {
				t.Errorf("Error() = %q lacks the code", err.Error())
			}
		})
	}
}

func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := admin.NewClient(url, "RYX", "secret", nil).ListAccounts(context.Background())
	if err == nil || !strings.Contains(err.Error(), "/_raya/admin/v1/accounts") {
		t.Fatalf("err = %v", err)
	}
}
