package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestRestart stops the server and starts it again on the same data folder:
// buckets, keys, objects and in-progress uploads survive.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir() + "/data"
	s1 := startServer(t, serverOpts{DataDir: dataDir})
	root, _ := newSDKClient(t, s1, sdkClientOpts{})
	b, other := uniqueBucket("restart"), uniqueBucket("restart-other")
	createBucket(t, root, b)
	createBucket(t, root, other)
	body := randomBytes(200_000)
	_, err := root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String("keep/ü obj"), Body: bytes.NewReader(body),
		ContentType: aws.String("image/png"), Metadata: map[string]string{"survives": "restart"}})
	mustOK(t, err, "PutObject")
	key := s1.CreateKey(t, b, "restart-app")
	mp, err := root.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("pending")})
	mustOK(t, err, "CreateMultipartUpload")
	part1 := randomBytes(5 * mib)
	up, err := root.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("pending"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(part1)})
	mustOK(t, err, "UploadPart")

	s1.Stop()
	if t.Failed() {
		t.Logf("first server output:\n%s", s1.Output())
	}
	s2 := startServer(t, serverOpts{DataDir: dataDir})
	root, _ = newSDKClient(t, s2, sdkClientOpts{})

	lb, err := root.ListBuckets(ctx, &s3.ListBucketsInput{})
	mustOK(t, err, "ListBuckets after restart")
	var names []string
	for _, x := range lb.Buckets {
		names = append(names, aws.ToString(x.Name))
	}
	if !slices.Contains(names, b) || !slices.Contains(names, other) {
		t.Errorf("after restart ListBuckets = %q, want %s and %s", names, b, other)
	}
	data, o := getBytes(t, root, b, "keep/ü obj")
	equalBytes(t, "object after restart", data, body)
	if aws.ToString(o.ContentType) != "image/png" || !reflect.DeepEqual(o.Metadata, map[string]string{"survives": "restart"}) || aws.ToString(o.ETag) != etagOf(body) {
		t.Errorf("after restart: Content-Type %q Metadata %v ETag %s", aws.ToString(o.ContentType), o.Metadata, aws.ToString(o.ETag))
	}

	scoped, _ := newSDKClient(t, s2, sdkClientOpts{AccessKey: key.AccessKeyID, SecretKey: key.SecretAccessKey})
	data, _ = getBytes(t, scoped, b, "keep/ü obj")
	equalBytes(t, "object through the scoped key after restart", data, body)
	_, err = scoped.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(other)})
	wantErr(t, err, "AccessDenied", 403)

	if out := s2.CLI(t, "bucket", "list", "--json"); !json.Valid(out) || !strings.Contains(string(out), `"`+b+`"`) {
		t.Errorf("raya bucket list --json after restart does not show %s: %s", b, out)
	}
	if out := s2.CLI(t, "key", "list", "--bucket", b, "--json"); !json.Valid(out) || !strings.Contains(string(out), key.AccessKeyID) {
		t.Errorf("raya key list --json after restart does not show %s: %s", key.AccessKeyID, out)
	} else if strings.Contains(string(out), key.SecretAccessKey) {
		t.Errorf("raya key list prints secret keys: %s", out)
	}

	// The in-progress upload continues on the new process.
	lp, err := root.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(b), Key: aws.String("pending"), UploadId: mp.UploadId})
	mustOK(t, err, "ListParts after restart")
	if len(lp.Parts) != 1 || aws.ToString(lp.Parts[0].ETag) != etagOf(part1) {
		t.Errorf("ListParts after restart: %+v", lp.Parts)
	}
	part2 := []byte("tail")
	up2, err := root.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(b), Key: aws.String("pending"), UploadId: mp.UploadId, PartNumber: aws.Int32(2), Body: bytes.NewReader(part2)})
	mustOK(t, err, "UploadPart after restart")
	_, err = root.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(b), Key: aws.String("pending"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{ETag: up.ETag, PartNumber: aws.Int32(1)}, {ETag: up2.ETag, PartNumber: aws.Int32(2)},
		}}})
	mustOK(t, err, "CompleteMultipartUpload after restart")
	data, _ = getBytes(t, root, b, "pending")
	equalBytes(t, "upload completed after restart", data, append(part1, part2...))
}
