package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strings"
)

// PostForm holds the authentication fields of an HTML form upload (S3
// presigned POST), with lower-case field names as keys.
type PostForm map[string]string

// VerifyPost checks the signature of a POST policy: SigV4 fields
// (x-amz-algorithm, x-amz-credential, x-amz-date, x-amz-signature) or SigV2
// fields (AWSAccessKeyId, signature), each signing the base64 policy as
// sent. It returns the signer's access key ID; the policy's expiration and
// conditions are the caller's to check. Signatures are compared in constant
// time.
func (v *Verifier) VerifyPost(ctx context.Context, f PostForm) (string, error) {
	policy := f["policy"]
	if policy == "" {
		return "", errorf(CodeInvalidArgument, "POST requires a policy field")
	}
	if sig := f["x-amz-signature"]; sig != "" || f["x-amz-algorithm"] != "" {
		if f["x-amz-algorithm"] != algorithm {
			return "", errorf(CodeInvalidArgument, "unsupported x-amz-algorithm %q", f["x-amz-algorithm"])
		}
		c, e := parseCredential(f["x-amz-credential"], CodeInvalidArgument)
		if e != nil {
			return "", e
		}
		secret, err := v.lookup(ctx, c.AccessKeyID)
		if err != nil {
			return "", err
		}
		want := PostPolicySignatureV4(secret, c.Date, c.Region, c.Service, policy)
		if !constantTimeEqual(strings.ToLower(sig), want) {
			return "", errorf(CodeSignatureDoesNotMatch, "the POST policy signature does not match")
		}
		return c.AccessKeyID, nil
	}
	ak, sig := f["awsaccesskeyid"], f["signature"]
	if ak == "" || sig == "" {
		return "", errorf(CodeInvalidArgument, "POST requires x-amz-signature or AWSAccessKeyId and signature fields with a policy")
	}
	secret, err := v.lookup(ctx, ak)
	if err != nil {
		return "", err
	}
	if !constantTimeEqual(sig, PostPolicySignatureV2(secret, policy)) {
		return "", errorf(CodeSignatureDoesNotMatch, "the POST policy signature does not match")
	}
	return ak, nil
}

// PostPolicySignatureV4 signs a base64 POST policy with SigV4.
func PostPolicySignatureV4(secret, date, region, service, policy string) string {
	return signHex(signingKey(secret, date, region, service), policy)
}

// PostPolicySignatureV2 signs a base64 POST policy with SigV2.
func PostPolicySignatureV2(secret, policy string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(policy))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}
