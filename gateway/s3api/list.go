package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/cloudraya/raya/backends"
	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/s3err"
)

// s3URLEncode encodes a key for encoding-type=url: everything but the
// unreserved characters and '/' is percent-encoded.
func s3URLEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)>>4, 16)+strconv.FormatUint(uint64(c)&15, 16)))
	}
	return b.String()
}

func parseMaxKeys(v, name string) (int, error) {
	if v == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, s3err.InvalidArgument.With("Provided " + name + " not an integer or within integer range")
	}
	if n > 1000 {
		n = 1000
	}
	return n, nil
}

// listing holds what both ListObjects versions share.
type listing struct {
	bucket  *meta.Bucket
	prefix  string
	delim   string
	encode  func(string) string
	maxKeys int
	page    *backends.ListPage
}

func (h *Handler) list(q *request, start string, maxKeysParam string) (*listing, error) {
	b, be, err := h.bucketOf(q, q.bucket, meta.PermRead)
	if err != nil {
		return nil, err
	}
	l := &listing{bucket: b, prefix: q.get("prefix"), delim: q.get("delimiter"), encode: func(s string) string { return s }}
	switch q.get("encoding-type") {
	case "":
	case "url":
		l.encode = s3URLEncode
	default:
		return nil, s3err.InvalidArgument.With("Invalid Encoding Method specified in Request")
	}
	if l.maxKeys, err = parseMaxKeys(q.get(maxKeysParam), "max-keys"); err != nil {
		return nil, err
	}
	if l.maxKeys == 0 {
		l.page = &backends.ListPage{}
		return l, nil
	}
	l.page, err = be.ListObjects(q.r.Context(), b.Name, &backends.ListOptions{
		Prefix: l.prefix, Delimiter: l.delim, StartAfter: start, MaxKeys: l.maxKeys,
	})
	return l, err
}

func (l *listing) contents(withOwner *owner) ([]objectItem, []commonPrefix) {
	items := make([]objectItem, 0, len(l.page.Objects))
	for _, o := range l.page.Objects {
		it := objectItem{
			Key: l.encode(o.Key), LastModified: isoTime(o.LastModified), ETag: quoteETag(o.ETag),
			Size: o.Size, StorageClass: "STANDARD", Owner: withOwner,
		}
		for a := range o.Checksums {
			it.ChecksumAlgorithm = a
			it.ChecksumType = o.ChecksumType
			break
		}
		items = append(items, it)
	}
	var cps []commonPrefix
	for _, p := range l.page.CommonPrefixes {
		cps = append(cps, commonPrefix{Prefix: l.encode(p)})
	}
	return items, cps
}

func (h *Handler) listObjectsV2(q *request) error {
	start := q.get("start-after")
	token := q.get("continuation-token")
	if q.has("continuation-token") {
		dec, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || token == "" {
			return s3err.InvalidArgument.With("The continuation token provided is incorrect")
		}
		start = string(dec)
	}
	l, err := h.list(q, start, "max-keys")
	if err != nil {
		return err
	}
	var o *owner
	if q.get("fetch-owner") == "true" {
		ow := h.ownerOf(q, l.bucket.Owner)
		o = &ow
	}
	items, cps := l.contents(o)
	res := listBucketResultV2{
		NS: s3NS, Name: l.bucket.Name, Prefix: l.encode(l.prefix), Delimiter: l.encode(l.delim),
		MaxKeys: l.maxKeys, KeyCount: len(items) + len(cps), IsTruncated: l.page.IsTruncated,
		ContinuationToken: token, StartAfter: l.encode(q.get("start-after")),
		Contents: items, CommonPrefixes: cps,
	}
	if q.get("encoding-type") == "url" {
		res.EncodingType = "url"
	}
	if l.page.IsTruncated {
		res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(l.page.NextStartAfter))
	}
	return writeXML(q.w, http.StatusOK, res)
}

func (h *Handler) listObjectsV1(q *request) error {
	marker := q.get("marker")
	l, err := h.list(q, marker, "max-keys")
	if err != nil {
		return err
	}
	o := h.ownerOf(q, l.bucket.Owner)
	items, cps := l.contents(&o)
	res := listBucketResultV1{
		NS: s3NS, Name: l.bucket.Name, Prefix: l.encode(l.prefix), Marker: l.encode(marker),
		Delimiter: l.encode(l.delim), MaxKeys: l.maxKeys, IsTruncated: l.page.IsTruncated,
		Contents: items, CommonPrefixes: cps,
	}
	if q.get("encoding-type") == "url" {
		res.EncodingType = "url"
	}
	if l.page.IsTruncated {
		res.NextMarker = l.encode(l.page.NextStartAfter)
	}
	return writeXML(q.w, http.StatusOK, res)
}

type versionItem struct {
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
	Owner        owner  `xml:"Owner"`
}

type listVersionsResult struct {
	XMLName             xml.Name       `xml:"ListVersionsResult"`
	NS                  string         `xml:"xmlns,attr"`
	Name                string         `xml:"Name"`
	Prefix              string         `xml:"Prefix"`
	KeyMarker           string         `xml:"KeyMarker"`
	VersionIDMarker     string         `xml:"VersionIdMarker"`
	NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int            `xml:"MaxKeys"`
	Delimiter           string         `xml:"Delimiter,omitempty"`
	IsTruncated         bool           `xml:"IsTruncated"`
	EncodingType        string         `xml:"EncodingType,omitempty"`
	Versions            []versionItem  `xml:"Version"`
	CommonPrefixes      []commonPrefix `xml:"CommonPrefixes"`
}

// listObjectVersions answers ListObjectVersions for a bucket that never
// had versioning: every object is its own single, latest version "null".
// Tools that clean buckets this way (Terraform's force_destroy, s3-tests)
// work unchanged.
func (h *Handler) listObjectVersions(q *request) error {
	marker := q.get("key-marker")
	l, err := h.list(q, marker, "max-keys")
	if err != nil {
		return err
	}
	o := h.ownerOf(q, l.bucket.Owner)
	res := listVersionsResult{
		NS: s3NS, Name: l.bucket.Name, Prefix: l.encode(l.prefix), KeyMarker: l.encode(marker),
		VersionIDMarker: q.get("version-id-marker"), MaxKeys: l.maxKeys, Delimiter: l.encode(l.delim),
		IsTruncated: l.page.IsTruncated,
	}
	for _, obj := range l.page.Objects {
		res.Versions = append(res.Versions, versionItem{
			Key: l.encode(obj.Key), VersionID: "null", IsLatest: true, LastModified: isoTime(obj.LastModified),
			ETag: quoteETag(obj.ETag), Size: obj.Size, StorageClass: "STANDARD", Owner: o,
		})
	}
	for _, p := range l.page.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: l.encode(p)})
	}
	if q.get("encoding-type") == "url" {
		res.EncodingType = "url"
	}
	if l.page.IsTruncated {
		res.NextKeyMarker, res.NextVersionIDMarker = l.encode(l.page.NextStartAfter), "null"
	}
	return writeXML(q.w, http.StatusOK, res)
}
