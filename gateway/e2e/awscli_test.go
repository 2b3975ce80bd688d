package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// awsCLI runs the aws cli (1.x) against s with the root key.
type awsCLI struct {
	t    *testing.T
	bin  string
	s    *server
	env  []string
	work string
}

func newAWSCLI(t *testing.T, bin string, s *server) *awsCLI {
	env := append(cleanAWSEnv(t),
		"AWS_ACCESS_KEY_ID="+rootAccessKey,
		"AWS_SECRET_ACCESS_KEY="+rootSecretKey,
		"AWS_DEFAULT_REGION="+testRegion,
		"AWS_MAX_ATTEMPTS=1",
		"AWS_PAGER=",
	)
	if s.CAFile != "" {
		env = append(env, "AWS_CA_BUNDLE="+s.CAFile)
	}
	return &awsCLI{t: t, bin: bin, s: s, env: env, work: t.TempDir()}
}

// run executes `aws --endpoint-url URL ARGS...` and returns stdout; failure is fatal.
func (a *awsCLI) run(args ...string) string {
	a.t.Helper()
	out, err := a.try(args...)
	if err != nil {
		a.t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (a *awsCLI) try(args ...string) (string, error) { return a.tryStdin(nil, args...) }

func (a *awsCLI) tryStdin(stdin io.Reader, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"--endpoint-url", a.s.URL}, args...)
	cmd := exec.CommandContext(ctx, a.bin, full...)
	cmd.Env = a.env
	cmd.Dir = a.work
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &cliError{err: err, stdout: stdout.String(), stderr: stderr.String()}
	}
	return stdout.String(), nil
}

type cliError struct {
	err            error
	stdout, stderr string
}

func (e *cliError) Error() string {
	return e.err.Error() + "\nstdout: " + e.stdout + "\nstderr: " + e.stderr
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	mustOK(t, os.MkdirAll(filepath.Dir(path), 0o755), "mkdir")
	mustOK(t, os.WriteFile(path, data, 0o644), "write "+path)
}

func fileSHA(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	mustOK(t, err, "read "+path)
	return sha256.Sum256(b)
}

// TestAWSCLI drives the server with aws-cli 1.x.
func TestAWSCLI(t *testing.T) {
	bin := requireTool(t, "aws", "--version")
	eachScheme(t, serverOpts{}, func(t *testing.T, s *server) {
		cli := newAWSCLI(t, bin, s)
		sdk, _ := newSDKClient(t, s, sdkClientOpts{})
		ctx := context.Background()
		b := uniqueBucket("awscli")
		w := cli.work

		out := cli.run("s3", "mb", "s3://"+b)
		if !strings.Contains(out, "make_bucket: "+b) {
			t.Errorf("s3 mb output %q", out)
		}
		if out := cli.run("s3", "ls"); !strings.Contains(out, " "+b+"\n") {
			t.Errorf("s3 ls does not list %s:\n%s", b, out)
		}

		small := randomBytes(3000)
		large := randomBytes(20 * mib)
		writeFile(t, filepath.Join(w, "small.txt"), small)
		writeFile(t, filepath.Join(w, "large.bin"), large)
		cli.run("s3", "cp", filepath.Join(w, "small.txt"), "s3://"+b+"/files/small.txt")
		cli.run("s3", "cp", filepath.Join(w, "large.bin"), "s3://"+b+"/files/large.bin")
		h, err := sdk.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("files/large.bin")})
		mustOK(t, err, "HeadObject large.bin")
		if aws.ToInt64(h.ContentLength) != 20*mib || !strings.HasSuffix(aws.ToString(h.ETag), `-3"`) {
			t.Errorf("large.bin: Content-Length %d ETag %s; want 20 MiB in 3 parts (8 MiB chunks)", aws.ToInt64(h.ContentLength), aws.ToString(h.ETag))
		}
		cli.run("s3", "cp", "s3://"+b+"/files/small.txt", filepath.Join(w, "down", "small.txt"))
		cli.run("s3", "cp", "s3://"+b+"/files/large.bin", filepath.Join(w, "down", "large.bin"))
		if fileSHA(t, filepath.Join(w, "down", "small.txt")) != sha256.Sum256(small) {
			t.Errorf("small.txt downloaded with different content")
		}
		if fileSHA(t, filepath.Join(w, "down", "large.bin")) != sha256.Sum256(large) {
			t.Errorf("large.bin downloaded with different content")
		}

		// Streaming from stdin (pg_dump | aws s3 cp - ...): unknown size, multipart.
		piped := randomBytes(10 * mib)
		if _, err := cli.tryStdin(bytes.NewReader(piped), "s3", "cp", "-", "s3://"+b+"/files/piped.bin"); err != nil {
			t.Errorf("aws s3 cp - (stdin): %v", err)
		} else {
			got, _ := getBytes(t, sdk, b, "files/piped.bin")
			if sha256.Sum256(got) != sha256.Sum256(piped) {
				t.Errorf("object streamed from stdin: %d bytes, content differs", len(got))
			}
			out, err := cli.tryStdin(nil, "s3", "cp", "s3://"+b+"/files/piped.bin", "-")
			if err != nil || sha256.Sum256([]byte(out)) != sha256.Sum256(piped) {
				t.Errorf("aws s3 cp to stdout: %d bytes, err %v", len(out), err)
			}
			_, err = sdk.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("files/piped.bin")})
			mustOK(t, err, "DeleteObject piped.bin")
		}

		tree := map[string][]byte{
			"a.txt":               []byte("alpha"),
			"sub/b.txt":           []byte("bravo"),
			"sub/deep/c.bin":      randomBytes(70_000),
			"with space/ü é.txt":  []byte("unicode"),
			"sub/empty":           {},
			"plus+and%percent.md": []byte("odd"),
		}
		for p, data := range tree {
			writeFile(t, filepath.Join(w, "tree", p), data)
		}
		cli.run("s3", "sync", filepath.Join(w, "tree"), "s3://"+b+"/tree/")
		cli.run("s3", "sync", "s3://"+b+"/tree/", filepath.Join(w, "tree-down"))
		for p, data := range tree {
			got, err := os.ReadFile(filepath.Join(w, "tree-down", p))
			if err != nil {
				t.Errorf("sync down: %v", err)
				continue
			}
			equalBytes(t, "sync round trip of "+p, got, data)
		}
		// A second sync uploads nothing. aws s3 sync re-uploads when the local
		// mtime is newer than LastModified, which S3 reports in whole seconds:
		// age the local files so only sizes and names decide.
		old := time.Now().Add(-time.Hour)
		for p := range tree {
			mustOK(t, os.Chtimes(filepath.Join(w, "tree", p), old, old), "chtimes")
		}
		if out := cli.run("s3", "sync", filepath.Join(w, "tree"), "s3://"+b+"/tree/"); strings.TrimSpace(out) != "" {
			t.Errorf("second s3 sync was not a no-op:\n%s", out)
		}

		ls := cli.run("s3", "ls", "s3://"+b, "--recursive")
		var listed []string
		for _, line := range strings.Split(strings.TrimSpace(ls), "\n") {
			f := strings.SplitN(strings.TrimSpace(line), " ", 2)
			if len(f) < 2 {
				continue
			}
			// "2024-01-01 12:00:00       1234 key with spaces"
			rest := strings.TrimSpace(f[1])
			rest = strings.TrimSpace(rest[strings.Index(rest, " "):])
			rest = strings.TrimSpace(rest[strings.Index(rest, " "):])
			listed = append(listed, rest)
		}
		var want []string
		for p := range tree {
			want = append(want, "tree/"+p)
		}
		want = append(want, "files/large.bin", "files/small.txt")
		sort.Strings(want)
		sort.Strings(listed)
		if !slices.Equal(listed, want) {
			t.Errorf("s3 ls --recursive:\n got  %q\n want %q\n%s", listed, want, ls)
		}

		// s3 presign (SigV2 by default in aws-cli 1.x) fetched with net/http.
		u := strings.TrimSpace(cli.run("s3", "presign", "s3://"+b+"/files/small.txt"))
		kind := "sigv4"
		if !strings.Contains(u, "X-Amz-Signature=") {
			kind = "sigv2"
		}
		resp, err := s.HTTPClient().Get(u)
		mustOK(t, err, "GET presigned "+u)
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("aws s3 presign (%s) URL %s: %d %s", kind, u, resp.StatusCode, data)
		} else {
			equalBytes(t, "aws s3 presign GET ("+kind+")", data, small)
		}
		t.Logf("aws s3 presign produced a %s URL", kind)

		// s3api.
		writeFile(t, filepath.Join(w, "api.json"), []byte(`{"k":1}`))
		var po struct{ ETag string }
		mustOK(t, json.Unmarshal([]byte(cli.run("s3api", "put-object", "--bucket", b, "--key", "api/doc.json",
			"--body", filepath.Join(w, "api.json"), "--content-type", "application/json", "--metadata", "owner=cli,purpose=e2e")), &po), "put-object JSON")
		if po.ETag != etagOf([]byte(`{"k":1}`)) {
			t.Errorf("s3api put-object ETag %q, want %s", po.ETag, etagOf([]byte(`{"k":1}`)))
		}
		var ho struct {
			ContentLength int64
			ContentType   string
			ETag          string
			Metadata      map[string]string
		}
		mustOK(t, json.Unmarshal([]byte(cli.run("s3api", "head-object", "--bucket", b, "--key", "api/doc.json")), &ho), "head-object JSON")
		if ho.ContentLength != 7 || ho.ContentType != "application/json" || ho.ETag != po.ETag ||
			ho.Metadata["owner"] != "cli" || ho.Metadata["purpose"] != "e2e" {
			t.Errorf("s3api head-object = %+v", ho)
		}
		if _, err := cli.try("s3api", "head-object", "--bucket", b, "--key", "api/missing"); err == nil ||
			!strings.Contains(err.(*cliError).stderr, "404") {
			t.Errorf("head-object of a missing key: %v", err)
		}
		var lo struct {
			Contents []struct {
				Key  string
				Size int64
			}
		}
		mustOK(t, json.Unmarshal([]byte(cli.run("s3api", "list-objects-v2", "--bucket", b, "--prefix", "tree/sub/")), &lo), "list-objects-v2 JSON")
		var lkeys []string
		for _, c := range lo.Contents {
			lkeys = append(lkeys, c.Key)
		}
		if want := []string{"tree/sub/b.txt", "tree/sub/deep/c.bin", "tree/sub/empty"}; !slices.Equal(lkeys, want) {
			t.Errorf("s3api list-objects-v2 --prefix tree/sub/: %q, want %q", lkeys, want)
		}

		// rb refuses a non-empty bucket, rm --recursive empties it.
		if _, err := cli.try("s3", "rb", "s3://"+b); err == nil || !strings.Contains(err.Error(), "BucketNotEmpty") {
			t.Errorf("s3 rb of a non-empty bucket: %v", err)
		}
		cli.run("s3", "rm", "s3://"+b, "--recursive")
		if left := listAll(t, sdk, b, ""); len(left) != 0 {
			t.Errorf("after s3 rm --recursive: %q", left)
		}
		cli.run("s3", "rb", "s3://"+b)
		_, err = sdk.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(b)})
		wantErr(t, err, "NotFound", 404)
	})
}
