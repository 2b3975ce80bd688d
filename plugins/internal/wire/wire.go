// Package wire converts between the backends contract and the backendv1
// protocol messages, and between the backends error vocabulary and gRPC
// statuses. It is shared by plugins/sdk (the plugin side) and plugins/host
// (the gateway side) so that both directions use one table.
package wire

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudraya/raya/backends"
	pb "github.com/cloudraya/raya/plugins/proto/backendv1"
)

// DefaultChunkSize is the size of the data messages object bytes travel in,
// chosen by measurement (plugins/host BenchmarkChunkSize, boundary alone,
// 2 cores): 1 MiB streamed 64 MiB objects at about 420 MB/s up and 560 MB/s
// down, 256 KiB at 320 and 300, 64 KiB at 290 and 300; small objects are
// one message whatever the size. It stays far below gRPC's 4 MiB message
// limit, and memory per stream stays bounded (one chunk buffer per side
// plus the flow-control window).
const DefaultChunkSize = 1 << 20

// MaxChunkSize bounds the chunk size a host may ask for.
const MaxChunkSize = 2 << 20

// Flow control and socket buffers, the same on both sides. Static windows
// turn off gRPC's BDP estimation, whose pings cost a wake-up on small calls,
// and let a large object stream without waiting for window updates.
const (
	StreamWindow = 4 << 20
	ConnWindow   = 16 << 20
	SocketBuffer = 256 << 10
)

// MaxMessageSize is the receive limit both sides configure: it bounds
// unary answers such as a listing page of 1000 objects with long keys and
// user metadata.
const MaxMessageSize = 64 << 20

func timeToProto(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromProto(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime().Local()
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// MetadataToProto converts m.
func MetadataToProto(m *backends.Metadata) *pb.Metadata {
	if m == nil {
		return nil
	}
	return &pb.Metadata{
		Etag:               m.ETag,
		ContentType:        m.ContentType,
		ContentEncoding:    m.ContentEncoding,
		ContentDisposition: m.ContentDisposition,
		ContentLanguage:    m.ContentLanguage,
		CacheControl:       m.CacheControl,
		Expires:            m.Expires,
		User:               m.User,
		Checksums:          m.Checksums,
		ChecksumType:       m.ChecksumType,
		PartSizes:          m.PartSizes,
	}
}

// MetadataFromProto converts m; nil gives the zero Metadata.
func MetadataFromProto(m *pb.Metadata) backends.Metadata {
	if m == nil {
		return backends.Metadata{}
	}
	var parts []int64
	if len(m.PartSizes) > 0 {
		parts = append([]int64(nil), m.PartSizes...)
	}
	return backends.Metadata{
		ETag:               m.Etag,
		ContentType:        m.ContentType,
		ContentEncoding:    m.ContentEncoding,
		ContentDisposition: m.ContentDisposition,
		ContentLanguage:    m.ContentLanguage,
		CacheControl:       m.CacheControl,
		Expires:            m.Expires,
		User:               cloneMap(m.User),
		Checksums:          cloneMap(m.Checksums),
		ChecksumType:       m.ChecksumType,
		PartSizes:          parts,
	}
}

// InfoToProto converts info.
func InfoToProto(info *backends.ObjectInfo) *pb.ObjectInfo {
	if info == nil {
		return nil
	}
	return &pb.ObjectInfo{
		Key:          info.Key,
		Size:         info.Size,
		LastModified: timeToProto(info.LastModified),
		Metadata:     MetadataToProto(&info.Metadata),
	}
}

// InfoFromProto converts info; nil gives nil.
func InfoFromProto(info *pb.ObjectInfo) *backends.ObjectInfo {
	if info == nil {
		return nil
	}
	return &backends.ObjectInfo{
		Key:          info.Key,
		Size:         info.Size,
		LastModified: timeFromProto(info.LastModified),
		Metadata:     MetadataFromProto(info.Metadata),
	}
}

// PartToProto converts p.
func PartToProto(p *backends.PartInfo) *pb.PartInfo {
	if p == nil {
		return nil
	}
	return &pb.PartInfo{
		PartNumber:   int32(p.PartNumber),
		Size:         p.Size,
		LastModified: timeToProto(p.LastModified),
		Etag:         p.ETag,
		Checksums:    p.Checksums,
	}
}

// PartFromProto converts p; nil gives nil.
func PartFromProto(p *pb.PartInfo) *backends.PartInfo {
	if p == nil {
		return nil
	}
	return &backends.PartInfo{
		PartNumber:   int(p.PartNumber),
		Size:         p.Size,
		LastModified: timeFromProto(p.LastModified),
		ETag:         p.Etag,
		Checksums:    cloneMap(p.Checksums),
	}
}

// ListPageToProto converts a listing page.
func ListPageToProto(p *backends.ListPage) *pb.ListObjectsResponse {
	if p == nil {
		return &pb.ListObjectsResponse{}
	}
	objs := make([]*pb.ObjectInfo, len(p.Objects))
	for i := range p.Objects {
		objs[i] = InfoToProto(&p.Objects[i])
	}
	return &pb.ListObjectsResponse{
		Objects:        objs,
		CommonPrefixes: p.CommonPrefixes,
		IsTruncated:    p.IsTruncated,
		NextStartAfter: p.NextStartAfter,
	}
}

// ListPageFromProto converts a listing page.
func ListPageFromProto(r *pb.ListObjectsResponse) *backends.ListPage {
	page := &backends.ListPage{
		IsTruncated:    r.IsTruncated,
		NextStartAfter: r.NextStartAfter,
	}
	if len(r.Objects) > 0 {
		page.Objects = make([]backends.ObjectInfo, len(r.Objects))
		for i, o := range r.Objects {
			page.Objects[i] = *InfoFromProto(o)
		}
	}
	if len(r.CommonPrefixes) > 0 {
		page.CommonPrefixes = r.CommonPrefixes
	}
	return page
}
