package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// TestKeyLifecycle drives `raya key disable|enable|rotate|revoke` and checks
// the effect on S3 requests made with the key (one instance: at once).
func TestKeyLifecycle(t *testing.T) {
	s := startServer(t, serverOpts{})
	root, _ := newSDKClient(t, s, sdkClientOpts{})
	b := uniqueBucket("keys")
	createBucket(t, root, b)
	putBytes(t, root, b, "obj", []byte("data"))
	ctx := context.Background()

	use := func(k keyPair) error {
		c, _ := newSDKClient(t, s, sdkClientOpts{AccessKey: k.AccessKeyID, SecretKey: k.SecretAccessKey})
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("obj")})
		return err
	}
	// HEAD carries no error body: the status says it (403), and GetObject gives the code.
	refused := func(what string, k keyPair) {
		t.Helper()
		err := use(k)
		var re *awshttp.ResponseError
		if err == nil || !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
			t.Errorf("%s: HeadObject with key %s: %v, want 403", what, k.AccessKeyID, err)
			return
		}
		c, _ := newSDKClient(t, s, sdkClientOpts{AccessKey: k.AccessKeyID, SecretKey: k.SecretAccessKey})
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("obj")})
		var ae smithy.APIError
		if !errors.As(err, &ae) || (ae.ErrorCode() != "InvalidAccessKeyId" && ae.ErrorCode() != "AccessDenied") {
			t.Errorf("%s: GetObject with key %s: %v, want 403 InvalidAccessKeyId", what, k.AccessKeyID, err)
		}
	}

	k := s.CreateKey(t, b, "lifecycle")
	mustOK(t, use(k), "new key")
	list := string(s.CLI(t, "key", "list", "--bucket", b, "--json"))
	if !json.Valid([]byte(list)) || !strings.Contains(list, k.AccessKeyID) || !strings.Contains(list, "lifecycle") || strings.Contains(list, k.SecretAccessKey) {
		t.Errorf("raya key list --json: want the key and its label, never its secret: %s", list)
	}

	s.CLI(t, "key", "disable", k.AccessKeyID)
	refused("disabled key", k)
	s.CLI(t, "key", "enable", k.AccessKeyID)
	mustOK(t, use(k), "re-enabled key")

	var k2 keyPair
	out := s.CLI(t, "key", "rotate", k.AccessKeyID, "--grace", "0", "--json")
	if err := json.Unmarshal(out, &k2); err != nil || k2.AccessKeyID == "" || k2.SecretAccessKey == "" {
		t.Fatalf("raya key rotate --json printed %s (%v)", out, err)
	}
	mustOK(t, use(k2), "rotated key")
	refused("old key after rotate --grace 0", k)

	var k3 keyPair
	out = s.CLI(t, "key", "rotate", k2.AccessKeyID, "--grace", "1h", "--json")
	mustOK(t, json.Unmarshal(out, &k3), "rotate --json")
	mustOK(t, use(k3), "key rotated with grace")
	mustOK(t, use(k2), "old key within its grace period")

	s.CLI(t, "key", "revoke", k3.AccessKeyID)
	time.Sleep(50 * time.Millisecond)
	refused("revoked key", k3)
	mustOK(t, use(k2), "a revoked sibling does not affect the other key")
}
