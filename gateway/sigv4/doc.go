// Package sigv4 authenticates S3 requests: AWS Signature Version 4 in the
// Authorization header and in presigned query strings, the legacy Signature
// Version 2 (header and query) that aws-cli 1.x, boto3 and s3cmd still use for
// presigned URLs, and aws-chunked request bodies (signed chunks, signed and
// unsigned trailers).
//
// The gateway's HTTP handler calls [Verifier.Verify] once per request and then
// reads the payload only through [Result.Body]: that reader decodes aws-chunked
// framing and verifies payload hashes and chunk signatures while streaming, and
// reports a failure as a *[Error] from Read, never as a silent io.EOF. Callers
// that store the payload must therefore abort the write when Read fails.
//
// Everything is computed from what the client sent: the raw path
// (r.RequestURI or r.URL.EscapedPath), the raw query string and r.Host.
// A router or proxy adapter that rewrites any of those breaks verification.
//
// The signing side ([SignRequest], [Presign], [PresignV2],
// [SignV2Request], [SignChunked], [EncodeChunkedUnsigned]) exists for the admin client
// and for tests.
//
// This package imports only the standard library.
package sigv4
