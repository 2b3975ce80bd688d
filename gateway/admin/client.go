package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/meta/sealed"
	"github.com/cloudraya/raya/gateway/sigv4"
)

// Signing scope of admin requests: the gateway verifies them like any S3
// request.
const (
	signRegion  = "us-east-1"
	signService = "s3"
)

// maxResponseBytes bounds what the client reads from one answer.
const maxResponseBytes = 32 << 20

// Client calls the admin API of a running gateway, signing every request
// with SigV4 and the administrator's (root) key pair. It is safe for
// concurrent use.
type Client struct {
	endpoint string // scheme://host[:port][/base], without a trailing slash
	creds    sigv4.Credentials
	hc       *http.Client
	now      func() time.Time
}

// NewClient returns a client for the gateway at endpoint (for example
// "https://s3.example.com" or "http://127.0.0.1:9000") that signs with the
// given key pair. A nil httpClient means http.DefaultClient.
func NewClient(endpoint, accessKeyID, secretAccessKey string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{
		endpoint: strings.TrimRight(endpoint, "/"),
		creds:    sigv4.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey},
		hc:       httpClient,
		now:      time.Now,
	}
}

// ListBuckets returns all buckets, ordered by name.
func (c *Client) ListBuckets(ctx context.Context) ([]meta.Bucket, error) {
	var out []meta.Bucket
	if err := c.do(ctx, http.MethodGet, "/buckets", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListAccounts returns all accounts, ordered by ID.
func (c *Client) ListAccounts(ctx context.Context) ([]meta.Account, error) {
	var out []meta.Account
	if err := c.do(ctx, http.MethodGet, "/accounts", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateKey issues a key pair. The returned key holds the secret, which the
// API never returns again.
func (c *Client) CreateKey(ctx context.Context, req CreateKeyRequest) (*meta.Key, error) {
	var k meta.Key
	if err := c.do(ctx, http.MethodPost, "/keys", nil, req, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// ListKeys returns the keys, without secrets, ordered by access key ID. A
// non-empty bucket or account restricts the list.
func (c *Client) ListKeys(ctx context.Context, bucket, account string) ([]meta.Key, error) {
	q := url.Values{}
	if bucket != "" {
		q.Set("bucket", bucket)
	}
	if account != "" {
		q.Set("account", account)
	}
	var out []meta.Key
	if err := c.do(ctx, http.MethodGet, "/keys", q, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// KeyQuery selects keys in FindKeys; zero fields match everything.
type KeyQuery struct {
	Bucket  string
	Account string
	// UnusedFor keeps only keys not used for at least this long (never
	// used keys count from their creation): the unused-key report.
	UnusedFor time.Duration
}

// FindKeys returns the keys matching q, without secrets, ordered by access
// key ID.
func (c *Client) FindKeys(ctx context.Context, q KeyQuery) ([]meta.Key, error) {
	v := url.Values{}
	if q.Bucket != "" {
		v.Set("bucket", q.Bucket)
	}
	if q.Account != "" {
		v.Set("account", q.Account)
	}
	if q.UnusedFor > 0 {
		v.Set("unusedFor", q.UnusedFor.String())
	}
	var out []meta.Key
	if err := c.do(ctx, http.MethodGet, "/keys", v, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteKey revokes a key: it stops working at once on this instance and
// within the key cache's TTL on every other.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/keys/"+url.PathEscape(id), nil, nil, nil)
}

// UpdateKey changes a key's status or label and returns the key, without
// its secret.
func (c *Client) UpdateKey(ctx context.Context, id string, req UpdateKeyRequest) (*meta.Key, error) {
	var k meta.Key
	if err := c.do(ctx, http.MethodPatch, "/keys/"+url.PathEscape(id), nil, req, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// SetKeyStatus disables (meta.KeyInactive) or enables (meta.KeyActive) a
// key.
func (c *Client) SetKeyStatus(ctx context.Context, id, status string) (*meta.Key, error) {
	return c.UpdateKey(ctx, id, UpdateKeyRequest{Status: &status})
}

// RotateKey issues a new pair replacing key id; the answer holds the new
// secret, which the API never returns again.
func (c *Client) RotateKey(ctx context.Context, id string, req RotateKeyRequest) (*RotateKeyResponse, error) {
	var out RotateKeyResponse
	if err := c.do(ctx, http.MethodPost, "/keys/"+url.PathEscape(id)+"/rotate", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateAccount creates an account with a new canonical ID.
func (c *Client) CreateAccount(ctx context.Context, displayName string) (*meta.Account, error) {
	var a meta.Account
	if err := c.do(ctx, http.MethodPost, "/accounts", nil, CreateAccountRequest{DisplayName: displayName}, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Reseal re-seals every stored secret with the gateway's primary master
// key (see package sealed).
func (c *Client) Reseal(ctx context.Context) (*sealed.ResealResult, error) {
	var out sealed.ResealResult
	if err := c.do(ctx, http.MethodPost, "/reseal", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends one signed request to apiPrefix+path and decodes a 2xx JSON
// answer into out (when non-nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("admin: encoding request: %w", err)
		}
	}
	u := c.endpoint + apiPrefix + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	if body == nil {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	sum := sha256.Sum256(body)
	if err := sigv4.SignRequest(req, hex.EncodeToString(sum[:]), c.creds, signRegion, signService, c.now()); err != nil {
		return fmt.Errorf("admin: signing request: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // drop its own "Get URL:" prefix
			err = ue.Err
		}
		return fmt.Errorf("admin: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("admin: reading response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return parseError(resp.StatusCode, resp.Header, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin: decoding response to %s %s (HTTP %d, Content-Type %q): %w",
			method, apiPrefix+path, resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	return nil
}

// s3XMLError is the S3 error document the gateway answers with before the
// request reaches the admin handler (bad signature, not the root key, ...).
type s3XMLError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
}

// parseError turns a non-2xx answer into an *Error, from the admin JSON
// error, an S3 XML error, or failing both the status and a short excerpt.
func parseError(status int, h http.Header, data []byte) *Error {
	e := &Error{StatusCode: status, RequestID: h.Get("X-Amz-Request-Id")}
	var je errorBody
	if err := json.Unmarshal(data, &je); err == nil && je.Error != nil && je.Error.Code != "" {
		e.Code, e.Message = je.Error.Code, je.Error.Message
		if je.Error.RequestID != "" {
			e.RequestID = je.Error.RequestID
		}
		return e
	}
	var xe s3XMLError
	if err := xml.Unmarshal(data, &xe); err == nil && xe.Code != "" {
		e.Code, e.Message = xe.Code, xe.Message
		if xe.RequestID != "" {
			e.RequestID = xe.RequestID
		}
		return e
	}
	e.Code = strings.ReplaceAll(http.StatusText(status), " ", "")
	if e.Code == "" {
		e.Code = fmt.Sprintf("HTTP%d", status)
	}
	excerpt := strings.TrimSpace(string(data))
	if len(excerpt) > 200 {
		excerpt = strings.ToValidUTF8(excerpt[:200], "") + "..."
	}
	e.Message = excerpt
	return e
}
