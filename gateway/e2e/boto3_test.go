package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBoto3 runs testdata/boto3_e2e.py against the server.
func TestBoto3(t *testing.T) {
	py := requireTool(t, "python3", "-c", "import boto3, botocore")
	eachScheme(t, serverOpts{}, func(t *testing.T, s *server) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, py, "testdata/boto3_e2e.py")
		cmd.Env = append(cleanAWSEnv(t),
			"RAYA_E2E_ENDPOINT="+s.URL,
			"RAYA_E2E_ACCESS_KEY="+rootAccessKey,
			"RAYA_E2E_SECRET_KEY="+rootSecretKey,
			"RAYA_E2E_CA="+s.CAFile,
			"RAYA_E2E_BUCKET="+uniqueBucket("boto3"),
			"RAYA_E2E_WORKDIR="+t.TempDir(),
		)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		t.Logf("boto3 output:\n%s", stdout.String())
		if err != nil {
			t.Errorf("boto3 scenario failed: %v\n%s", err, stderr.String())
		}
		for _, step := range []string{
			"create_bucket", "put_object_get_object", "get_object_range", "errors", "refused_uploads", "empty_upload_then_upload",
			"upload_file_download_file_multipart", "presigned_get_default", "presigned_get_s3v4",
			"presigned_put_default", "presigned_put_s3v4", "delete_objects", "delete_bucket",
		} {
			if !strings.Contains(stdout.String(), "PASS "+step) {
				t.Errorf("boto3 step %s did not pass", step)
			}
		}
	})
}

// cleanAWSEnv returns the environment without AWS_* variables, with the AWS
// config files pointing into an empty temp folder (HOME stays: pyenv shims need it).
func cleanAWSEnv(t *testing.T) []string {
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "BOTO_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"AWS_CONFIG_FILE="+home+"/no-config",
		"AWS_SHARED_CREDENTIALS_FILE="+home+"/no-credentials",
		"AWS_EC2_METADATA_DISABLED=true",
		"PYTHONDONTWRITEBYTECODE=1",
	)
}
