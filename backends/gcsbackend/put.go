package gcsbackend

import (
	"context"
	"errors"
	"fmt"
	"io"

	"cloud.google.com/go/storage"
	"github.com/cloudraya/raya/backends"
	"google.golang.org/api/iterator"
)

var iteratorDone = iterator.Done

// readUpTo reads from r into buf until buf is full or r returns an error.
// eof reports that r returned io.EOF.
func readUpTo(ctx context.Context, r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		if err := ctx.Err(); err != nil {
			return n, false, err
		}
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

// put stores the bytes of r under name in bk with the metadata that
// opts.Finish returns (encoded by enc), visible only after Finish returned
// without error. It returns the attributes of the stored object and the
// metadata (a copy of what Finish returned).
func (b *Backend) put(ctx context.Context, bk *storage.BucketHandle, name string, r io.Reader, opts *backends.PutOptions,
	enc func(backends.Metadata) (storage.ObjectAttrs, error)) (*storage.ObjectAttrs, backends.Metadata, error) {
	var meta backends.Metadata
	if err := ctx.Err(); err != nil {
		return nil, meta, err
	}
	want := int64(-1)
	if opts != nil {
		want = opts.Size
	}
	finish := func(size int64) (storage.ObjectAttrs, error) {
		if want >= 0 && size != want {
			return storage.ObjectAttrs{}, fmt.Errorf("gcsbackend: reader yielded %d bytes, expected %d: %w", size, want, io.ErrUnexpectedEOF)
		}
		if opts != nil && opts.Finish != nil {
			m, err := opts.Finish()
			if err != nil {
				return storage.ObjectAttrs{}, err
			}
			meta = m
		}
		a, err := enc(meta)
		if err != nil {
			return a, err
		}
		// Decode what we store, so the caller gets an unaliased copy that
		// is exactly what a later read returns.
		meta, err = decodeMeta(&a)
		return a, err
	}

	// A body that fits in one chunk: buffer it, and upload it with its
	// metadata in one request after Finish.
	chunk := b.cfg.ChunkSize
	var head []byte
	if want < 0 || want < int64(chunk) {
		size := chunk
		if want >= 0 {
			size = int(want) + 1 // room to see EOF
		}
		head = make([]byte, size)
		n, eof, err := readUpTo(ctx, r, head)
		if err != nil {
			return nil, meta, err
		}
		head = head[:n]
		if eof {
			attrs, err := finish(int64(n))
			if err != nil {
				return nil, meta, err
			}
			if err := ctx.Err(); err != nil {
				return nil, meta, err
			}
			obj := bk.Object(name).Retryer(storage.WithPolicy(storage.RetryAlways))
			w := obj.NewWriter(ctx)
			w.ObjectAttrs = attrs
			w.Name, w.Bucket = name, bk.BucketName()
			w.ChunkSize = 0 // one request
			if _, err := w.Write(head); err != nil {
				_ = w.Close()
				return nil, meta, err
			}
			if err := w.Close(); err != nil {
				return nil, meta, err
			}
			return w.Attrs(), meta, nil
		}
	}

	// Larger: stream into a hidden temporary object, then copy it to name
	// with the final metadata.
	tmp := bk.Object(tmpPrefix + newID()).Retryer(storage.WithPolicy(storage.RetryAlways))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := tmp.NewWriter(wctx)
	w.ChunkSize = chunk
	w.ContentType = defaultContentType
	abort := func(err error) (*storage.ObjectAttrs, backends.Metadata, error) {
		cancel() // GCS never finalizes an upload whose context ended
		_ = w.Close()
		return nil, meta, err
	}
	size := int64(len(head))
	if len(head) > 0 {
		if _, err := w.Write(head); err != nil {
			return abort(err)
		}
	}
	head = nil
	buf := make([]byte, min(chunk, 1<<20))
	for {
		n, eof, err := readUpTo(ctx, r, buf)
		if err != nil {
			return abort(err)
		}
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return abort(err)
			}
			size += int64(n)
		}
		if eof {
			break
		}
	}
	attrs, err := finish(size)
	if err != nil {
		return abort(err)
	}
	if err := ctx.Err(); err != nil {
		return abort(err)
	}
	if err := w.Close(); err != nil {
		// If Close failed after GCS finalized the upload, the temporary
		// object exists: remove it.
		b.deleteQuietly(ctx, bk, tmp.ObjectName())
		return nil, meta, err
	}
	defer b.deleteQuietly(ctx, bk, tmp.ObjectName())
	a, err := b.promote(ctx, bk, w.Attrs(), name, attrs)
	if err != nil {
		if errors.Is(err, storage.ErrObjectNotExist) {
			// The temporary object vanished: the bucket was deleted meanwhile.
			err = fmt.Errorf("gcsbackend: temporary object lost: %w", err)
		}
		return nil, meta, err
	}
	return a, meta, nil
}
