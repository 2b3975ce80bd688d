package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/plugins/internal/wire"
	pb "github.com/cloudraya/raya/plugins/proto/backendv1"
	"github.com/cloudraya/raya/plugins/sdk"
)

func (b *Backend) CreateBucket(ctx context.Context, bucket string) error {
	return b.unary(ctx, func(ctx context.Context, c pb.BackendClient) error {
		_, err := c.CreateBucket(ctx, &pb.CreateBucketRequest{Bucket: bucket})
		return err
	})
}

func (b *Backend) DeleteBucket(ctx context.Context, bucket string) error {
	return b.unary(ctx, func(ctx context.Context, c pb.BackendClient) error {
		_, err := c.DeleteBucket(ctx, &pb.DeleteBucketRequest{Bucket: bucket})
		return err
	})
}

func (b *Backend) HeadObject(ctx context.Context, bucket, key string) (*backends.ObjectInfo, error) {
	var info *backends.ObjectInfo
	err := b.retryable(ctx, func(ctx context.Context, c pb.BackendClient) error {
		resp, err := c.HeadObject(ctx, &pb.HeadObjectRequest{Bucket: bucket, Key: key})
		if err == nil {
			info = wire.InfoFromProto(resp.Info)
		}
		return err
	})
	return info, err
}

func (b *Backend) DeleteObject(ctx context.Context, bucket, key string) error {
	return b.unary(ctx, func(ctx context.Context, c pb.BackendClient) error {
		_, err := c.DeleteObject(ctx, &pb.DeleteObjectRequest{Bucket: bucket, Key: key})
		return err
	})
}

func (b *Backend) ListObjects(ctx context.Context, bucket string, opts *backends.ListOptions) (*backends.ListPage, error) {
	var o backends.ListOptions
	if opts != nil {
		o = *opts
	}
	var page *backends.ListPage
	err := b.retryable(ctx, func(ctx context.Context, c pb.BackendClient) error {
		resp, err := c.ListObjects(ctx, &pb.ListObjectsRequest{
			Bucket: bucket, Prefix: o.Prefix, Delimiter: o.Delimiter, StartAfter: o.StartAfter, MaxKeys: int32(min(o.MaxKeys, 1<<30)),
		})
		if err == nil {
			page = wire.ListPageFromProto(resp)
		}
		return err
	})
	return page, err
}

func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string) (string, error) {
	var id string
	err := b.unary(ctx, func(ctx context.Context, c pb.BackendClient) error {
		resp, err := c.CreateMultipartUpload(ctx, &pb.CreateMultipartUploadRequest{Bucket: bucket, Key: key})
		if err == nil {
			id = resp.UploadId
		}
		return err
	})
	return id, err
}

func (b *Backend) ListParts(ctx context.Context, bucket, key, uploadID string) ([]backends.PartInfo, error) {
	var parts []backends.PartInfo
	err := b.retryable(ctx, func(ctx context.Context, c pb.BackendClient) error {
		resp, err := c.ListParts(ctx, &pb.ListPartsRequest{Bucket: bucket, Key: key, UploadId: uploadID})
		if err != nil {
			return err
		}
		parts = make([]backends.PartInfo, len(resp.Parts))
		for i, p := range resp.Parts {
			parts[i] = *wire.PartFromProto(p)
		}
		return nil
	})
	return parts, err
}

func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, meta backends.Metadata) (*backends.ObjectInfo, error) {
	nums := make([]int32, len(parts))
	for i, p := range parts {
		nums[i] = int32(p)
	}
	var info *backends.ObjectInfo
	err := b.unary(ctx, func(ctx context.Context, c pb.BackendClient) error {
		resp, err := c.CompleteMultipartUpload(ctx, &pb.CompleteMultipartUploadRequest{
			Bucket: bucket, Key: key, UploadId: uploadID, Parts: nums, Metadata: wire.MetadataToProto(&meta),
		})
		if err == nil {
			info = wire.InfoFromProto(resp.Info)
		}
		return err
	})
	return info, err
}

func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	return b.unary(ctx, func(ctx context.Context, c pb.BackendClient) error {
		_, err := c.AbortMultipartUpload(ctx, &pb.AbortMultipartUploadRequest{Bucket: bucket, Key: key, UploadId: uploadID})
		return err
	})
}

// CopyObject copies server-side when the plugin declares sdk.CapCopy, and
// otherwise streams the object through the gateway (GetObject, PutObject),
// which keeps the same atomicity.
func (b *Backend) CopyObject(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string, meta backends.Metadata) (*backends.ObjectInfo, error) {
	if slices.Contains(b.Capabilities(), sdk.CapCopy) {
		var info *backends.ObjectInfo
		err := b.unary(ctx, func(ctx context.Context, c pb.BackendClient) error {
			resp, err := c.CopyObject(ctx, &pb.CopyObjectRequest{
				SrcBucket: srcBucket, SrcKey: srcKey, DstBucket: dstBucket, DstKey: dstKey, Metadata: wire.MetadataToProto(&meta),
			})
			if err == nil {
				info = wire.InfoFromProto(resp.Info)
			}
			return err
		})
		if !errors.Is(err, errors.ErrUnsupported) {
			return info, err
		}
	}
	src, rc, err := b.GetObject(ctx, srcBucket, srcKey, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return b.PutObject(ctx, dstBucket, dstKey, rc, &backends.PutOptions{Size: src.Size, Finish: func() (backends.Metadata, error) { return meta, nil }})
}

// upload is the stream of a PutObject or UploadPart call, seen by the
// sending loop. send puts the header (first message only), a chunk and a
// trailer (either may be nil) into one message.
type upload interface {
	send(chunk []byte, tr *pb.Trailer) error
	closeAndRecv() error
}

type putUpload struct {
	s      pb.Backend_PutObjectClient
	header *pb.PutObjectHeader
	msg    pb.PutObjectRequest
	resp   *pb.PutObjectResponse
}

func (u *putUpload) send(chunk []byte, tr *pb.Trailer) error {
	u.msg.Header, u.msg.Chunk, u.msg.Trailer = u.header, chunk, tr
	u.header = nil
	// SendMsg has encoded the message when it returns, so chunk's buffer can
	// be reused.
	return u.s.Send(&u.msg)
}

func (u *putUpload) closeAndRecv() (err error) {
	u.resp, err = u.s.CloseAndRecv()
	return err
}

type partUpload struct {
	s      pb.Backend_UploadPartClient
	header *pb.UploadPartHeader
	msg    pb.UploadPartRequest
	resp   *pb.UploadPartResponse
}

func (u *partUpload) send(chunk []byte, tr *pb.Trailer) error {
	u.msg.Header, u.msg.Chunk, u.msg.Trailer = u.header, chunk, tr
	u.header = nil
	return u.s.Send(&u.msg)
}

func (u *partUpload) closeAndRecv() (err error) {
	u.resp, err = u.s.CloseAndRecv()
	return err
}

func putArgs(opts *backends.PutOptions) (int64, func() (backends.Metadata, error)) {
	if opts == nil {
		return -1, nil
	}
	return opts.Size, opts.Finish
}

func (b *Backend) PutObject(ctx context.Context, bucket, key string, r io.Reader, opts *backends.PutOptions) (*backends.ObjectInfo, error) {
	size, finish := putArgs(opts)
	var info *backends.ObjectInfo
	err := b.stream(ctx, func(ctx context.Context, c pb.BackendClient) (upload, error) {
		s, err := c.PutObject(ctx)
		if err != nil {
			return nil, err
		}
		return &putUpload{s: s, header: &pb.PutObjectHeader{Bucket: bucket, Key: key, Size: size}}, nil
	}, r, finish, func(u upload) { info = wire.InfoFromProto(u.(*putUpload).resp.GetInfo()) })
	if err != nil {
		return nil, err
	}
	return info, nil
}

func (b *Backend) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, opts *backends.PutOptions) (*backends.PartInfo, error) {
	size, finish := putArgs(opts)
	var info *backends.PartInfo
	err := b.stream(ctx, func(ctx context.Context, c pb.BackendClient) (upload, error) {
		s, err := c.UploadPart(ctx)
		if err != nil {
			return nil, err
		}
		return &partUpload{s: s, header: &pb.UploadPartHeader{
			Bucket: bucket, Key: key, UploadId: uploadID, PartNumber: int32(partNumber), Size: size,
		}}, nil
	}, r, finish, func(u upload) { info = wire.PartFromProto(u.(*partUpload).resp.GetInfo()) })
	if err != nil {
		return nil, err
	}
	return info, nil
}

// stream runs an upload: the header, the reader's bytes in chunks, then a
// trailer with what Finish returned, or an aborting trailer when the reader
// or Finish failed; a small object goes as one message holding all three.
// The plugin commits only on a good trailer. Errors of the reader and of
// Finish come back unchanged.
func (b *Backend) stream(ctx context.Context, open func(context.Context, pb.BackendClient) (upload, error), r io.Reader, finish func() (backends.Metadata, error), done func(upload)) error {
	inst, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	wd := newWatchdog(b.cfg.CallTimeout, cancel)
	defer wd.disarm()

	wd.arm()
	u, err := open(sctx, inst.rpc)
	wd.disarm()
	if err != nil {
		return b.callErr(ctx, sctx, inst, err)
	}
	// send sends one message; when the plugin has ended the stream (its
	// backend failed, or the connection or context did), it returns the
	// plugin's reason.
	send := func(chunk []byte, tr *pb.Trailer) error {
		wd.arm()
		defer wd.disarm()
		if err := u.send(chunk, tr); err != nil {
			return b.remoteEnd(ctx, sctx, inst, wd, u)
		}
		return nil
	}
	// abort tells the plugin to drop the upload, waits for it to have done
	// so, and returns the local error.
	abort := func(local error) error {
		if ctx.Err() != nil {
			// The caller's context ended: the stream is gone with it.
			return local
		}
		if send(nil, &pb.Trailer{Abort: wire.ErrorToProto(local)}) == nil {
			wd.arm()
			_ = u.closeAndRecv()
			wd.disarm()
		}
		return local
	}
	bp := b.pool.Get().(*[]byte)
	defer b.pool.Put(bp)
	buf := *bp
	var pendingChunk []byte // read but not sent: it may travel with the trailer
	for {
		n, rerr := fill(r, buf)
		if rerr != nil && rerr != io.EOF {
			return abort(rerr)
		}
		if rerr == io.EOF {
			pendingChunk = buf[:n]
			break
		}
		if err := send(buf[:n], nil); err != nil {
			return err
		}
	}
	tr := &pb.Trailer{}
	if finish != nil {
		meta, ferr := finish()
		if ferr != nil {
			return abort(ferr)
		}
		tr.Metadata = wire.MetadataToProto(&meta)
	}
	if err := send(pendingChunk, tr); err != nil {
		return err
	}
	wd.arm()
	err = u.closeAndRecv()
	wd.disarm()
	if err != nil {
		return b.callErr(ctx, sctx, inst, err)
	}
	done(u)
	return nil
}

// remoteEnd returns the reason the plugin ended an upload stream.
func (b *Backend) remoteEnd(ctx, sctx context.Context, inst *instance, wd *watchdog, u upload) error {
	wd.arm()
	err := u.closeAndRecv()
	wd.disarm()
	if err == nil {
		err = errors.New("host: plugin ended the upload stream early")
	}
	return b.callErr(ctx, sctx, inst, err)
}

// GetObject opens the object; when the connection was found lost before
// any byte arrived, it tries once more on a fresh process.
func (b *Backend) GetObject(ctx context.Context, bucket, key string, rng *backends.Range) (*backends.ObjectInfo, io.ReadCloser, error) {
	info, rc, err := b.getObject(ctx, bucket, key, rng)
	if err != nil && isTransport(err) && errors.Is(err, backends.ErrUnavailable) && ctx.Err() == nil {
		return b.getObject(ctx, bucket, key, rng)
	}
	return info, rc, err
}

func (b *Backend) getObject(ctx context.Context, bucket, key string, rng *backends.Range) (*backends.ObjectInfo, io.ReadCloser, error) {
	inst, err := b.acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	req := &pb.GetObjectRequest{Bucket: bucket, Key: key}
	if rng != nil {
		req.Range = &pb.Range{Offset: rng.Offset, Length: rng.Length}
	}
	sctx, cancel := context.WithCancelCause(ctx)
	wd := newWatchdog(b.cfg.CallTimeout, cancel)
	wd.arm()
	s, err := inst.rpc.GetObject(sctx, req)
	var first *pb.GetObjectResponse
	if err == nil {
		first, err = s.Recv()
	}
	wd.disarm()
	if err == nil && first.Header == nil {
		err = errors.New("host: plugin's GetObject stream did not start with a header")
	}
	if err != nil {
		err = b.callErr(ctx, sctx, inst, err)
		cancel(nil)
		return nil, nil, err
	}
	r := &objectReader{b: b, ctx: ctx, sctx: sctx, inst: inst, s: s, cancel: cancel, wd: wd, left: first.Header.Length}
	r.take(first.Chunk)
	return wire.InfoFromProto(first.Header.Info), r, nil
}

// objectReader reads the chunks of a GetObject stream.
type objectReader struct {
	b      *Backend
	ctx    context.Context
	sctx   context.Context
	inst   *instance
	s      pb.Backend_GetObjectClient
	cancel context.CancelCauseFunc
	wd     *watchdog
	buf    []byte
	left   int64 // bytes announced but not yet received
	err    error
}

// next receives the next chunk into r.buf, or sets r.err.
func (r *objectReader) next() {
	r.wd.arm()
	m, err := r.s.Recv()
	r.wd.disarm()
	switch {
	case err == io.EOF:
		if r.left != 0 {
			r.err = fmt.Errorf("host: object stream ended %d bytes early: %w", r.left, io.ErrUnexpectedEOF)
		} else {
			r.err = io.EOF
		}
	case err != nil:
		r.err = r.b.callErr(r.ctx, r.sctx, r.inst, err)
	default:
		if m.Header != nil {
			r.err = errors.New("host: second header in an object stream")
			return
		}
		r.take(m.Chunk)
	}
}

// take accepts a received chunk.
func (r *objectReader) take(c []byte) {
	if int64(len(c)) > r.left {
		r.err = errors.New("host: object stream carried more bytes than announced")
		return
	}
	r.left -= int64(len(c))
	r.buf = c
}

func (r *objectReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.next()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// WriteTo hands whole chunks to w.
func (r *objectReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		for len(r.buf) == 0 {
			if r.err == io.EOF {
				return total, nil
			}
			if r.err != nil {
				return total, r.err
			}
			r.next()
		}
		n, err := w.Write(r.buf)
		total += int64(n)
		r.buf = r.buf[n:]
		if err != nil {
			return total, err
		}
	}
}

func (r *objectReader) Close() error {
	r.wd.disarm()
	r.cancel(nil)
	if r.err == nil {
		r.err = errors.New("host: read after Close")
	}
	return nil
}
