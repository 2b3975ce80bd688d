package gcsbackend

import (
	"context"
	"errors"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/cloudraya/raya/backends"
)

// maxRune sorts after every continuation of a valid UTF-8 prefix: p+maxRune
// is a valid StartOffset just past all names that start with p.
const maxRune = "\U0010FFFF"

var listAttrs = []string{"Name", "Size", "Created", "Updated", "Metadata", "ContentType",
	"ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl"}

// ListObjects lists keys in byte order. GCS lists the encoded names with
// Prefix and StartOffset; delimiters are applied here, on the decoded keys
// (GCS's own delimiter grouping is not used: it could not handle delimiters
// that meet the encoding's escape bytes, and the emulator's is wrong for
// multi-byte delimiters and across pages). Runs of keys under one common
// prefix, and the hidden namespace, are skipped within the page at hand
// and, when they reach past it, by restarting the listing after them, so
// a listing costs about one request per page of results plus one per
// common prefix that spans a page boundary.
func (b *Backend) ListObjects(ctx context.Context, bucket string, opts *backends.ListOptions) (*backends.ListPage, error) {
	var o backends.ListOptions
	if opts != nil {
		o = *opts
	}
	maxKeys := o.MaxKeys
	if maxKeys <= 0 {
		maxKeys = 1000
	}
	pageSize := 1000
	if o.Delimiter == "" {
		pageSize = min(pageSize, maxKeys+2)
	}
	bk := b.bucket(bucket)
	encPrefix := encodeBytes(o.Prefix)
	start := ""
	if o.StartAfter > o.Prefix {
		start = encodeLoose(o.StartAfter)
	}
	iter := func(startOffset string) *storage.ObjectIterator {
		q := &storage.Query{Prefix: encPrefix, StartOffset: startOffset, Projection: storage.ProjectionNoACL}
		_ = q.SetAttrSelection(listAttrs)
		it := bk.Objects(ctx, q)
		it.PageInfo().MaxSize = pageSize
		return it
	}
	it := iter(start)
	page := &backends.ListPage{}
	count := 0
	skip, restarted := "", ""
	for {
		// Skipping a run that goes on past the fetched page: jump over it.
		if skip != "" && skip != restarted && it.PageInfo().Remaining() == 0 {
			it, restarted = iter(skip+maxRune), skip
		}
		a, err := it.Next()
		if err == iteratorDone {
			break
		}
		if err != nil {
			err = classify(err)
			if errors.Is(err, backends.ErrNotFound) {
				if berr := b.bucketExists(ctx, bucket); berr != nil {
					return nil, berr
				}
			}
			return nil, err
		}
		if skip != "" {
			if strings.HasPrefix(a.Name, skip) {
				continue
			}
			skip = ""
		}
		key, ok := decodeName(a.Name)
		if !ok {
			skip = hidden
			continue
		}
		if key <= o.StartAfter || !strings.HasPrefix(key, o.Prefix) {
			continue
		}
		name, isPrefix := key, false
		if o.Delimiter != "" {
			if i := strings.Index(key[len(o.Prefix):], o.Delimiter); i >= 0 {
				name, isPrefix = key[:len(o.Prefix)+i+len(o.Delimiter)], true
				skip = encodeBytes(name)
				if name <= o.StartAfter {
					continue
				}
			}
		}
		if count == maxKeys {
			page.IsTruncated = true
			break
		}
		count++
		page.NextStartAfter = name
		if isPrefix {
			page.CommonPrefixes = append(page.CommonPrefixes, name)
			continue
		}
		info, err := objectInfo(key, a)
		if err != nil {
			return nil, err
		}
		page.Objects = append(page.Objects, *info)
	}
	if !page.IsTruncated {
		page.NextStartAfter = ""
	}
	return page, nil
}
