package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

type botoFixture struct {
	Name       string            `json:"name"`
	Method     string            `json:"method"`
	URL        string            `json:"url"`
	Headers    [][2]string       `json:"headers"`
	BodyB64    string            `json:"body_b64"`
	Now        int64             `json:"now"`
	AccessKey  string            `json:"access_key"`
	SecretKey  string            `json:"secret_key"`
	V2Resource string            `json:"v2resource"`
	Presigned  bool              `json:"presigned"`
	PayloadB64 string            `json:"payload_b64"`
	Trailer    map[string]string `json:"trailer"`
}

func loadBotoFixtures(t *testing.T) []botoFixture {
	t.Helper()
	var f struct {
		Fixtures []botoFixture `json:"fixtures"`
	}
	b, err := os.ReadFile("testdata/botocore_fixtures.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Fixtures) == 0 {
		t.Fatal("no fixtures")
	}
	return f.Fixtures
}

type serverOutcome struct {
	res     *Result
	err     error
	payload []byte
	readErr error
	trailer http.Header
}

// rawRequest renders fx as the bytes botocore puts on the wire (HTTP/1.1
// chunked transfer coding when it sends Transfer-Encoding: chunked), with
// optional mutation of the target and body.
func rawRequest(t *testing.T, fx botoFixture, target string, body []byte) []byte {
	t.Helper()
	u, err := url.Parse(fx.URL)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", fx.Method, target, u.Host)
	chunked := false
	hasLen := false
	for _, h := range fx.Headers {
		if strings.EqualFold(h[0], "Transfer-Encoding") {
			chunked = true
		}
		if strings.EqualFold(h[0], "Content-Length") {
			hasLen = true
		}
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	if !chunked && !hasLen && len(body) > 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	if chunked {
		if len(body) > 0 {
			fmt.Fprintf(&b, "%x\r\n", len(body))
			b.Write(body)
			b.WriteString("\r\n")
		}
		b.WriteString("0\r\n\r\n")
	} else {
		b.Write(body)
	}
	return b.Bytes()
}

// roundTrip sends raw bytes to a real net/http server whose handler runs
// Verify, so RequestURI, Host, Content-Length and Transfer-Encoding look
// exactly as they will in production.
func roundTrip(t *testing.T, v *Verifier, v2res string, raw []byte) serverOutcome {
	t.Helper()
	out := make(chan serverOutcome, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var o serverOutcome
		o.res, o.err = v.Verify(r, v2res)
		if o.err == nil {
			o.payload, o.readErr = io.ReadAll(o.res.Body)
			o.trailer = o.res.Trailer()
		}
		out <- o
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case o := <-out:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("handler not called")
	}
	return serverOutcome{}
}

func fixtureVerifier(fx botoFixture, now time.Time) *Verifier {
	return &Verifier{
		Lookup: func(_ context.Context, ak string) (string, error) {
			if ak == fx.AccessKey {
				return fx.SecretKey, nil
			}
			return "", ErrUnknownKey
		},
		Now: func() time.Time { return now },
	}
}

func TestBotocoreFixtures(t *testing.T) {
	for _, fx := range loadBotoFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			u, err := url.Parse(fx.URL)
			if err != nil {
				t.Fatal(err)
			}
			target := u.RequestURI()
			body, _ := base64.StdEncoding.DecodeString(fx.BodyB64)
			payload, _ := base64.StdEncoding.DecodeString(fx.PayloadB64)
			now := time.Unix(fx.Now, 0).Add(30 * time.Second)

			o := roundTrip(t, fixtureVerifier(fx, now), fx.V2Resource, rawRequest(t, fx, target, body))
			if o.err != nil {
				t.Fatalf("Verify: %v", o.err)
			}
			if o.readErr != nil {
				t.Fatalf("read body: %v", o.readErr)
			}
			if o.res.AccessKeyID != fx.AccessKey || o.res.Presigned != fx.Presigned || o.res.Anonymous {
				t.Errorf("result %+v", o.res)
			}
			if !bytes.Equal(o.payload, payload) {
				t.Errorf("payload %q, want %q", o.payload, payload)
			}
			for k, v := range fx.Trailer {
				if got := o.trailer.Get(k); got != v {
					t.Errorf("trailer %s = %q, want %q", k, got, v)
				}
			}
			if len(fx.Trailer) > 0 && o.res.ContentLength != int64(len(payload)) {
				t.Errorf("ContentLength = %d, want %d", o.res.ContentLength, len(payload))
			}

			// Tampering: another path, another time, an unknown key.
			tampered := strings.Replace(target, "/bkt/", "/bkt/x", 1)
			if !strings.HasPrefix(target, "/bkt/") {
				tampered = target + map[bool]string{true: "&", false: "?"}[strings.Contains(target, "?")] + "acl"
			}
			v2res := fx.V2Resource
			if v2res != "" {
				v2res = strings.Replace(v2res, "/bkt/", "/bkt/x", 1)
			}
			o = roundTrip(t, fixtureVerifier(fx, now), v2res, rawRequest(t, fx, tampered, body))
			if !isCode(o.err, CodeSignatureDoesNotMatch) {
				t.Errorf("tampered path: %v, want SignatureDoesNotMatch", o.err)
			}
			late := now.Add(2 * time.Hour)
			o = roundTrip(t, fixtureVerifier(fx, late), fx.V2Resource, rawRequest(t, fx, target, body))
			want := CodeRequestTimeTooSkewed
			if fx.Presigned {
				want = CodeAccessDenied
			}
			if !isCode(o.err, want) {
				t.Errorf("2h later: %v, want %s", o.err, want)
			}
			fx2 := fx
			fx2.AccessKey = "OTHER"
			o = roundTrip(t, fixtureVerifier(fx2, now), fx.V2Resource, rawRequest(t, fx, target, body))
			if !isCode(o.err, CodeInvalidAccessKeyID) {
				t.Errorf("unknown key: %v, want InvalidAccessKeyId", o.err)
			}
		})
	}
}
