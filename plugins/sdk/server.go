package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/plugins/internal/wire"
	pb "github.com/cloudraya/raya/plugins/proto/backendv1"
)

// GRPCPlugin is the go-plugin Plugin of the backend service: the plugin side
// registers the server, the host side gets a backendv1.BackendClient. The
// zero value is the host side.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *server
}

// Interface guards.
var (
	_ plugin.GRPCPlugin = (*GRPCPlugin)(nil)
	_ pb.BackendServer  = (*server)(nil)
)

// GRPCServer registers the backend service (plugin side).
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.server == nil {
		return errors.New("sdk: GRPCPlugin has no server; use Serve")
	}
	pb.RegisterBackendServer(s, p.server)
	return nil
}

// GRPCClient returns a pb.BackendClient (host side).
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewBackendClient(c), nil
}

// NewServer returns the gRPC service that serves the backend built by
// factory. Serve uses it; it is exported for tests that run a backend over
// gRPC without a process.
func NewServer(factory Factory, opts *ServeOptions) pb.BackendServer {
	var o ServeOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return newServer(factory, &o)
}

// server adapts a backends.Backend to the backendv1 service.
type server struct {
	pb.UnimplementedBackendServer
	factory Factory
	opts    *ServeOptions

	bufs sync.Pool // *[]byte of chunk size, for GetObject

	mu     sync.RWMutex
	be     backends.Backend
	caps   []string
	chunk  int
	closed bool
}

func newServer(factory Factory, opts *ServeOptions) *server {
	return &server{factory: factory, opts: opts, chunk: wire.DefaultChunkSize}
}

// buffer returns a pooled buffer of size bytes.
func (s *server) buffer(size int) *[]byte {
	if bp, ok := s.bufs.Get().(*[]byte); ok && len(*bp) == size {
		return bp
	}
	b := make([]byte, size)
	return &b
}

func (s *server) backend() (backends.Backend, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, status.Error(codes.Unavailable, "sdk: backend closed")
	}
	if s.be == nil {
		return nil, status.Error(codes.FailedPrecondition, "sdk: backend not configured")
	}
	return s.be, nil
}

func (s *server) closeBackend() error {
	s.mu.Lock()
	be := s.be
	s.be = nil
	s.closed = true
	s.mu.Unlock()
	if be == nil {
		return nil
	}
	return be.Close()
}

func (s *server) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, status.Error(codes.FailedPrecondition, "sdk: backend closed")
	}
	if s.be != nil {
		return nil, status.Error(codes.FailedPrecondition, "sdk: backend already configured")
	}
	be, err := s.factory(ctx, req.Config)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, fmt.Sprintf("configuring %s: %v", s.opts.Name, err))
	}
	if be == nil {
		return nil, status.Error(codes.Internal, "sdk: factory returned a nil backend")
	}
	_, copier := be.(backends.Copier)
	var caps []string
	if s.opts.Capabilities == nil {
		if copier {
			caps = []string{CapCopy}
		}
	} else {
		for _, c := range s.opts.Capabilities {
			if c == CapCopy && !copier {
				s.opts.Logger.Warn("capability declared but not implemented by the backend", "capability", c)
				continue
			}
			caps = append(caps, c)
		}
	}
	if n := int(req.ChunkSize); n > 0 {
		s.chunk = min(n, wire.MaxChunkSize)
	}
	s.be, s.caps = be, caps
	return &pb.ConfigureResponse{Capabilities: caps, Name: s.opts.Name, Version: s.opts.Version}, nil
}

func (s *server) Close(context.Context, *pb.CloseRequest) (*pb.CloseResponse, error) {
	if err := s.closeBackend(); err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.CloseResponse{}, nil
}

func (s *server) CreateBucket(ctx context.Context, req *pb.CreateBucketRequest) (*pb.CreateBucketResponse, error) {
	be, err := s.backend()
	if err != nil {
		return nil, err
	}
	if err := be.CreateBucket(ctx, req.Bucket); err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.CreateBucketResponse{}, nil
}

func (s *server) DeleteBucket(ctx context.Context, req *pb.DeleteBucketRequest) (*pb.DeleteBucketResponse, error) {
	be, err := s.backend()
	if err != nil {
		return nil, err
	}
	if err := be.DeleteBucket(ctx, req.Bucket); err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.DeleteBucketResponse{}, nil
}

// chunkReader reads the chunks of an upload stream until its trailer. It
// returns io.EOF only after a trailer without abort, so a backend never
// commits an upload the host did not finish.
type chunkReader struct {
	// next receives the next message's chunk and trailer.
	next    func() (chunk []byte, tr *pb.Trailer, err error)
	buf     []byte
	pending *pb.Trailer // a trailer that came with the chunk in buf
	trailer *pb.Trailer
	err     error
}

// take accepts the chunk and trailer of one message.
func (r *chunkReader) take(chunk []byte, tr *pb.Trailer) {
	r.buf, r.pending = chunk, tr
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if tr := r.pending; tr != nil {
			r.pending = nil
			if tr.Abort != nil {
				r.err = fmt.Errorf("sdk: upload aborted by the host: %w", wire.ErrorFromProto(tr.Abort))
			} else {
				r.trailer = tr
				r.err = io.EOF
			}
			continue
		}
		chunk, tr, err := r.next()
		switch {
		case err == io.EOF:
			r.err = fmt.Errorf("sdk: upload stream ended without its trailer: %w", io.ErrUnexpectedEOF)
		case err != nil:
			r.err = wire.FromStatus(err)
		default:
			r.take(chunk, tr)
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// WriteTo hands whole chunks to w, saving a copy for backends that use
// io.Copy.
func (r *chunkReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.buf) > 0 {
			n, err := w.Write(r.buf)
			total += int64(n)
			r.buf = r.buf[n:]
			if err != nil {
				return total, err
			}
			continue
		}
		if _, err := r.Read(nil); err != nil {
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
	}
}

// finish is PutOptions.Finish: the metadata the host sent in the trailer.
func (r *chunkReader) finish() (backends.Metadata, error) {
	if r.trailer == nil {
		return backends.Metadata{}, errors.New("sdk: Finish called before the upload stream's end")
	}
	return wire.MetadataFromProto(r.trailer.Metadata), nil
}

// uploadMessage is a message of an upload stream: a header first, then
// chunks, then a trailer.
type uploadMessage[H comparable] interface {
	GetHeader() H
	GetChunk() []byte
	GetTrailer() *pb.Trailer
}

// receiveUpload reads the header of an upload stream and returns a reader
// of its bytes, whose Finish is the trailer's metadata.
func receiveUpload[M uploadMessage[H], H comparable](recv func() (M, error), op string) (H, *chunkReader, error) {
	var none H
	first, err := recv()
	if err != nil {
		return none, nil, err
	}
	h := first.GetHeader()
	if h == none {
		return none, nil, status.Error(codes.InvalidArgument, "sdk: "+op+" stream must start with a header")
	}
	r := &chunkReader{next: func() ([]byte, *pb.Trailer, error) {
		m, err := recv()
		if err != nil {
			return nil, nil, err
		}
		if m.GetHeader() != none {
			return nil, nil, status.Error(codes.InvalidArgument, "sdk: second header in "+op+" stream")
		}
		return m.GetChunk(), m.GetTrailer(), nil
	}}
	r.take(first.GetChunk(), first.GetTrailer())
	return h, r, nil
}

// endUpload checks that the backend read the upload to its trailer before
// reporting success.
func endUpload(r *chunkReader, err error) error {
	if err != nil {
		return wire.ToStatus(err)
	}
	if r.trailer == nil {
		// The backend committed without reading to the end: refuse to
		// report success for bytes the host may not have finished.
		return status.Error(codes.Internal, "sdk: backend returned before the upload stream ended")
	}
	return nil
}

func (s *server) PutObject(stream pb.Backend_PutObjectServer) error {
	be, err := s.backend()
	if err != nil {
		return err
	}
	h, r, err := receiveUpload(stream.Recv, "a PutObject")
	if err != nil {
		return err
	}
	info, err := be.PutObject(stream.Context(), h.Bucket, h.Key, r, &backends.PutOptions{Size: h.Size, Finish: r.finish})
	if err := endUpload(r, err); err != nil {
		return err
	}
	return stream.SendAndClose(&pb.PutObjectResponse{Info: wire.InfoToProto(info)})
}

func (s *server) UploadPart(stream pb.Backend_UploadPartServer) error {
	be, err := s.backend()
	if err != nil {
		return err
	}
	h, r, err := receiveUpload(stream.Recv, "an UploadPart")
	if err != nil {
		return err
	}
	info, err := be.UploadPart(stream.Context(), h.Bucket, h.Key, h.UploadId, int(h.PartNumber), r, &backends.PutOptions{Size: h.Size, Finish: r.finish})
	if err := endUpload(r, err); err != nil {
		return err
	}
	return stream.SendAndClose(&pb.UploadPartResponse{Info: wire.PartToProto(info)})
}

func (s *server) GetObject(req *pb.GetObjectRequest, stream pb.Backend_GetObjectServer) error {
	be, err := s.backend()
	if err != nil {
		return err
	}
	ctx := stream.Context()
	var rng *backends.Range
	if req.Range != nil {
		rng = &backends.Range{Offset: req.Range.Offset, Length: req.Range.Length}
	}
	info, rc, err := be.GetObject(ctx, req.Bucket, req.Key, rng)
	if err != nil {
		return wire.ToStatus(err)
	}
	defer rc.Close()
	length := info.Size
	if rng != nil {
		_, n, err := rng.Resolve(info.Size)
		if err != nil {
			return wire.ToStatus(err)
		}
		length = n
	}
	s.mu.RLock()
	chunk := s.chunk
	s.mu.RUnlock()
	var buf []byte
	if length >= int64(chunk) {
		bp := s.buffer(chunk)
		defer s.bufs.Put(bp)
		buf = *bp
	} else {
		buf = make([]byte, max(length, 1))
	}
	// The first chunk travels with the header: a small object is one
	// message.
	resp := &pb.GetObjectResponse{Header: &pb.ObjectHeader{Info: wire.InfoToProto(info), Length: length}}
	for {
		n, rerr := io.ReadFull(rc, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			if ctx.Err() != nil {
				return wire.ToStatus(context.Cause(ctx))
			}
			return wire.ToStatus(rerr)
		}
		if n > 0 || resp.Header != nil {
			// SendMsg has encoded the message when it returns, so buf can
			// be reused (this server installs no stats handler).
			resp.Chunk = buf[:n]
			if err := stream.Send(resp); err != nil {
				return err
			}
			resp.Header = nil
		}
		if rerr != nil {
			return nil
		}
	}
}

func (s *server) HeadObject(ctx context.Context, req *pb.HeadObjectRequest) (*pb.HeadObjectResponse, error) {
	be, err := s.backend()
	if err != nil {
		return nil, err
	}
	info, err := be.HeadObject(ctx, req.Bucket, req.Key)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.HeadObjectResponse{Info: wire.InfoToProto(info)}, nil
}

func (s *server) DeleteObject(ctx context.Context, req *pb.DeleteObjectRequest) (*pb.DeleteObjectResponse, error) {
	be, err := s.backend()
	if err != nil {
		return nil, err
	}
	if err := be.DeleteObject(ctx, req.Bucket, req.Key); err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.DeleteObjectResponse{}, nil
}

func (s *server) CopyObject(ctx context.Context, req *pb.CopyObjectRequest) (*pb.CopyObjectResponse, error) {
	be, err := s.backend()
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	declared := slices.Contains(s.caps, CapCopy)
	s.mu.RUnlock()
	c, ok := be.(backends.Copier)
	if !ok || !declared {
		return nil, status.Error(codes.Unimplemented, "sdk: backend does not copy server-side")
	}
	info, err := c.CopyObject(ctx, req.SrcBucket, req.SrcKey, req.DstBucket, req.DstKey, wire.MetadataFromProto(req.Metadata))
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.CopyObjectResponse{Info: wire.InfoToProto(info)}, nil
}

func (s *server) ListObjects(ctx context.Context, req *pb.ListObjectsRequest) (*pb.ListObjectsResponse, error) {
	be, err := s.backend()
	if err != nil {
		return nil, err
	}
	page, err := be.ListObjects(ctx, req.Bucket, &backends.ListOptions{
		Prefix:     req.Prefix,
		Delimiter:  req.Delimiter,
		StartAfter: req.StartAfter,
		MaxKeys:    int(req.MaxKeys),
	})
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return wire.ListPageToProto(page), nil
}

func (s *server) CreateMultipartUpload(ctx context.Context, req *pb.CreateMultipartUploadRequest) (*pb.CreateMultipartUploadResponse, error) {
	be, err := s.backend()
	if err != nil {
		return nil, err
	}
	id, err := be.CreateMultipartUpload(ctx, req.Bucket, req.Key)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.CreateMultipartUploadResponse{UploadId: id}, nil
}

func (s *server) ListParts(ctx context.Context, req *pb.ListPartsRequest) (*pb.ListPartsResponse, error) {
	be, err := s.backend()
	if err != nil {
		return nil, err
	}
	parts, err := be.ListParts(ctx, req.Bucket, req.Key, req.UploadId)
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	out := make([]*pb.PartInfo, len(parts))
	for i := range parts {
		out[i] = wire.PartToProto(&parts[i])
	}
	return &pb.ListPartsResponse{Parts: out}, nil
}

func (s *server) CompleteMultipartUpload(ctx context.Context, req *pb.CompleteMultipartUploadRequest) (*pb.CompleteMultipartUploadResponse, error) {
	be, err := s.backend()
	if err != nil {
		return nil, err
	}
	parts := make([]int, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = int(p)
	}
	info, err := be.CompleteMultipartUpload(ctx, req.Bucket, req.Key, req.UploadId, parts, wire.MetadataFromProto(req.Metadata))
	if err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.CompleteMultipartUploadResponse{Info: wire.InfoToProto(info)}, nil
}

func (s *server) AbortMultipartUpload(ctx context.Context, req *pb.AbortMultipartUploadRequest) (*pb.AbortMultipartUploadResponse, error) {
	be, err := s.backend()
	if err != nil {
		return nil, err
	}
	if err := be.AbortMultipartUpload(ctx, req.Bucket, req.Key, req.UploadId); err != nil {
		return nil, wire.ToStatus(err)
	}
	return &pb.AbortMultipartUploadResponse{}, nil
}
