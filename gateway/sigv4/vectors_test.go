package sigv4

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const vectorDir = "../../../shared/testdata/aws-sigv4-suite/v4"

type vectorContext struct {
	Credentials struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
		Token           string `json:"token"`
	} `json:"credentials"`
	Expiration       int    `json:"expiration_in_seconds"`
	Normalize        bool   `json:"normalize"`
	Region           string `json:"region"`
	Service          string `json:"service"`
	SignBody         bool   `json:"sign_body"`
	Timestamp        string `json:"timestamp"`
	OmitSessionToken bool   `json:"omit_session_token"`
}

// parseRawRequest parses a raw HTTP/1.1 request as written in the vector
// suite, which net/http cannot always read (raw spaces and UTF-8 in the
// target, folded header lines). The request looks like what net/http's
// server hands a handler: RequestURI as sent, Host in r.Host.
func parseRawRequest(t *testing.T, raw string) *http.Request {
	t.Helper()
	head, body, _ := strings.Cut(raw, "\n\n")
	lines := strings.Split(head, "\n")
	reqLine := lines[0]
	sp1 := strings.IndexByte(reqLine, ' ')
	sp2 := strings.LastIndexByte(reqLine, ' ')
	if sp1 < 0 || sp2 <= sp1 {
		t.Fatalf("bad request line %q", reqLine)
	}
	method, target := reqLine[:sp1], reqLine[sp1+1:sp2]
	path, query, _ := strings.Cut(target, "?")
	r := &http.Request{
		Method:     method,
		RequestURI: target,
		URL:        &url.URL{Path: path, RawQuery: query},
		Header:     http.Header{},
		Body:       io.NopCloser(strings.NewReader(body)),
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
	}
	r = r.WithContext(context.Background())
	r.ContentLength = int64(len(body))
	var lastKey string
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' { // obs-fold continuation
			vs := r.Header[lastKey]
			vs[len(vs)-1] += " " + strings.TrimSpace(l)
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("bad header line %q", l)
		}
		k = http.CanonicalHeaderKey(k)
		if k == "Host" {
			r.Host = strings.TrimSpace(v)
			lastKey = k
			r.Header[k] = append(r.Header[k], v) // removed below
			continue
		}
		r.Header[k] = append(r.Header[k], v)
		lastKey = k
	}
	r.Header.Del("Host")
	return r
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAWSVectorSuite(t *testing.T) {
	dirs, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatalf("vector suite: %v", err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(vectorDir, d.Name())
		t.Run(d.Name(), func(t *testing.T) {
			var ctx vectorContext
			if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "context.json"))), &ctx); err != nil {
				t.Fatal(err)
			}
			ts, err := time.Parse(time.RFC3339, ctx.Timestamp)
			if err != nil {
				t.Fatal(err)
			}
			v := &Verifier{
				Lookup: func(_ context.Context, ak string) (string, error) {
					if ak != ctx.Credentials.AccessKeyID {
						return "", ErrUnknownKey
					}
					return ctx.Credentials.SecretAccessKey, nil
				},
				Now:    func() time.Time { return ts.Add(time.Minute) },
				vector: &vectorMode{normalize: ctx.Normalize},
			}
			for _, mode := range []string{"header", "query"} {
				t.Run(mode, func(t *testing.T) {
					wantCreq := readFile(t, filepath.Join(dir, mode+"-canonical-request.txt"))
					wantSTS := readFile(t, filepath.Join(dir, mode+"-string-to-sign.txt"))
					wantSig := strings.TrimSpace(readFile(t, filepath.Join(dir, mode+"-signature.txt")))
					r := parseRawRequest(t, readFile(t, filepath.Join(dir, mode+"-signed-request.txt")))

					// Step by step: canonical request, string to sign, signature.
					c := vectorCheck(t, v, r, mode)
					if d.Name() == "post-sts-header-after" && mode == "query" {
						// The token was appended to the query after signing;
						// S3 signs the whole query, so the canonical form
						// matches only without the token, and Verify must refuse.
						c.skipQuery = func(k string) bool { return k == "X-Amz-Signature" || k == "X-Amz-Security-Token" }
					}
					_ = v.checkSignature(r, c, ctx.Credentials.SecretAccessKey)
					if c.canonical != wantCreq {
						t.Errorf("canonical request:\n%s\nwant:\n%s", c.canonical, wantCreq)
					}
					if c.stringToSign != wantSTS {
						t.Errorf("string to sign:\n%s\nwant:\n%s", c.stringToSign, wantSTS)
					}
					if got := signHex(c.key, c.stringToSign); got != wantSig {
						t.Errorf("signature %s, want %s", got, wantSig)
					}

					// End to end through Verify.
					r = parseRawRequest(t, readFile(t, filepath.Join(dir, mode+"-signed-request.txt")))
					res, err := v.Verify(r, "")
					if d.Name() == "post-sts-header-after" && mode == "query" {
						var e *Error
						if !errors.As(err, &e) || e.Code != CodeSignatureDoesNotMatch {
							t.Fatalf("Verify = %v, want SignatureDoesNotMatch", err)
						}
						return
					}
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					if res.AccessKeyID != ctx.Credentials.AccessKeyID || res.Presigned != (mode == "query") {
						t.Errorf("result %+v", res)
					}

					// Tampering with the signature fails.
					r = parseRawRequest(t, readFile(t, filepath.Join(dir, mode+"-signed-request.txt")))
					if mode == "header" {
						a := r.Header.Get("Authorization")
						r.Header.Set("Authorization", a[:len(a)-1]+flipHex(a[len(a)-1]))
					} else {
						r.URL.RawQuery = strings.Replace(r.URL.RawQuery, "X-Amz-Signature="+wantSig, "X-Amz-Signature="+wantSig[:63]+flipHex(wantSig[63]), 1)
					}
					if _, err := v.Verify(r, ""); !isCode(err, CodeSignatureDoesNotMatch) {
						t.Errorf("tampered Verify = %v, want SignatureDoesNotMatch", err)
					}
				})
			}
		})
	}
	if n != 38 {
		t.Errorf("ran %d vectors, README promises 38", n)
	}
}

func flipHex(c byte) string {
	if c == '0' {
		return "1"
	}
	return "0"
}

func isCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// vectorCheck parses the signature parameters of r the way Verify does.
func vectorCheck(t *testing.T, v *Verifier, r *http.Request, mode string) *v4Check {
	t.Helper()
	if mode == "header" {
		ah, err := parseAuthHeader(r.Header.Get("Authorization"))
		if err != nil {
			t.Fatal(err)
		}
		ts, terr := requestTime(r)
		if terr != nil {
			t.Fatal(terr)
		}
		ph := r.Header.Get("X-Amz-Content-Sha256")
		if ph == "" {
			var err error
			if ph, err = hashBody(r); err != nil {
				t.Fatal(err)
			}
		}
		return &v4Check{cred: ah.Credential, signed: ah.SignedHeaders, signature: ah.Signature, t: ts, payloadHash: ph}
	}
	p, err := parsePresignQuery(parseQuery(r.URL.RawQuery))
	if err != nil {
		t.Fatal(err)
	}
	ph, herr := hashBody(r)
	if herr != nil {
		t.Fatal(herr)
	}
	return &v4Check{cred: p.Credential, signed: p.SignedHeaders, signature: p.Signature, t: p.Date, payloadHash: ph,
		skipQuery: func(k string) bool { return k == "X-Amz-Signature" }}
}

// Folded header lines cannot come through net/http's server unchanged; the
// canonicalization function gets them directly.
func TestTrimAll(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"value1\n  value2\n     value3", "value1 value2 value3"},
		{` "a   b   c" `, `"a b c"`},
		{"\tx\t\ty ", "x y"},
		{"", ""},
	} {
		if got := trimAll(tc.in); got != tc.want {
			t.Errorf("trimAll(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
