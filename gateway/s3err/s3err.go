// Package s3err is the catalogue of S3 errors and their one renderer: every
// S3 error the gateway answers is an *Error written by Write as S3 XML with
// the right status and the request ID, and never with an internal detail.
//
// It imports only the standard library.
package s3err

import (
	"encoding/xml"
	"net/http"
	"strconv"
)

// Error is an S3 error: a code from the catalogue, its HTTP status and a
// message for the client. Extra elements (BucketName, Key, ...) may be added.
type Error struct {
	Code       string
	Message    string
	StatusCode int
	// Resource is rendered as <Resource>; BucketName and Key as their elements.
	Resource   string
	BucketName string
	Key        string
	// RetryAfter, when positive, is sent as a Retry-After header (seconds).
	RetryAfter int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is lets errors.Is match errors by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// With returns a copy of e with another message.
func (e *Error) With(msg string) *Error {
	c := *e
	c.Message = msg
	return &c
}

// WithStatus returns a copy of e with another HTTP status.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.StatusCode = status
	return &c
}

// WithBucket returns a copy of e naming a bucket.
func (e *Error) WithBucket(b string) *Error {
	c := *e
	c.BucketName = b
	return &c
}

// WithKey returns a copy of e naming an object key.
func (e *Error) WithKey(k string) *Error {
	c := *e
	c.Key = k
	return &c
}

func def(code string, status int, msg string) *Error {
	return &Error{Code: code, StatusCode: status, Message: msg}
}

// The catalogue.
var (
	AccessDenied                      = def("AccessDenied", 403, "Access Denied")
	AccountProblem                    = def("AccountProblem", 403, "There is a problem with your account that prevents the operation from completing successfully.")
	AuthorizationHeaderMalformed      = def("AuthorizationHeaderMalformed", 400, "The authorization header is malformed.")
	AuthorizationQueryParametersError = def("AuthorizationQueryParametersError", 400, "Error parsing the X-Amz-Credential parameter.")
	BadDigest                         = def("BadDigest", 400, "The Content-MD5 or checksum you specified did not match what we received.")
	BucketAlreadyExists               = def("BucketAlreadyExists", 409, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")
	BucketAlreadyOwnedByYou           = def("BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it.")
	BucketNotEmpty                    = def("BucketNotEmpty", 409, "The bucket you tried to delete is not empty.")
	EntityTooLarge                    = def("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size.")
	EntityTooSmall                    = def("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size.")
	ExpiredToken                      = def("ExpiredToken", 400, "The provided token has expired.")
	IncompleteBody                    = def("IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	InternalError                     = def("InternalError", 500, "We encountered an internal error. Please try again.")
	InvalidAccessKeyID                = def("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.")
	InvalidArgument                   = def("InvalidArgument", 400, "Invalid Argument")
	InvalidBucketName                 = def("InvalidBucketName", 400, "The specified bucket is not valid.")
	InvalidDigest                     = def("InvalidDigest", 400, "The Content-MD5 you specified is not valid.")
	InvalidLocationConstraint         = def("InvalidLocationConstraint", 400, "The specified location constraint is not valid.")
	InvalidPart                       = def("InvalidPart", 400, "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.")
	InvalidPartOrder                  = def("InvalidPartOrder", 400, "The list of parts was not in ascending order. The parts list must be specified in order by part number.")
	InvalidRange                      = def("InvalidRange", 416, "The requested range is not satisfiable")
	InvalidRequest                    = def("InvalidRequest", 400, "Invalid Request")
	KeyTooLongError                   = def("KeyTooLongError", 400, "Your key is too long")
	MalformedXML                      = def("MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema.")
	MethodNotAllowed                  = def("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
	MissingContentLength              = def("MissingContentLength", 411, "You must provide the Content-Length HTTP header.")
	MissingRequestBodyError           = def("MissingRequestBodyError", 400, "Request Body is empty.")
	MissingSecurityHeader             = def("MissingSecurityHeader", 400, "Your request is missing a required header.")
	NoSuchBucket                      = def("NoSuchBucket", 404, "The specified bucket does not exist")
	NoSuchBucketPolicy                = def("NoSuchBucketPolicy", 404, "The bucket policy does not exist")
	NoSuchKey                         = def("NoSuchKey", 404, "The specified key does not exist.")
	NoSuchUpload                      = def("NoSuchUpload", 404, "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.")
	NotImplemented                    = def("NotImplemented", 501, "A header or query you provided implies functionality that is not implemented.")
	NotModified                       = def("NotModified", 304, "Not Modified")
	PreconditionFailed                = def("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold")
	RequestTimeTooSkewed              = def("RequestTimeTooSkewed", 403, "The difference between the request time and the server's time is too large.")
	ServiceUnavailable                = def("ServiceUnavailable", 503, "Service is unable to handle request.")
	SignatureDoesNotMatch             = def("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	SlowDown                          = def("SlowDown", 503, "Please reduce your request rate.")
	XAmzContentSHA256Mismatch         = def("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	InvalidObjectName                 = def("InvalidObjectName", 400, "Object key is not valid.")
	NoSuchCORSConfiguration           = def("NoSuchCORSConfiguration", 404, "The CORS configuration does not exist")
	ConditionalRequestConflict        = def("ConditionalRequestConflict", 409, "A conflicting conditional operation is currently in progress against this resource. Please try again.")
	InvalidStorageClass               = def("InvalidStorageClass", 400, "The storage class you specified is not valid")
	UnexpectedContent                 = def("UnexpectedContent", 400, "This request does not support content")
	InvalidEncryptionAlgorithmError   = def("InvalidEncryptionAlgorithmError", 400, "The encryption request you specified is not valid.")
	InvalidURI                        = def("InvalidURI", 400, "Couldn't parse the specified URI.")
	InvalidPartNumber                 = def("InvalidPartNumber", 416, "The requested partnumber is not satisfiable")
	MalformedACLError                 = def("MalformedACLError", 400, "The XML you provided was not well-formed or did not validate against our published schema")
	MetadataTooLarge                  = def("MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size.")
	InvalidPolicyDocument             = def("InvalidPolicyDocument", 400, "The content of the form does not meet the conditions specified in the policy document.")
	MalformedPOSTRequest              = def("MalformedPOSTRequest", 400, "The body of your POST request is not well-formed multipart/form-data.")
	MaxPostPreDataLengthExceeded      = def("MaxPostPreDataLengthExceeded", 400, "Your POST request fields preceding the upload file were too large.")
	RequestTimeout                    = def("RequestTimeout", 400, "Your socket connection to the server was not read from or written to within the timeout period.")
)

var byCode = func() map[string]*Error {
	m := map[string]*Error{}
	for _, e := range []*Error{
		AccessDenied, AccountProblem, AuthorizationHeaderMalformed, AuthorizationQueryParametersError,
		BadDigest, BucketAlreadyExists, BucketAlreadyOwnedByYou, BucketNotEmpty, EntityTooLarge,
		EntityTooSmall, ExpiredToken, IncompleteBody, InternalError, InvalidAccessKeyID, InvalidArgument,
		InvalidBucketName, InvalidDigest, InvalidLocationConstraint, InvalidPart, InvalidPartOrder,
		InvalidRange, InvalidRequest, KeyTooLongError, MalformedXML, MethodNotAllowed, MissingContentLength,
		MissingRequestBodyError, MissingSecurityHeader, NoSuchBucket, NoSuchBucketPolicy, NoSuchKey,
		NoSuchUpload, NotImplemented, NotModified, PreconditionFailed, RequestTimeTooSkewed,
		ServiceUnavailable, SignatureDoesNotMatch, SlowDown, XAmzContentSHA256Mismatch, InvalidObjectName,
		NoSuchCORSConfiguration, ConditionalRequestConflict, InvalidStorageClass, UnexpectedContent,
		InvalidEncryptionAlgorithmError, RequestTimeout, InvalidURI, InvalidPartNumber, MalformedACLError, MetadataTooLarge, InvalidPolicyDocument, MalformedPOSTRequest, MaxPostPreDataLengthExceeded,
	} {
		m[e.Code] = e
	}
	return m
}()

// FromCode returns the catalogue error for code with the given message (the
// catalogue's message when msg is empty). Unknown codes become 400 errors.
func FromCode(code, msg string) *Error {
	e, ok := byCode[code]
	if !ok {
		e = &Error{Code: code, StatusCode: http.StatusBadRequest}
	}
	if msg == "" {
		return e
	}
	return e.With(msg)
}

type xmlError struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	Resource   string   `xml:"Resource,omitempty"`
	RequestID  string   `xml:"RequestId"`
	HostID     string   `xml:"HostId"`
}

// Write renders e as an S3 XML error response. HEAD requests and 304 get no
// body, as in S3.
func Write(w http.ResponseWriter, r *http.Request, e *Error, requestID string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Del("ETag")
	h.Del("Last-Modified")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.StatusCode == http.StatusNotModified || (r != nil && r.Method == http.MethodHead) {
		w.WriteHeader(e.StatusCode)
		return
	}
	body, _ := xml.Marshal(xmlError{
		Code: e.Code, Message: e.Message, BucketName: e.BucketName, Key: e.Key,
		Resource: e.Resource, RequestID: requestID, HostID: requestID,
	})
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(e.StatusCode)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}
