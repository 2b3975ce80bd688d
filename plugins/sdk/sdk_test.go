package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/plugins/internal/wire"
	pb "github.com/cloudraya/raya/plugins/proto/backendv1"
	"github.com/cloudraya/raya/plugins/sdk"
)

// fake is a backend whose calls return err; PutObject reads its reader to
// the end first and reports what it read in readErr.
type fake struct {
	backends.Backend
	err     error
	readErr chan error
}

func (f *fake) HeadObject(ctx context.Context, bucket, key string) (*backends.ObjectInfo, error) {
	return nil, f.err
}

func (f *fake) PutObject(ctx context.Context, bucket, key string, r io.Reader, opts *backends.PutOptions) (*backends.ObjectInfo, error) {
	_, err := io.Copy(io.Discard, r)
	f.readErr <- err
	if err != nil {
		return nil, err
	}
	md, err := opts.Finish()
	if err != nil {
		return nil, err
	}
	return &backends.ObjectInfo{Key: key, Metadata: md}, nil
}

func (f *fake) Close() error { return nil }

// serve runs the SDK's gRPC service for be on a unix socket and returns a
// configured client.
func serve(t *testing.T, be backends.Backend) pb.BackendClient {
	t.Helper()
	lis, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(sdk.ServerOptions()...)
	pb.RegisterBackendServer(srv, sdk.NewServer(func(context.Context, map[string]string) (backends.Backend, error) { return be, nil }, nil))
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("unix://"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := pb.NewBackendClient(conn)
	if _, err := c.Configure(context.Background(), &pb.ConfigureRequest{}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorsCrossTheBoundary(t *testing.T) {
	vocabulary := []error{
		backends.ErrBucketNotFound, backends.ErrBucketExists, backends.ErrBucketNotEmpty,
		backends.ErrNotFound, backends.ErrUploadNotFound, backends.ErrPartNotFound,
		backends.ErrInvalidRange, backends.ErrInvalidKey, backends.ErrUnavailable,
		context.Canceled, context.DeadlineExceeded,
	}
	f := &fake{}
	c := serve(t, f)
	for _, want := range vocabulary {
		f.err = fmt.Errorf("somewhere deep: %w", want)
		_, err := c.HeadObject(context.Background(), &pb.HeadObjectRequest{Bucket: "b", Key: "k"})
		got := wire.FromStatus(err)
		if !errors.Is(got, want) {
			t.Errorf("%v came back as %v", want, got)
		}
		for _, other := range vocabulary {
			if other != want && errors.Is(got, other) {
				t.Errorf("%v came back also matching %v", want, other)
			}
		}
		if got.Error() != f.err.Error() {
			t.Errorf("message %q came back as %q", f.err, got)
		}
		// And back again: the host side re-encodes the same status.
		if again := wire.FromStatus(wire.ToStatus(got)); !errors.Is(again, want) {
			t.Errorf("%v re-encoded came back as %v", want, again)
		}
	}
	// An error outside the vocabulary keeps its text and matches nothing.
	f.err = errors.New("disk on fire")
	_, err := c.HeadObject(context.Background(), &pb.HeadObjectRequest{Bucket: "b", Key: "k"})
	if status.Code(err) != codes.Internal {
		t.Errorf("unknown error travelled as %v", status.Code(err))
	}
	got := wire.FromStatus(err)
	for _, v := range vocabulary {
		if errors.Is(got, v) {
			t.Errorf("unknown error came back matching %v", v)
		}
	}
	if got.Error() != "disk on fire" {
		t.Errorf("unknown error came back as %q", got)
	}
	// A lost connection (a status gRPC made, no detail) is ErrUnavailable.
	if err := wire.FromStatus(status.Error(codes.Unavailable, "connection reset")); !errors.Is(err, backends.ErrUnavailable) {
		t.Errorf("transport Unavailable came back as %v", err)
	}
}

func putStream(t *testing.T, c pb.BackendClient, msgs ...*pb.PutObjectRequest) (*pb.PutObjectResponse, error) {
	t.Helper()
	s, err := c.PutObject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := s.Send(m); err != nil {
			break
		}
	}
	return s.CloseAndRecv()
}

func header() *pb.PutObjectRequest {
	return &pb.PutObjectRequest{Header: &pb.PutObjectHeader{Bucket: "b", Key: "k", Size: -1}}
}

func chunk(s string) *pb.PutObjectRequest {
	return &pb.PutObjectRequest{Chunk: []byte(s)}
}

func TestUploadNeedsItsTrailer(t *testing.T) {
	f := &fake{readErr: make(chan error, 1)}
	c := serve(t, f)

	// A good trailer: the backend reads to EOF and Finish returns the
	// trailer's metadata.
	resp, err := putStream(t, c, header(), chunk("abc"), &pb.PutObjectRequest{Trailer: &pb.Trailer{Metadata: &pb.Metadata{Etag: "e"}}})
	if err != nil || resp.Info.Metadata.GetEtag() != "e" {
		t.Fatalf("good upload: %v, %v", resp, err)
	}
	if err := <-f.readErr; err != nil {
		t.Errorf("good upload: reader error %v", err)
	}

	// All in one message.
	one := &pb.PutObjectRequest{Header: header().Header, Chunk: []byte("abc"), Trailer: &pb.Trailer{Metadata: &pb.Metadata{Etag: "one"}}}
	resp, err = putStream(t, c, one)
	if err != nil || resp.Info.Metadata.GetEtag() != "one" {
		t.Fatalf("one-message upload: %v, %v", resp, err)
	}
	if err := <-f.readErr; err != nil {
		t.Errorf("one-message upload: reader error %v", err)
	}

	// No trailer: the backend's reader fails, so it must not commit.
	_, err = putStream(t, c, header(), chunk("abc"))
	if err == nil {
		t.Error("upload without a trailer succeeded")
	}
	if rerr := <-f.readErr; !errors.Is(rerr, io.ErrUnexpectedEOF) {
		t.Errorf("upload without a trailer: reader error %v, want ErrUnexpectedEOF", rerr)
	}

	// An aborting trailer carries the host's error into the plugin.
	abort := &pb.PutObjectRequest{Trailer: &pb.Trailer{Abort: wire.ErrorToProto(fmt.Errorf("client gone: %w", context.Canceled))}}
	_, err = putStream(t, c, header(), chunk("abc"), abort)
	if rerr := <-f.readErr; !errors.Is(rerr, context.Canceled) || !strings.Contains(rerr.Error(), "client gone") {
		t.Errorf("aborted upload: reader error %v, want the host's error", rerr)
	}
	if !errors.Is(wire.FromStatus(err), context.Canceled) {
		t.Errorf("aborted upload: %v", err)
	}

	// A stream must start with its header.
	if _, err := putStream(t, c, chunk("abc")); status.Code(err) != codes.InvalidArgument {
		t.Errorf("headerless upload: %v, want InvalidArgument", err)
	}
}

func TestNotConfigured(t *testing.T) {
	lis, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterBackendServer(srv, sdk.NewServer(func(context.Context, map[string]string) (backends.Backend, error) {
		return nil, errors.New("bad config")
	}, nil))
	go srv.Serve(lis)
	defer srv.Stop()
	conn, err := grpc.NewClient("unix://"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := pb.NewBackendClient(conn)
	if _, err := c.HeadObject(context.Background(), &pb.HeadObjectRequest{}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("call before Configure: %v", err)
	}
	if _, err := c.Configure(context.Background(), &pb.ConfigureRequest{}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "bad config") {
		t.Errorf("refused configuration: %v", err)
	}
}

func TestDescribeMode(t *testing.T) {
	var out bytes.Buffer
	err := sdk.Serve(func(context.Context, map[string]string) (backends.Backend, error) { return nil, nil },
		&sdk.ServeOptions{Name: "x", Version: "1.2.3", Capabilities: []string{sdk.CapCopy}, Args: []string{"describe"}, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	var d sdk.Description
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatalf("%v: %s", err, out.Bytes())
	}
	if d.Name != "x" || d.Version != "1.2.3" || len(d.ProtocolVersions) != 1 || d.ProtocolVersions[0] != 1 || d.Capabilities[0] != "copy" {
		t.Errorf("description = %+v", d)
	}
}

func TestServeRefusesToRunByHand(t *testing.T) {
	err := sdk.Serve(func(context.Context, map[string]string) (backends.Backend, error) { return nil, nil }, &sdk.ServeOptions{Args: []string{}})
	if !errors.Is(err, sdk.ErrNotLaunchedByHost) {
		t.Errorf("Serve without the host: %v", err)
	}
}

// TestImportGraph keeps plugin authors' dependencies small: the SDK (and
// the example plugin) never pull in the gateway, Redis or Lambda; nor does
// the host, which the gateway imports.
func TestImportGraph(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	for _, pkg := range []string{"github.com/cloudraya/raya/plugins/sdk", "github.com/cloudraya/raya/plugins/example", "github.com/cloudraya/raya/plugins/host"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			switch {
			case strings.HasPrefix(dep, "github.com/cloudraya/raya/gateway"),
				strings.HasPrefix(dep, "github.com/cloudraya/raya/functions"),
				strings.Contains(dep, "redis"),
				strings.Contains(dep, "aws-lambda"),
				strings.HasPrefix(dep, "github.com/aws/"),
				strings.Contains(dep, "bbolt"):
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
