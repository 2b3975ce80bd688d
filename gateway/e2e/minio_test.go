package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

func newMinioClient(t *testing.T, s *server) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Addr, &minio.Options{
		Creds:        miniocreds.NewStaticV4(rootAccessKey, rootSecretKey, ""),
		Secure:       s.CAPool != nil,
		Transport:    s.Transport(),
		Region:       testRegion,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantMinioErr(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Errorf("want %s (%d), got success", code, status)
		return
	}
	er := minio.ToErrorResponse(err)
	if er.Code != code || er.StatusCode != status {
		t.Errorf("want %s (%d), got %q (%d): %v", code, status, er.Code, er.StatusCode, err)
	}
}

// TestMinioGo drives the server with minio-go v7.
func TestMinioGo(t *testing.T) {
	eachScheme(t, serverOpts{}, func(t *testing.T, s *server) {
		ctx := context.Background()
		c := newMinioClient(t, s)
		b := uniqueBucket("minio")
		mustOK(t, c.MakeBucket(ctx, b, minio.MakeBucketOptions{Region: testRegion}), "MakeBucket")
		ok, err := c.BucketExists(ctx, b)
		if err != nil || !ok {
			t.Fatalf("BucketExists = %v, %v", ok, err)
		}
		wantMinioErr(t, c.MakeBucket(ctx, b, minio.MakeBucketOptions{Region: testRegion}), "BucketAlreadyOwnedByYou", 409)

		// Small object with known size (signed streaming chunks over HTTP).
		small := []byte("hello from minio-go")
		info, err := c.PutObject(ctx, b, "small.txt", bytes.NewReader(small), int64(len(small)),
			minio.PutObjectOptions{ContentType: "text/plain", UserMetadata: map[string]string{"Origin": "minio"}})
		mustOK(t, err, "PutObject small")
		if `"`+info.ETag+`"` != etagOf(small) {
			t.Errorf("PutObject ETag %s, want %s", info.ETag, etagOf(small))
		}

		// Unknown size forces a streaming multipart upload.
		big := randomBytes(11 * mib)
		info, err = c.PutObject(ctx, b, "stream/big.bin", io.MultiReader(bytes.NewReader(big)), -1,
			minio.PutObjectOptions{PartSize: 5 * mib, ContentType: "application/octet-stream"})
		mustOK(t, err, "PutObject size -1")
		if !strings.HasSuffix(info.ETag, "-3") {
			t.Errorf("streamed upload ETag %q, want a 3-part multipart ETag", info.ETag)
		}
		if info.Size != int64(len(big)) {
			t.Errorf("streamed upload size %d, want %d", info.Size, len(big))
		}

		// FPutObject from a file.
		fileBody := randomBytes(300_000)
		fp := filepath.Join(t.TempDir(), "upload.dat")
		mustOK(t, os.WriteFile(fp, fileBody, 0o600), "write temp file")
		_, err = c.FPutObject(ctx, b, "files/upload.dat", fp, minio.PutObjectOptions{})
		mustOK(t, err, "FPutObject")

		for _, tc := range []struct {
			key  string
			want []byte
		}{{"small.txt", small}, {"stream/big.bin", big}, {"files/upload.dat", fileBody}} {
			obj, err := c.GetObject(ctx, b, tc.key, minio.GetObjectOptions{})
			mustOK(t, err, "GetObject "+tc.key)
			data, err := io.ReadAll(obj)
			obj.Close()
			if err != nil {
				t.Errorf("reading %s: %v", tc.key, err)
				continue
			}
			equalBytes(t, "minio GetObject "+tc.key, data, tc.want)
		}
		// Ranged read through minio's Object (ReadAt).
		obj, err := c.GetObject(ctx, b, "stream/big.bin", minio.GetObjectOptions{})
		mustOK(t, err, "GetObject for ReadAt")
		part := make([]byte, 1000)
		n, err := obj.ReadAt(part, 6*mib)
		obj.Close()
		if err != nil || n != 1000 || !bytes.Equal(part, big[6*mib:6*mib+1000]) {
			t.Errorf("ReadAt(6MiB): n=%d err=%v equal=%v", n, err, bytes.Equal(part, big[6*mib:6*mib+1000]))
		}

		st, err := c.StatObject(ctx, b, "small.txt", minio.StatObjectOptions{})
		mustOK(t, err, "StatObject")
		if st.Size != int64(len(small)) || st.ContentType != "text/plain" || st.UserMetadata["Origin"] != "minio" || `"`+st.ETag+`"` != etagOf(small) {
			t.Errorf("StatObject: size %d type %q meta %v etag %q", st.Size, st.ContentType, st.UserMetadata, st.ETag)
		}
		_, err = c.StatObject(ctx, b, "missing", minio.StatObjectOptions{})
		wantMinioErr(t, err, "NoSuchKey", 404)

		list := func(prefix string, recursive bool) []string {
			var keys []string
			for o := range c.ListObjects(ctx, b, minio.ListObjectsOptions{Prefix: prefix, Recursive: recursive}) {
				if o.Err != nil {
					t.Errorf("ListObjects: %v", o.Err)
					return keys
				}
				keys = append(keys, o.Key)
			}
			sort.Strings(keys) // minio-go yields a page's objects before its common prefixes
			return keys
		}
		if got, want := list("", true), []string{"files/upload.dat", "small.txt", "stream/big.bin"}; !slices.Equal(got, want) {
			t.Errorf("recursive list %q, want %q", got, want)
		}
		if got, want := list("", false), []string{"files/", "small.txt", "stream/"}; !slices.Equal(got, want) {
			t.Errorf("non-recursive list %q, want %q", got, want)
		}
		if got, want := list("stream/", false), []string{"stream/big.bin"}; !slices.Equal(got, want) {
			t.Errorf("list stream/ %q, want %q", got, want)
		}

		_, err = c.CopyObject(ctx, minio.CopyDestOptions{Bucket: b, Object: "copies/small copy.txt"}, minio.CopySrcOptions{Bucket: b, Object: "small.txt"})
		mustOK(t, err, "CopyObject")
		obj, err = c.GetObject(ctx, b, "copies/small copy.txt", minio.GetObjectOptions{})
		mustOK(t, err, "GetObject copy")
		data, err := io.ReadAll(obj)
		obj.Close()
		mustOK(t, err, "read copy")
		equalBytes(t, "minio copy", data, small)

		u, err := c.PresignedGetObject(ctx, b, "small.txt", 5*time.Minute, nil)
		mustOK(t, err, "PresignedGetObject")
		resp, err := s.HTTPClient().Get(u.String())
		mustOK(t, err, "GET presigned")
		data, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("minio presigned GET: %d %s", resp.StatusCode, data)
		} else {
			equalBytes(t, "minio presigned GET", data, small)
		}

		mustOK(t, c.RemoveObject(ctx, b, "small.txt", minio.RemoveObjectOptions{}), "RemoveObject")
		ch := make(chan minio.ObjectInfo, 8)
		for _, k := range []string{"stream/big.bin", "files/upload.dat", "copies/small copy.txt", "never-existed"} {
			ch <- minio.ObjectInfo{Key: k}
		}
		close(ch)
		for e := range c.RemoveObjects(ctx, b, ch, minio.RemoveObjectsOptions{}) {
			t.Errorf("RemoveObjects %q: %v", e.ObjectName, e.Err)
		}
		if left := list("", true); len(left) != 0 {
			t.Errorf("after RemoveObjects the bucket holds %q", left)
		}
		mustOK(t, c.RemoveBucket(ctx, b), "RemoveBucket")
		ok, err = c.BucketExists(ctx, b)
		if err != nil || ok {
			t.Errorf("BucketExists after RemoveBucket = %v, %v", ok, err)
		}
	})
}
