package s3api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/objects"
	"github.com/cloudraya/raya/gateway/s3err"
	"github.com/cloudraya/raya/gateway/sigv4"
)

// Limits on the form fields before the file of a POST upload.
const (
	maxPostField  = 64 << 10
	maxPostFields = 1 << 20
)

// isPostObject reports whether a request is an HTML form upload.
func isPostObject(q *request) bool {
	if q.r.Method != http.MethodPost || q.bucket == "" || q.key != "" || len(q.query) != 0 {
		return false
	}
	mt, _, _ := mime.ParseMediaType(q.r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// postPolicy is a decoded POST policy document.
type postPolicy struct {
	Expiration string            `json:"expiration"`
	Conditions []json.RawMessage `json:"conditions"`
}

type postCondition struct {
	op, field, value string // op: eq, starts-with
}

func policyError(msg string) error {
	return s3err.AccessDenied.With("Invalid according to Policy: " + msg)
}

// parsePolicy decodes the base64 policy and its conditions.
func parsePolicy(b64 string, now time.Time) ([]postCondition, int64, int64, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, 0, 0, s3err.InvalidPolicyDocument.With("Invalid Policy: Invalid 'POST' policy document: not base64.")
	}
	var p postPolicy
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, 0, 0, s3err.InvalidPolicyDocument.With("Invalid Policy: Invalid JSON.")
	}
	exp, err := time.Parse(time.RFC3339Nano, p.Expiration)
	if err != nil {
		return nil, 0, 0, s3err.InvalidPolicyDocument.With("Invalid Policy: Invalid 'expiration' value.")
	}
	if !now.Before(exp) {
		return nil, 0, 0, policyError("Policy expired.")
	}
	var conds []postCondition
	minLen, maxLen := int64(0), int64(-1)
	for _, c := range p.Conditions {
		var obj map[string]string
		if json.Unmarshal(c, &obj) == nil {
			for k, v := range obj {
				conds = append(conds, postCondition{op: "eq", field: strings.ToLower(strings.TrimPrefix(k, "$")), value: v})
			}
			continue
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(c, &arr); err != nil || len(arr) != 3 {
			return nil, 0, 0, s3err.InvalidPolicyDocument.With("Invalid Policy: Invalid condition: " + string(c))
		}
		var op string
		_ = json.Unmarshal(arr[0], &op)
		switch strings.ToLower(op) {
		case "content-length-range":
			var lo, hi int64
			if json.Unmarshal(arr[1], &lo) != nil || json.Unmarshal(arr[2], &hi) != nil || lo < 0 || hi < lo {
				return nil, 0, 0, s3err.InvalidPolicyDocument.With("Invalid Policy: Invalid content-length-range.")
			}
			minLen, maxLen = lo, hi
		case "eq", "starts-with":
			var field, value string
			if json.Unmarshal(arr[1], &field) != nil || json.Unmarshal(arr[2], &value) != nil || !strings.HasPrefix(field, "$") {
				return nil, 0, 0, s3err.InvalidPolicyDocument.With("Invalid Policy: Invalid condition: " + string(c))
			}
			conds = append(conds, postCondition{op: strings.ToLower(op), field: strings.ToLower(field[1:]), value: value})
		default:
			return nil, 0, 0, s3err.InvalidPolicyDocument.With("Invalid Policy: Unknown condition operator: " + op)
		}
	}
	return conds, minLen, maxLen, nil
}

// checkPolicy checks every condition against the form, and that every form
// field is covered by a condition.
func checkPolicy(conds []postCondition, fields map[string]string, bucket string) error {
	covered := map[string]bool{}
	for _, c := range conds {
		covered[c.field] = true
		v, ok := fields[c.field]
		if c.field == "bucket" {
			v, ok = bucket, true
		}
		if !ok {
			v = ""
		}
		switch c.op {
		case "eq":
			if v != c.value {
				return policyError(fmt.Sprintf("Policy Condition failed: [\"eq\", \"$%s\", %q]", c.field, c.value))
			}
		case "starts-with":
			match := strings.HasPrefix(v, c.value)
			if c.field == "content-type" && !match && c.value != "" {
				// A comma-separated Content-Type matches when each part does.
				match = true
				for _, p := range strings.Split(v, ",") {
					match = match && strings.HasPrefix(strings.TrimSpace(p), c.value)
				}
			}
			if !match {
				return policyError(fmt.Sprintf("Policy Condition failed: [\"starts-with\", \"$%s\", %q]", c.field, c.value))
			}
		}
	}
	for name := range fields {
		switch {
		case covered[name], name == "policy", name == "x-amz-signature", name == "signature",
			name == "awsaccesskeyid", name == "file", strings.HasPrefix(name, "x-ignore-"):
		default:
			return policyError("Extra input fields: " + name)
		}
	}
	return nil
}

// lengthGuard fails a read past max bytes.
type lengthGuard struct {
	r   io.Reader
	n   int64
	max int64
}

func (g *lengthGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.n += int64(n)
	if g.max >= 0 && g.n > g.max {
		return n, s3err.EntityTooLarge.With("Your proposed upload exceeds the maximum allowed size given by the policy's content-length-range.")
	}
	return n, err
}

type postResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// postObject serves an HTML form upload (presigned POST): the policy's
// signature authenticates the form, its conditions bound what may be sent,
// and the file streams into the backend.
func (h *Handler) postObject(q *request) error {
	_, params, err := mime.ParseMediaType(q.r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" {
		return s3err.MalformedPOSTRequest
	}
	mr := multipart.NewReader(q.r.Body, params["boundary"])
	fields := map[string]string{}
	total := 0
	var file *multipart.Part
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s3err.MalformedPOSTRequest
		}
		name := strings.ToLower(p.FormName())
		if name == "file" {
			file = p
			break
		}
		v, err := io.ReadAll(io.LimitReader(p, maxPostField+1))
		if err != nil {
			return s3err.MalformedPOSTRequest
		}
		total += len(v)
		if len(v) > maxPostField || total > maxPostFields {
			return s3err.MaxPostPreDataLengthExceeded
		}
		fields[name] = string(v)
	}
	if file == nil {
		return s3err.InvalidArgument.With("POST requires exactly one file upload per request.")
	}
	key := fields["key"]
	if key == "" {
		return s3err.InvalidArgument.With("Bucket POST must contain a field named 'key'.")
	}
	key = strings.ReplaceAll(key, "${filename}", file.FileName())
	if e := objects.ValidateKey(key); e != nil {
		return e
	}

	// Authenticate the form, or treat it as anonymous when it is unsigned.
	minLen, maxLen := int64(0), int64(-1)
	if fields["policy"] != "" {
		v := &sigv4.Verifier{Now: h.opts.Now, Lookup: h.lookupKey(q)}
		if _, err := v.VerifyPost(q.r.Context(), sigv4.PostForm(fields)); err != nil {
			return err
		}
		conds, lo, hi, err := parsePolicy(fields["policy"], h.opts.Now())
		if err != nil {
			return err
		}
		if err := checkPolicy(conds, fields, q.bucket); err != nil {
			return err
		}
		minLen, maxLen = lo, hi
	} else if fields["x-amz-signature"] != "" || fields["signature"] != "" {
		return s3err.InvalidArgument.With("Bucket POST must contain a field named 'policy' when it is signed.")
	}

	b, be, err := h.bucketOf(q, q.bucket, meta.PermWrite)
	if err != nil {
		return err
	}
	q.key = key
	hdr := http.Header{}
	for name, v := range fields {
		switch {
		case strings.HasPrefix(name, "x-amz-meta-"), name == "content-type", name == "cache-control",
			name == "content-disposition", name == "content-encoding", name == "expires", name == "acl":
			hdr.Set(name, v)
		}
	}
	if hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", file.Header.Get("Content-Type"))
	}
	if v := hdr.Get("Acl"); v != "" {
		hdr.Set("X-Amz-Acl", v)
		hdr.Del("Acl")
	}
	md, err := metadataFromHeaders(hdr)
	if err != nil {
		return err
	}
	aclReq := &request{r: &http.Request{Header: hdr}, w: q.w}
	aclReq.r = aclReq.r.WithContext(q.r.Context())
	acl, err := h.newObjectACL(aclReq, b)
	if err != nil {
		return err
	}
	guard := &lengthGuard{r: file, max: maxLen}
	in := &ingest{body: guard, size: -1, check: func() error {
		if guard.n < minLen {
			return s3err.EntityTooSmall.With("Your proposed upload is smaller than the minimum allowed size given by the policy's content-length-range.")
		}
		if guard.n > objects.MaxPutSize {
			return s3err.EntityTooLarge
		}
		return nil
	}}
	ctx := q.r.Context()
	opts, hr := in.options(md)
	info, err := be.PutObject(ctx, b.Name, key, hr, opts)
	if err != nil {
		return err
	}
	if err := h.applyObjectACL(ctx, b.Name, key, info, acl); err != nil {
		return err
	}
	// Drain what follows the file so the client reads our answer.
	_, _ = io.Copy(io.Discard, io.LimitReader(q.r.Body, maxPostFields))

	etag := quoteETag(info.ETag)
	location := "/" + b.Name + "/" + key
	wh := q.w.Header()
	wh.Set("ETag", etag)
	wh.Set("Location", location)
	redirect := fields["success_action_redirect"]
	if redirect == "" {
		redirect = fields["redirect"]
	}
	if u, err := url.Parse(redirect); redirect != "" && err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		v := u.Query()
		v.Set("bucket", b.Name)
		v.Set("key", key)
		v.Set("etag", etag)
		u.RawQuery = v.Encode()
		wh.Set("Location", u.String())
		q.w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	switch status, _ := strconv.Atoi(fields["success_action_status"]); status {
	case http.StatusOK:
		q.w.WriteHeader(http.StatusOK)
	case http.StatusCreated:
		return writeXML(q.w, http.StatusCreated, postResponse{Location: location, Bucket: b.Name, Key: key, ETag: etag})
	default:
		q.w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// lookupKey returns the sigv4 lookup of active keys; the key found becomes
// the request's caller.
func (h *Handler) lookupKey(q *request) sigv4.Lookup {
	return func(ctx context.Context, id string) (string, error) {
		k, err := h.opts.Store.GetKey(ctx, id)
		if errors.Is(err, meta.ErrNotFound) {
			return "", sigv4.ErrUnknownKey
		}
		if err != nil {
			return "", storeError(err)
		}
		if k.Status != meta.KeyActive || (k.ExpiresAt != nil && !h.opts.Now().Before(*k.ExpiresAt)) {
			return "", sigv4.ErrUnknownKey
		}
		q.caller = k
		return k.SecretAccessKey, nil
	}
}
