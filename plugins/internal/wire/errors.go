package wire

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudraya/raya/backends"
	pb "github.com/cloudraya/raya/plugins/proto/backendv1"
)

// kinds is the one table that maps the error vocabulary to the wire: each
// sentinel has a Kind (exact, travels as a status detail) and a gRPC code
// (coarse, for readers that ignore details).
var kinds = []struct {
	err  error
	kind pb.Kind
	code codes.Code
}{
	{backends.ErrBucketNotFound, pb.Kind_KIND_BUCKET_NOT_FOUND, codes.NotFound},
	{backends.ErrBucketExists, pb.Kind_KIND_BUCKET_EXISTS, codes.AlreadyExists},
	{backends.ErrBucketNotEmpty, pb.Kind_KIND_BUCKET_NOT_EMPTY, codes.FailedPrecondition},
	{backends.ErrNotFound, pb.Kind_KIND_NOT_FOUND, codes.NotFound},
	{backends.ErrUploadNotFound, pb.Kind_KIND_UPLOAD_NOT_FOUND, codes.NotFound},
	{backends.ErrPartNotFound, pb.Kind_KIND_PART_NOT_FOUND, codes.NotFound},
	{backends.ErrInvalidRange, pb.Kind_KIND_INVALID_RANGE, codes.OutOfRange},
	{backends.ErrInvalidKey, pb.Kind_KIND_INVALID_KEY, codes.InvalidArgument},
	{backends.ErrUnavailable, pb.Kind_KIND_UNAVAILABLE, codes.Unavailable},
	{context.Canceled, pb.Kind_KIND_CANCELED, codes.Canceled},
	{context.DeadlineExceeded, pb.Kind_KIND_DEADLINE_EXCEEDED, codes.DeadlineExceeded},
}

// Classify returns the Kind and gRPC code of err: the first vocabulary
// error it wraps, else (KIND_UNSPECIFIED, Internal).
func Classify(err error) (pb.Kind, codes.Code) {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.kind, k.code
		}
	}
	return pb.Kind_KIND_UNSPECIFIED, codes.Internal
}

func sentinel(kind pb.Kind) error {
	for _, k := range kinds {
		if k.kind == kind {
			return k.err
		}
	}
	return nil
}

// ToStatus turns an error of a backend into a gRPC status error carrying
// its Kind. An error that already is a status (for example from a stream
// whose peer went away) keeps its code. nil stays nil.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	kind, code := Classify(err)
	if kind == pb.Kind_KIND_UNSPECIFIED {
		var re *RemoteError
		if !errors.As(err, &re) {
			if s, ok := status.FromError(err); ok {
				return s.Err()
			}
		}
	}
	st := status.New(code, err.Error())
	if kind != pb.Kind_KIND_UNSPECIFIED {
		if d, derr := st.WithDetails(&pb.ErrorDetail{Kind: kind}); derr == nil {
			st = d
		}
	}
	return st.Err()
}

// RemoteError is an error that crossed the plugin boundary. Its text is the
// peer's; errors.Is matches the vocabulary error it carried.
type RemoteError struct {
	// Code is the gRPC code it travelled with.
	Code codes.Code
	// Kind is the vocabulary error (nil for an error outside it).
	Kind error
	// Msg is the peer's error text.
	Msg string
	// Transport is true when the status came from gRPC itself (the
	// connection broke), not from the peer's backend.
	Transport bool
}

func (e *RemoteError) Error() string { return e.Msg }

// Unwrap returns the vocabulary error.
func (e *RemoteError) Unwrap() error { return e.Kind }

// GRPCStatus lets the error travel on unchanged.
func (e *RemoteError) GRPCStatus() *status.Status {
	st := status.New(e.Code, e.Msg)
	if kind, _ := Classify(e.Kind); kind != pb.Kind_KIND_UNSPECIFIED {
		if d, err := st.WithDetails(&pb.ErrorDetail{Kind: kind}); err == nil {
			return d
		}
	}
	return st
}

// FromStatus turns a gRPC status error back into an error of the
// vocabulary. A status without an ErrorDetail was made by gRPC, not by a
// backend: Unavailable (connection lost) becomes ErrUnavailable, Canceled
// and DeadlineExceeded the context errors, anything else a plain error.
// Errors that are not statuses come back unchanged.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	re := &RemoteError{Code: st.Code(), Msg: st.Message()}
	for _, d := range st.Details() {
		if ed, ok := d.(*pb.ErrorDetail); ok {
			re.Kind = sentinel(ed.Kind)
		}
	}
	if re.Kind == nil {
		re.Transport = true
		switch st.Code() {
		case codes.Unavailable:
			re.Kind = backends.ErrUnavailable
			re.Msg = "plugin unavailable: " + re.Msg
		case codes.Canceled:
			re.Kind = context.Canceled
		case codes.DeadlineExceeded:
			re.Kind = context.DeadlineExceeded
		case codes.Unimplemented:
			re.Kind = errors.ErrUnsupported
		default:
			re.Transport = false
		}
	}
	return re
}

// ErrorToProto encodes err for a message (an aborting trailer).
func ErrorToProto(err error) *pb.Error {
	kind, _ := Classify(err)
	return &pb.Error{Kind: kind, Message: err.Error()}
}

// ErrorFromProto decodes an error sent inside a message.
func ErrorFromProto(e *pb.Error) error {
	if e == nil {
		return nil
	}
	_, code := Classify(sentinel(e.Kind))
	return &RemoteError{Code: code, Kind: sentinel(e.Kind), Msg: e.Message}
}
