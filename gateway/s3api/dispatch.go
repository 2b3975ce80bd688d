package s3api

import (
	"encoding/xml"
	"net/http"

	"github.com/cloudraya/raya/gateway/meta"
	"github.com/cloudraya/raya/gateway/s3err"
)

// unsupported lists sub-resources Raya does not implement; a request naming
// one gets NotImplemented rather than being mistaken for another operation.
var unsupported = []string{
	"accelerate", "analytics", "attributes", "encryption", "intelligent-tiering",
	"inventory", "legal-hold", "lifecycle", "logging", "metrics", "notification",
	"object-lock", "ownershipControls", "replication", "requestPayment",
	"restore", "retention", "select", "tagging", "torrent", "website", "renameObject",
	"session", "metadataConfiguration", "abac",
}

// policyCalls answer that access is governed by ACLs.
var policyCalls = []string{"policy", "policyStatus"}

// absentConfig answers GETs of bucket configurations Raya never has, the
// way S3 answers for a bucket without one, so tools that read them all
// (s3cmd info, Terraform, sync tools) work.
var absentConfig = map[string]*s3err.Error{
	"policy":            s3err.NoSuchBucketPolicy.With("The bucket policy does not exist: Raya governs access with ACLs, not policies."),
	"policyStatus":      s3err.NoSuchBucketPolicy.With("The bucket policy does not exist: Raya governs access with ACLs, not policies."),
	"lifecycle":         s3err.FromCode("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist").WithStatus(404),
	"tagging":           s3err.FromCode("NoSuchTagSet", "The TagSet does not exist").WithStatus(404),
	"encryption":        s3err.FromCode("ServerSideEncryptionConfigurationNotFoundError", "The server side encryption configuration was not found").WithStatus(404),
	"website":           s3err.FromCode("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration").WithStatus(404),
	"replication":       s3err.FromCode("ReplicationConfigurationNotFoundError", "The replication configuration was not found").WithStatus(404),
	"object-lock":       s3err.FromCode("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket").WithStatus(404),
	"ownershipControls": s3err.FromCode("OwnershipControlsNotFoundError", "The bucket ownership controls were not found").WithStatus(404),
}

// emptyConfig answers GETs whose S3 answer for a plain bucket is an empty
// document.
var emptyConfig = map[string]any{
	"logging": struct {
		XMLName xml.Name `xml:"BucketLoggingStatus"`
		NS      string   `xml:"xmlns,attr"`
	}{NS: s3NS},
	"notification": struct {
		XMLName xml.Name `xml:"NotificationConfiguration"`
		NS      string   `xml:"xmlns,attr"`
	}{NS: s3NS},
	"accelerate": struct {
		XMLName xml.Name `xml:"AccelerateConfiguration"`
		NS      string   `xml:"xmlns,attr"`
	}{NS: s3NS},
	"requestPayment": struct {
		XMLName xml.Name `xml:"RequestPaymentConfiguration"`
		NS      string   `xml:"xmlns,attr"`
		Payer   string
	}{NS: s3NS, Payer: "BucketOwner"},
}

type emptyTagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr"`
	TagSet  struct{} `xml:"TagSet"`
}

// readAbsentConfig answers a GET of a configuration Raya does not keep.
func (h *Handler) readAbsentConfig(q *request) (bool, error) {
	if q.r.Method != http.MethodGet || q.bucket == "" {
		return false, nil
	}
	if q.key != "" {
		if !q.has("tagging") {
			return false, nil
		}
		b, be, err := h.loadBucket(q, q.bucket)
		if err != nil {
			return true, err
		}
		info, err := be.HeadObject(q.r.Context(), b.Name, q.key)
		if err != nil {
			return true, err
		}
		if err := h.objectAllows(q, b, q.key, info, meta.PermRead); err != nil {
			return true, err
		}
		return true, writeXML(q.w, http.StatusOK, emptyTagging{NS: s3NS})
	}
	for name, e := range absentConfig {
		if q.has(name) {
			if _, _, err := h.bucketOf(q, q.bucket, ownerOnly); err != nil {
				return true, err
			}
			return true, e
		}
	}
	for name, doc := range emptyConfig {
		if q.has(name) {
			if _, _, err := h.bucketOf(q, q.bucket, ownerOnly); err != nil {
				return true, err
			}
			return true, writeXML(q.w, http.StatusOK, doc)
		}
	}
	return false, nil
}

func (h *Handler) dispatch(q *request) error {
	r := q.r
	if done, err := h.readAbsentConfig(q); done {
		return err
	}
	for _, p := range policyCalls {
		if q.has(p) {
			return s3err.NotImplemented.With("Bucket policies are not supported: access is governed by ACLs.")
		}
	}
	if q.has("cors") && q.key == "" {
		q.op = "BucketCors"
		return h.bucketCORS(q)
	}
	if q.has("publicAccessBlock") && q.key == "" {
		q.op = "PublicAccessBlock"
		return h.publicAccessBlock(q)
	}
	for _, s := range unsupported {
		if q.has(s) {
			return s3err.NotImplemented.With("The " + s + " sub-resource is not implemented.")
		}
	}
	if q.bucket == "" {
		if r.Method == http.MethodGet {
			q.op = "ListBuckets"
			return h.listBuckets(q)
		}
		return s3err.MethodNotAllowed
	}
	if q.key == "" {
		return h.dispatchBucket(q)
	}
	return h.dispatchObject(q)
}

func (h *Handler) dispatchBucket(q *request) error {
	switch q.r.Method {
	case http.MethodGet:
		switch {
		case q.has("location"):
			q.op = "GetBucketLocation"
			return h.getBucketLocation(q)
		case q.has("versioning"):
			q.op = "GetBucketVersioning"
			return h.getBucketVersioning(q)
		case q.has("acl"):
			q.op = "GetBucketAcl"
			return h.getBucketACL(q)
		case q.has("versions"):
			q.op = "ListObjectVersions"
			return h.listObjectVersions(q)
		case q.has("uploads"):
			q.op = "ListMultipartUploads"
			return h.listMultipartUploads(q)
		case q.get("list-type") == "2":
			q.op = "ListObjectsV2"
			return h.listObjectsV2(q)
		default:
			q.op = "ListObjects"
			return h.listObjectsV1(q)
		}
	case http.MethodHead:
		q.op = "HeadBucket"
		return h.headBucket(q)
	case http.MethodPut:
		switch {
		case q.has("acl"):
			q.op = "PutBucketAcl"
			return h.putACL(q)
		case q.has("versioning"):
			return s3err.NotImplemented.With("Versioning is not supported.")
		case len(q.query) == 0:
			q.op = "CreateBucket"
			return h.createBucket(q)
		}
	case http.MethodDelete:
		if len(q.query) == 0 {
			q.op = "DeleteBucket"
			return h.deleteBucket(q)
		}
	case http.MethodPost:
		if q.has("delete") {
			q.op = "DeleteObjects"
			return h.deleteObjects(q)
		}
	}
	return s3err.NotImplemented
}

func (h *Handler) dispatchObject(q *request) error {
	r := q.r
	switch r.Method {
	case http.MethodGet:
		switch {
		case q.has("acl"):
			q.op = "GetObjectAcl"
			return h.getObjectACL(q)
		case q.has("uploadId"):
			q.op = "ListParts"
			return h.listParts(q)
		default:
			q.op = "GetObject"
			return h.getObject(q, false)
		}
	case http.MethodHead:
		q.op = "HeadObject"
		return h.getObject(q, true)
	case http.MethodPut:
		switch {
		case q.has("acl"):
			q.op = "PutObjectAcl"
			return h.putACL(q)
		case q.has("uploadId") || q.has("partNumber"):
			if r.Header.Get("X-Amz-Copy-Source") != "" {
				q.op = "UploadPartCopy"
				return h.uploadPartCopy(q)
			}
			q.op = "UploadPart"
			return h.uploadPart(q)
		case r.Header.Get("X-Amz-Copy-Source") != "":
			q.op = "CopyObject"
			return h.copyObject(q)
		default:
			q.op = "PutObject"
			return h.putObject(q)
		}
	case http.MethodDelete:
		if q.has("uploadId") {
			q.op = "AbortMultipartUpload"
			return h.abortMultipartUpload(q)
		}
		q.op = "DeleteObject"
		return h.deleteObject(q)
	case http.MethodPost:
		switch {
		case q.has("uploads"):
			q.op = "CreateMultipartUpload"
			return h.createMultipartUpload(q)
		case q.has("uploadId"):
			q.op = "CompleteMultipartUpload"
			return h.completeMultipartUpload(q)
		}
	}
	return s3err.NotImplemented
}
