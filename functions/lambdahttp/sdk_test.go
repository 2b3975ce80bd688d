package lambdahttp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/cloudraya/raya/functions/lambdahttp"
	"github.com/cloudraya/raya/functions/lambdahttp/lambdatest"
	"github.com/cloudraya/raya/gateway/app"
)

const (
	publicHost = "s3.raya.test"
	region     = "us-east-1"
)

// newApp builds the real gateway over a temporary data folder.
func newApp(t testing.TB, domains ...string) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), app.Config{
		DataDir: t.TempDir(), Region: region, Domains: domains,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// newClient returns an aws-sdk-go-v2 client, with its default checksum
// behaviour, whose requests reach h as events of tr's source.
func newClient(a *app.App, tr *lambdatest.Transport, scheme string, pathStyle bool) *s3.Client {
	return newClientWith(a.Root.AccessKeyID, a.Root.SecretAccessKey, tr, scheme, pathStyle)
}

func newClientWith(id, secret string, tr *lambdatest.Transport, scheme string, pathStyle bool) *s3.Client {
	return s3.New(s3.Options{
		Region:       region,
		BaseEndpoint: aws.String(scheme + "://" + publicHost),
		UsePathStyle: pathStyle,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		HTTPClient:   &http.Client{Transport: tr},
		Retryer:      aws.NopRetryer{},
	})
}

// keys every deployment must carry; the HTTP API cuts paths at a decoded
// '?', and a decoded path cannot tell "%41" from an escape.
var keys = []struct {
	key                  string
	httpAPI, decodedREST bool
}{
	{"plain.txt", true, true},
	{"100% sure", true, true},
	{"50%", true, true},
	{"a+b=c", true, true},
	{"with space/and more", true, true},
	{"double//slash", true, true},
	{"what?really", false, true},
	{"hash#tag", true, true},
	{"unicode/é—中", true, true},
	{"semi;colon,comma", true, true},
	{"looks%41escaped", false, false},
	{"pct%2Fslash", false, false},
	{"tilde~and'quote", true, true},
}

type source struct {
	name string
	tr   lambdatest.Transport
	opts lambdahttp.Options
}

func sources() []source {
	return []source{
		{"function-url-stream", lambdatest.Transport{Source: lambdahttp.FunctionURL, Host: lambdatest.FunctionURLDomain, Stream: true},
			lambdahttp.Options{PublicHost: publicHost}},
		{"function-url-buffered", lambdatest.Transport{Source: lambdahttp.FunctionURL, Host: lambdatest.FunctionURLDomain},
			lambdahttp.Options{PublicHost: publicHost, BufferedFunctionURL: true}},
		{"http-api", lambdatest.Transport{Source: lambdahttp.HTTPAPI, Host: lambdatest.APIDomain},
			lambdahttp.Options{PublicHost: publicHost}},
		{"rest-api", lambdatest.Transport{Source: lambdahttp.REST},
			lambdahttp.Options{}},
		{"rest-api-decoded-path", lambdatest.Transport{Source: lambdahttp.REST, DecodedRESTPath: true},
			lambdahttp.Options{}},
		{"alb", lambdatest.Transport{Source: lambdahttp.ALB},
			lambdahttp.Options{}},
		{"alb-multi-value", lambdatest.Transport{Source: lambdahttp.ALB, ALBMultiValue: true},
			lambdahttp.Options{}},
	}
}

func (s source) carries(k struct {
	key                  string
	httpAPI, decodedREST bool
}) bool {
	switch {
	case s.tr.Source == lambdahttp.HTTPAPI:
		return k.httpAPI
	case s.tr.DecodedRESTPath:
		return k.decodedREST
	}
	return true
}

// TestSDKThroughEveryEventSource runs real SDK-signed requests through
// each event source's conversion and the real S3 handler: signatures must
// verify for every key and for header values with commas.
func TestSDKThroughEveryEventSource(t *testing.T) {
	for _, src := range sources() {
		for _, scheme := range []string{"https", "http"} {
			t.Run(src.name+"/"+scheme, func(t *testing.T) {
				t.Parallel()
				a := newApp(t)
				tr := src.tr
				tr.Invoke = lambdatest.InProcess(lambdahttp.New(a.Handler, &src.opts))
				c := newClient(a, &tr, scheme, true)
				ctx := context.Background()
				bucket := "bkt-" + strings.ReplaceAll(src.name, "-", "")
				if len(bucket) > 40 {
					bucket = bucket[:40]
				}
				if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
					t.Fatalf("CreateBucket: %v", err)
				}
				var want []string
				for _, k := range keys {
					if !src.carries(k) {
						continue
					}
					want = append(want, k.key)
					body := []byte("body of " + k.key)
					_, err := c.PutObject(ctx, &s3.PutObjectInput{
						Bucket: &bucket, Key: aws.String(k.key), Body: bytes.NewReader(body),
						ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
						CacheControl:      aws.String("no-cache, no-store"),
						Metadata:          map[string]string{"note": "hello, world", "spaces": "a  b"},
					})
					if err != nil {
						t.Fatalf("PutObject %q: %v", k.key, err)
					}
					out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(k.key), ChecksumMode: types.ChecksumModeEnabled})
					if err != nil {
						t.Fatalf("GetObject %q: %v", k.key, err)
					}
					got, _ := io.ReadAll(out.Body)
					out.Body.Close()
					if !bytes.Equal(got, body) {
						t.Fatalf("GetObject %q: body %q", k.key, got)
					}
					if out.Metadata["note"] != "hello, world" || aws.ToString(out.CacheControl) != "no-cache, no-store" {
						t.Fatalf("GetObject %q: metadata %v cache-control %q", k.key, out.Metadata, aws.ToString(out.CacheControl))
					}
				}
				// A signed request whose header value has ", " in it.
				_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("plain.txt"), IfNoneMatch: aws.String(`"nope", "nope2"`)})
				if err != nil {
					t.Fatalf("HeadObject with If-None-Match list: %v", err)
				}
				// Listing with a prefix full of characters to escape.
				lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("with space/")})
				if err != nil || len(lo.Contents) != 1 {
					t.Fatalf("ListObjectsV2 prefix: %v %v", err, lo)
				}
				lo, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
				if err != nil {
					t.Fatalf("ListObjectsV2: %v", err)
				}
				var got []string
				for _, o := range lo.Contents {
					got = append(got, aws.ToString(o.Key))
				}
				sort.Strings(want)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("listed\n%q\nwant\n%q", got, want)
				}
				// A presigned GET, fetched by a plain HTTP client.
				ps, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("a+b=c")},
					s3.WithPresignExpires(5*time.Minute))
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest(http.MethodGet, ps.URL, nil)
				resp, err := (&http.Client{Transport: &tr}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				pb, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(pb) != "body of a+b=c" {
					t.Fatalf("presigned GET: %d %s", resp.StatusCode, pb)
				}
				// A wrong secret must still fail: the conversion keeps
				// verification strict, it does not make it lax.
				bad := newClientWith(a.Root.AccessKeyID, "wrong-secret", &tr, scheme, true)
				_, err = bad.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("plain.txt")})
				var re interface{ HTTPStatusCode() int }
				if !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
					t.Fatalf("wrong secret: %v", err)
				}
			})
		}
	}
}

// TestVirtualHostedStyle: the bucket comes from the Host the client
// signed, kept because it is not an AWS-generated name.
func TestVirtualHostedStyle(t *testing.T) {
	a := newApp(t, publicHost)
	tr := lambdatest.Transport{Source: lambdahttp.HTTPAPI}
	tr.Invoke = lambdatest.InProcess(lambdahttp.New(a.Handler, &lambdahttp.Options{PublicHost: publicHost}))
	c := newClient(a, &tr, "https", false)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("k 1"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vhost"), Key: aws.String("k 1")}); err != nil {
		t.Fatal(err)
	}
}

// TestRESTStageOnDefaultEndpoint: a client pointed at
// https://API.execute-api.REGION.amazonaws.com/prod signs /prod/...; the
// stage is kept for the signature and dropped for routing.
func TestRESTStageOnDefaultEndpoint(t *testing.T) {
	a := newApp(t)
	tr := lambdatest.Transport{Source: lambdahttp.REST, RESTStage: "prod"}
	tr.Invoke = lambdatest.InProcess(lambdahttp.New(a.Handler, nil))
	c := s3.New(s3.Options{
		Region: region, BaseEndpoint: aws.String("https://" + lambdatest.APIDomain + "/prod"), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(a.Root.AccessKeyID, a.Root.SecretAccessKey, ""),
		HTTPClient:  &http.Client{Transport: &tr}, Retryer: aws.NopRetryer{},
	})
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("staged")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("staged"), Key: aws.String("a%b c"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	lo, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("staged")})
	if err != nil || len(lo.Contents) != 1 || aws.ToString(lo.Contents[0].Key) != "a%b c" {
		t.Fatalf("list: %v %+v", err, lo)
	}
}

func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestPayloadLimits: an upload over the request limit gets EntityTooLarge
// and a buffered download over the response limit gets ResponseTooLarge,
// both as S3 XML errors; the Function URL stream carries the large body.
func TestPayloadLimits(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	big := make([]byte, lambdahttp.RequestBodyLimit(lambdahttp.FunctionURL)+1)
	_, _ = rand.Read(big)

	furl := lambdatest.Transport{Source: lambdahttp.FunctionURL, Host: lambdatest.FunctionURLDomain, Stream: true}
	furl.Invoke = lambdatest.InProcess(lambdahttp.New(a.Handler, &lambdahttp.Options{PublicHost: publicHost}))
	c := newClient(a, &furl, "https", true)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("limits")}); err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{"https", "http"} {
		_, err := newClient(a, &furl, scheme, true).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("limits"), Key: aws.String("big"), Body: bytes.NewReader(big)})
		if s3Code(err) != "EntityTooLarge" {
			t.Fatalf("%s: over-limit PUT: want EntityTooLarge, got %v", scheme, err)
		}
	}
	// Just under the limit goes through.
	// Just under the request limit, and so over the buffered response
	// limit (which leaves room for headers).
	fits := big[:lambdahttp.RequestBodyLimit(lambdahttp.FunctionURL)-16<<10]
	if int64(len(fits)) <= lambdahttp.ResponseBodyLimit(lambdahttp.HTTPAPI) {
		t.Fatal("the fixture must be over the buffered response limit")
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("limits"), Key: aws.String("fits"), Body: bytes.NewReader(fits)}); err != nil {
		t.Fatalf("PUT under the limit: %v", err)
	}
	// ALB's limit is lower.
	alb := lambdatest.Transport{Source: lambdahttp.ALB}
	alb.Invoke = lambdatest.InProcess(lambdahttp.New(a.Handler, nil))
	albc := newClient(a, &alb, "https", true)
	if _, err := albc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("limits"), Key: aws.String("alb"), Body: bytes.NewReader(big[:1_000_001])}); s3Code(err) != "EntityTooLarge" {
		t.Fatalf("ALB over-limit PUT: %v", err)
	}

	// The stream carries what a buffered response cannot.
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("limits"), Key: aws.String("fits")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(out.Body)
	if !bytes.Equal(got, fits) {
		t.Fatalf("streamed GET: %d bytes, want %d", len(got), len(fits))
	}
	for _, tr := range []*lambdatest.Transport{
		{Source: lambdahttp.HTTPAPI, Host: lambdatest.APIDomain},
		{Source: lambdahttp.FunctionURL, Host: lambdatest.FunctionURLDomain},
		{Source: lambdahttp.ALB},
	} {
		o := &lambdahttp.Options{PublicHost: publicHost, BufferedFunctionURL: true}
		tr.Invoke = lambdatest.InProcess(lambdahttp.New(a.Handler, o))
		bc := newClient(a, tr, "https", true)
		_, err := bc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("limits"), Key: aws.String("fits")})
		if s3Code(err) != "ResponseTooLarge" {
			t.Fatalf("%v: buffered over-limit GET: want ResponseTooLarge, got %v", tr.Source, err)
		}
		// A range that fits is served.
		rg, err := bc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("limits"), Key: aws.String("fits"), Range: aws.String("bytes=0-99999")})
		if err != nil {
			t.Fatalf("%v: ranged GET: %v", tr.Source, err)
		}
		rb, _ := io.ReadAll(rg.Body)
		if !bytes.Equal(rb, fits[:100000]) {
			t.Fatalf("%v: ranged GET body", tr.Source)
		}
		// HEAD of the large object is fine: no body.
		if _, err := bc.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("limits"), Key: aws.String("fits")}); err != nil {
			t.Fatalf("%v: HEAD: %v", tr.Source, err)
		}
	}
	// A stream cap, when set, is honoured with the same error.
	capped := lambdatest.Transport{Source: lambdahttp.FunctionURL, Host: lambdatest.FunctionURLDomain, Stream: true}
	capped.Invoke = lambdatest.InProcess(lambdahttp.New(a.Handler, &lambdahttp.Options{PublicHost: publicHost, MaxStreamBody: 1 << 20}))
	_, err = newClient(a, &capped, "https", true).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("limits"), Key: aws.String("fits")})
	if s3Code(err) != "ResponseTooLarge" {
		t.Fatalf("capped stream: %v", err)
	}
}
