package sigv4

import (
	"errors"
	"fmt"
)

// Error is an authentication failure carrying the S3 error code, e.g.
// AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId,
// RequestTimeTooSkewed, AuthorizationHeaderMalformed,
// AuthorizationQueryParametersError, XAmzContentSHA256Mismatch,
// IncompleteBody, InvalidArgument, InvalidRequest, MissingContentLength.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "sigv4: " + e.Code + ": " + e.Message }

// ErrUnknownKey is returned by a Lookup for an access key that does not exist
// (Verify turns it into InvalidAccessKeyId).
var ErrUnknownKey = errors.New("sigv4: unknown access key")

// S3 error codes produced by this package.
const (
	CodeAccessDenied                      = "AccessDenied"
	CodeSignatureDoesNotMatch             = "SignatureDoesNotMatch"
	CodeInvalidAccessKeyID                = "InvalidAccessKeyId"
	CodeRequestTimeTooSkewed              = "RequestTimeTooSkewed"
	CodeAuthorizationHeaderMalformed      = "AuthorizationHeaderMalformed"
	CodeAuthorizationQueryParametersError = "AuthorizationQueryParametersError"
	CodeXAmzContentSHA256Mismatch         = "XAmzContentSHA256Mismatch"
	CodeIncompleteBody                    = "IncompleteBody"
	CodeInvalidArgument                   = "InvalidArgument"
	CodeInvalidRequest                    = "InvalidRequest"
	CodeMissingSecurityHeader             = "MissingSecurityHeader"
)

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
