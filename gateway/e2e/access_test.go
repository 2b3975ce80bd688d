package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// curl runs curl against s (trusting its certificate) and returns stdout.
func curl(t *testing.T, s *server, args ...string) string {
	t.Helper()
	bin := requireTool(t, "curl")
	full := []string{"-sS"}
	if s.CAFile != "" {
		full = append(full, "--cacert", s.CAFile)
	}
	out, err := exec.Command(bin, append(full, args...)...).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// TestAccessWithRealTools checks ACLs, presigned POST and CORS the way
// people use them: curl, the aws cli, s3cmd and boto3.
func TestAccessWithRealTools(t *testing.T) {
	eachScheme(t, serverOpts{}, func(t *testing.T, s *server) {
		cli := newAWSCLI(t, requireTool(t, "aws", "--version"), s)
		bucket := uniqueBucket("access")
		cli.run("s3", "mb", "s3://"+bucket)
		src := filepath.Join(t.TempDir(), "photo.jpg")
		if err := os.WriteFile(src, []byte("jpeg bytes"), 0o600); err != nil {
			t.Fatal(err)
		}
		cli.run("s3", "cp", src, "s3://"+bucket+"/public.jpg", "--acl", "public-read")
		cli.run("s3", "cp", src, "s3://"+bucket+"/private.jpg")

		// Anonymous curl: public-read 200, private 403 with AccessDenied XML.
		if got := curl(t, s, "-o", "/dev/null", "-w", "%{http_code}", s.URL+"/"+bucket+"/public.jpg"); got != "200" {
			t.Errorf("anonymous GET public-read: %s", got)
		}
		body := curl(t, s, "-w", "\n%{http_code}", s.URL+"/"+bucket+"/private.jpg")
		if !strings.HasSuffix(body, "\n403") || !strings.Contains(body, "<Code>AccessDenied</Code>") || !strings.Contains(body, "<RequestId>") {
			t.Errorf("anonymous GET private: %s", body)
		}

		// aws cli put-object-acl / get-object-acl round trip.
		cli.run("s3api", "put-object-acl", "--bucket", bucket, "--key", "private.jpg", "--acl", "public-read")
		var acl struct {
			Grants []struct {
				Grantee    struct{ Type, URI, ID string }
				Permission string
			}
		}
		if err := json.Unmarshal([]byte(cli.run("s3api", "get-object-acl", "--bucket", bucket, "--key", "private.jpg")), &acl); err != nil {
			t.Fatal(err)
		}
		public := false
		for _, g := range acl.Grants {
			public = public || (g.Grantee.URI == "http://acs.amazonaws.com/groups/global/AllUsers" && g.Permission == "READ")
		}
		if !public {
			t.Errorf("get-object-acl after public-read: %+v", acl)
		}
		if got := curl(t, s, "-o", "/dev/null", "-w", "%{http_code}", s.URL+"/"+bucket+"/private.jpg"); got != "200" {
			t.Errorf("anonymous GET after put-object-acl public-read: %s", got)
		}
		cli.run("s3api", "put-object-acl", "--bucket", bucket, "--key", "private.jpg", "--acl", "private")
		if got := curl(t, s, "-o", "/dev/null", "-w", "%{http_code}", s.URL+"/"+bucket+"/private.jpg"); got != "403" {
			t.Errorf("anonymous GET after put-object-acl private: %s", got)
		}

		// s3cmd setacl --acl-public / --acl-private.
		s3cmd := requireTool(t, "s3cmd", "--version")
		cfg := filepath.Join(t.TempDir(), "s3cfg")
		host := strings.TrimPrefix(strings.TrimPrefix(s.URL, "https://"), "http://")
		conf := "[default]\naccess_key = " + rootAccessKey + "\nsecret_key = " + rootSecretKey +
			"\nhost_base = " + host + "\nhost_bucket = " + host + "\nuse_https = " + boolStr(s.CAFile != "") +
			"\nsignature_v2 = False\ncheck_ssl_certificate = False\n"
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		s3cmdRun := func(args ...string) {
			t.Helper()
			if out, err := exec.Command(s3cmd, append([]string{"-c", cfg}, args...)...).CombinedOutput(); err != nil {
				t.Fatalf("s3cmd %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		s3cmdRun("setacl", "--acl-public", "s3://"+bucket+"/private.jpg")
		if got := curl(t, s, "-o", "/dev/null", "-w", "%{http_code}", s.URL+"/"+bucket+"/private.jpg"); got != "200" {
			t.Errorf("anonymous GET after s3cmd setacl --acl-public: %s", got)
		}
		s3cmdRun("setacl", "--acl-private", "s3://"+bucket+"/private.jpg")
		if got := curl(t, s, "-o", "/dev/null", "-w", "%{http_code}", s.URL+"/"+bucket+"/private.jpg"); got != "403" {
			t.Errorf("anonymous GET after s3cmd setacl --acl-private: %s", got)
		}

		// A presigned POST made by boto3 (SigV2 fields by default, and SigV4),
		// uploaded with curl -F.
		for _, sv := range []string{"", "s3v4"} {
			fields := boto3PresignedPost(t, s, bucket, "forms/${filename}", sv)
			args := []string{"-o", "/dev/null", "-w", "%{http_code}"}
			for k, v := range fields {
				args = append(args, "-F", k+"="+v)
			}
			args = append(args, "-F", "file=@"+src, s.URL+"/"+bucket)
			if got := curl(t, s, args...); got != "204" {
				t.Errorf("curl -F presigned POST (%q): status %s", sv, got)
			}
		}
		if got := cli.run("s3api", "head-object", "--bucket", bucket, "--key", "forms/photo.jpg"); !strings.Contains(got, `"ContentLength": 10`) {
			t.Errorf("object uploaded by POST: %s", got)
		}

		// CORS: put the configuration with the aws cli, preflight with curl.
		corsFile := filepath.Join(t.TempDir(), "cors.json")
		os.WriteFile(corsFile, []byte(`{"CORSRules":[{"AllowedOrigins":["https://app.example"],"AllowedMethods":["PUT","GET"],"AllowedHeaders":["*"],"MaxAgeSeconds":600}]}`), 0o600)
		cli.run("s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration", "file://"+corsFile)
		hdrs := curl(t, s, "-i", "-X", "OPTIONS", "-H", "Origin: https://app.example", "-H", "Access-Control-Request-Method: PUT",
			"-H", "Access-Control-Request-Headers: content-type", s.URL+"/"+bucket+"/upload.bin")
		if !strings.HasPrefix(hdrs, "HTTP/1.1 200") || !strings.Contains(hdrs, "Access-Control-Allow-Origin: https://app.example") ||
			!strings.Contains(hdrs, "Access-Control-Max-Age: 600") {
			t.Errorf("CORS preflight: %s", hdrs)
		}
		denied := curl(t, s, "-o", "/dev/null", "-w", "%{http_code}", "-X", "OPTIONS", "-H", "Origin: https://evil.example",
			"-H", "Access-Control-Request-Method: PUT", s.URL+"/"+bucket+"/upload.bin")
		if denied != "403" {
			t.Errorf("CORS preflight from another origin: %s", denied)
		}

		// Policies are not how access works here, and the error says so.
		if _, err := cli.try("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", `{"Version":"2012-10-17","Statement":[]}`); err == nil ||
			!strings.Contains(err.Error(), "ACLs") {
			t.Errorf("put-bucket-policy: %v", err)
		}
	})
}

func boolStr(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// boto3PresignedPost asks boto3 for presigned POST fields.
func boto3PresignedPost(t *testing.T, s *server, bucket, key, sigVersion string) map[string]string {
	t.Helper()
	py := requireTool(t, "python3", "-c", "import boto3")
	script := `
import boto3, json, sys
from botocore.config import Config
cfg = Config(signature_version=sys.argv[3]) if sys.argv[3] else None
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[4], aws_secret_access_key=sys.argv[5],
                 region_name="us-east-1", config=cfg, verify=sys.argv[6] or None)
p = c.generate_presigned_post(sys.argv[2], sys.argv[7], Conditions=[["content-length-range", 1, 1048576]], ExpiresIn=600)
print(json.dumps(p["fields"]))
`
	cmd := exec.Command(py, "-c", script, s.URL, bucket, sigVersion, rootAccessKey, rootSecretKey, s.CAFile, key)
	cmd.Env = cleanAWSEnv(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("boto3 generate_presigned_post: %v", err)
	}
	var fields map[string]string
	if err := json.Unmarshal(out, &fields); err != nil {
		t.Fatalf("boto3 output %q: %v", out, err)
	}
	return fields
}
