// Package e2e is Raya's black-box end-to-end suite: it builds the raya
// binary, starts `raya serve` as a real process (plain HTTP and HTTPS with a
// self-signed certificate, path-style and virtual-hosted-style) and drives it
// with real clients — aws-sdk-go-v2 (default checksum behaviour, transfer
// manager, presign client), minio-go, the aws cli 1.x and boto3 — plus
// hand-made requests for what clients send that SDK tests do not reach
// (anonymous and malformed requests, 100-continue, aws-chunked bodies with
// trailing checksums, presigned URLs carrying checksums).
//
// The package holds only tests; nothing imports it. It runs as part of
// `go test ./...` and skips nothing: python3 with boto3 and the aws cli 1.x
// must be on PATH (`python3 -m pip install boto3 'awscli<2'`).
//
// Files:
//
//	harness_test.go    TestMain (builds raya once), startServer, certificates, CLI helper
//	sdkhelpers_test.go SDK client factory, request-ID audit transport, error assertions
//	sdk_test.go        aws-sdk-go-v2 scenarios
//	minio_test.go      minio-go scenarios
//	awscli_test.go     aws cli scenarios
//	boto3_test.go      runs testdata/boto3_e2e.py
//	rawhttp_test.go    hand-made HTTP requests
//	restart_test.go    state survives a restart on the same data folder
//	shutdown_test.go   SIGTERM finishes in-flight requests
//	keys_test.go       raya key disable/enable/rotate/revoke take effect
//	concurrency_test.go overwrites racing reads: objects are never torn
//
// Environment: RAYA_E2E_BIN=path tests a prebuilt binary instead of building
// one; RAYA_E2E_RACE=1 builds the server with the race detector.
package e2e
