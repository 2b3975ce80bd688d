package gcsbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/cloudraya/raya/backends"
)

// maxComposeSources is GCS's limit on the sources of one compose call.
const maxComposeSources = 32

func uploadMarker(id string) string { return uploadPrefix + id }
func partsPrefix(id string) string  { return uploadPrefix + id + "/" }
func partName(id string, n int) string {
	return fmt.Sprintf("%s%05d", partsPrefix(id), n)
}

// validUploadID accepts the IDs that newID makes.
func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// CreateMultipartUpload writes the upload's marker object, which records
// the key.
func (b *Backend) CreateMultipartUpload(ctx context.Context, bucket, key string) (string, error) {
	if _, err := encodeKey(key); err != nil {
		return "", err
	}
	kj, err := json.Marshal(key)
	if err != nil {
		return "", err
	}
	id := newID()
	obj := b.bucket(bucket).Object(uploadMarker(id)).If(storage.Conditions{DoesNotExist: true}).
		Retryer(storage.WithPolicy(storage.RetryIdempotent))
	w := obj.NewWriter(ctx)
	w.ContentType = defaultContentType
	w.Metadata = map[string]string{mdUploadKey: string(kj)}
	if err := w.Close(); err != nil {
		return "", b.objectErr(ctx, bucket, err)
	}
	return id, nil
}

// checkUpload returns ErrUploadNotFound unless the upload exists for key.
func (b *Backend) checkUpload(ctx context.Context, bk *storage.BucketHandle, key, id string) error {
	if !validUploadID(id) {
		return fmt.Errorf("%w: %q", backends.ErrUploadNotFound, id)
	}
	a, err := bk.Object(uploadMarker(id)).Attrs(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) || errors.Is(err, storage.ErrBucketNotExist) {
		return fmt.Errorf("%w: %s", backends.ErrUploadNotFound, id)
	}
	if err != nil {
		return classify(err)
	}
	var k string
	if err := json.Unmarshal([]byte(a.Metadata[mdUploadKey]), &k); err != nil || k != key {
		return fmt.Errorf("%w: %s (for another key)", backends.ErrUploadNotFound, id)
	}
	return nil
}

// UploadPart stores a part as a hidden object, with the same atomicity as
// PutObject: a failed part leaves an earlier version of it intact.
func (b *Backend) UploadPart(ctx context.Context, bucket, key, uploadID string, partNumber int, r io.Reader, opts *backends.PutOptions) (*backends.PartInfo, error) {
	if partNumber < 1 || partNumber > maxParts {
		return nil, fmt.Errorf("gcsbackend: part number %d out of range 1..%d", partNumber, maxParts)
	}
	bk := b.bucket(bucket)
	if err := b.checkUpload(ctx, bk, key, uploadID); err != nil {
		return nil, err
	}
	a, meta, err := b.put(ctx, bk, partName(uploadID, partNumber), r, opts, encodePartMeta)
	if err != nil {
		return nil, b.objectErr(ctx, bucket, err)
	}
	return &backends.PartInfo{PartNumber: partNumber, Size: a.Size, LastModified: a.Created,
		ETag: meta.ETag, Checksums: meta.Checksums}, nil
}

// parts lists the uploaded parts of an upload by part number.
func (b *Backend) parts(ctx context.Context, bk *storage.BucketHandle, id string) (map[int]*storage.ObjectAttrs, error) {
	q := &storage.Query{Prefix: partsPrefix(id), Projection: storage.ProjectionNoACL}
	_ = q.SetAttrSelection([]string{"Name", "Size", "Created", "Updated", "Generation", "Metadata", "ContentType"})
	it := bk.Objects(ctx, q)
	out := map[int]*storage.ObjectAttrs{}
	for {
		a, err := it.Next()
		if err == iteratorDone {
			return out, nil
		}
		if err != nil {
			return nil, classify(err)
		}
		rest := strings.TrimPrefix(a.Name, partsPrefix(id))
		if len(rest) != 5 {
			continue // compose intermediates
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || n > maxParts {
			continue
		}
		out[n] = a
	}
}

// ListParts returns the uploaded parts ordered by part number.
func (b *Backend) ListParts(ctx context.Context, bucket, key, uploadID string) ([]backends.PartInfo, error) {
	bk := b.bucket(bucket)
	if err := b.checkUpload(ctx, bk, key, uploadID); err != nil {
		return nil, err
	}
	ps, err := b.parts(ctx, bk, uploadID)
	if err != nil {
		return nil, err
	}
	out := make([]backends.PartInfo, 0, len(ps))
	for _, n := range sortedKeys(ps) {
		a := ps[n]
		m, err := decodeMeta(a)
		if err != nil {
			return nil, err
		}
		out = append(out, backends.PartInfo{PartNumber: n, Size: a.Size, LastModified: a.Created, ETag: m.ETag, Checksums: m.Checksums})
	}
	return out, nil
}

// CompleteMultipartUpload composes the chosen parts into the object, then
// removes the upload.
func (b *Backend) CompleteMultipartUpload(ctx context.Context, bucket, key, uploadID string, parts []int, meta backends.Metadata) (*backends.ObjectInfo, error) {
	name, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, errors.New("gcsbackend: complete with no parts")
	}
	bk := b.bucket(bucket)
	if err := b.checkUpload(ctx, bk, key, uploadID); err != nil {
		return nil, err
	}
	attrs, err := encodeMeta(meta)
	if err != nil {
		return nil, err
	}
	ps, err := b.parts(ctx, bk, uploadID)
	if err != nil {
		return nil, err
	}
	srcs := make([]*storage.ObjectHandle, 0, len(parts))
	for _, n := range parts {
		a, ok := ps[n]
		if !ok {
			return nil, fmt.Errorf("%w: part %d of upload %s", backends.ErrPartNotFound, n, uploadID)
		}
		srcs = append(srcs, bk.Object(a.Name).Generation(a.Generation))
	}
	var temps []string
	defer func() { b.deleteQuietly(ctx, bk, temps...) }()
	// Compose hierarchically: groups of up to 32 into hidden
	// intermediates until one call can make the object.
	for len(srcs) > maxComposeSources {
		var next []*storage.ObjectHandle
		for i := 0; i < len(srcs); i += maxComposeSources {
			group := srcs[i:min(i+maxComposeSources, len(srcs))]
			if len(group) == 1 {
				next = append(next, group[0])
				continue
			}
			tn := partsPrefix(uploadID) + "c/" + newID()
			c := bk.Object(tn).Retryer(storage.WithPolicy(storage.RetryAlways)).ComposerFrom(group...)
			c.ContentType = defaultContentType
			a, err := c.Run(ctx)
			if err != nil {
				return nil, b.objectErr(ctx, bucket, err)
			}
			temps = append(temps, tn)
			next = append(next, bk.Object(tn).Generation(a.Generation))
		}
		srcs = next
	}
	// The last compose writes a fresh hidden object with exactly the final
	// metadata, which is then promoted to the key (see CopyObject for why
	// not compose onto the key directly).
	stage := partsPrefix(uploadID) + "c/" + newID()
	c := bk.Object(stage).Retryer(storage.WithPolicy(storage.RetryAlways)).ComposerFrom(srcs...)
	c.ObjectAttrs = attrs
	sta, err := c.Run(ctx)
	if err != nil {
		return nil, b.objectErr(ctx, bucket, err)
	}
	temps = append(temps, stage)
	a, err := b.promote(ctx, bk, sta, name, attrs)
	if err != nil {
		return nil, b.objectErr(ctx, bucket, err)
	}
	// The object is visible: end the upload (marker first, so the upload
	// is gone even if removing a part fails), then discard its parts.
	b.deleteQuietly(ctx, bk, uploadMarker(uploadID))
	for _, p := range ps {
		temps = append(temps, p.Name)
	}
	return objectInfo(key, a)
}

// AbortMultipartUpload removes the upload's marker and parts.
func (b *Backend) AbortMultipartUpload(ctx context.Context, bucket, key, uploadID string) error {
	bk := b.bucket(bucket)
	if err := b.checkUpload(ctx, bk, key, uploadID); err != nil {
		return err
	}
	err := bk.Object(uploadMarker(uploadID)).Delete(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return fmt.Errorf("%w: %s", backends.ErrUploadNotFound, uploadID)
	}
	if err != nil {
		return classify(err)
	}
	names, err := b.listNames(ctx, bk, partsPrefix(uploadID))
	if err != nil {
		return err
	}
	b.deleteQuietly(ctx, bk, names...)
	return nil
}
