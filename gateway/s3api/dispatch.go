package s3api

import (
	"net/http"

	"github.com/cloudraya/raya/gateway/s3err"
)

// unsupported lists sub-resources Raya does not implement; a request naming
// one gets NotImplemented rather than being mistaken for another operation.
var unsupported = []string{
	"accelerate", "analytics", "attributes", "cors", "encryption", "intelligent-tiering",
	"inventory", "legal-hold", "lifecycle", "logging", "metrics", "notification",
	"object-lock", "ownershipControls", "publicAccessBlock", "replication", "requestPayment",
	"restore", "retention", "select", "tagging", "torrent", "website", "versions", "renameObject",
	"session", "metadataConfiguration", "abac",
}

// policyCalls answer that access is governed by ACLs.
var policyCalls = []string{"policy", "policyStatus"}

func (h *Handler) dispatch(q *request) error {
	r := q.r
	for _, p := range policyCalls {
		if q.has(p) {
			return s3err.NotImplemented.With("Bucket policies are not supported: access is governed by ACLs.")
		}
	}
	for _, s := range unsupported {
		if q.has(s) {
			return s3err.NotImplemented.With("The " + s + " sub-resource is not implemented.")
		}
	}
	if q.bucket == "" {
		if r.Method == http.MethodGet {
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
			return h.getBucketLocation(q)
		case q.has("versioning"):
			return h.getBucketVersioning(q)
		case q.has("acl"):
			return h.getBucketACL(q)
		case q.has("uploads"):
			return h.listMultipartUploads(q)
		case q.get("list-type") == "2":
			return h.listObjectsV2(q)
		default:
			return h.listObjectsV1(q)
		}
	case http.MethodHead:
		return h.headBucket(q)
	case http.MethodPut:
		switch {
		case q.has("acl"):
			return h.putACL(q)
		case q.has("versioning"):
			return s3err.NotImplemented.With("Versioning is not supported.")
		case len(q.query) == 0:
			return h.createBucket(q)
		}
	case http.MethodDelete:
		if len(q.query) == 0 {
			return h.deleteBucket(q)
		}
	case http.MethodPost:
		if q.has("delete") {
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
			return h.getObjectACL(q)
		case q.has("uploadId"):
			return h.listParts(q)
		default:
			return h.getObject(q, false)
		}
	case http.MethodHead:
		return h.getObject(q, true)
	case http.MethodPut:
		switch {
		case q.has("acl"):
			return h.putACL(q)
		case q.has("uploadId") || q.has("partNumber"):
			if r.Header.Get("X-Amz-Copy-Source") != "" {
				return h.uploadPartCopy(q)
			}
			return h.uploadPart(q)
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return h.copyObject(q)
		default:
			return h.putObject(q)
		}
	case http.MethodDelete:
		if q.has("uploadId") {
			return h.abortMultipartUpload(q)
		}
		return h.deleteObject(q)
	case http.MethodPost:
		switch {
		case q.has("uploads"):
			return h.createMultipartUpload(q)
		case q.has("uploadId"):
			return h.completeMultipartUpload(q)
		}
	}
	return s3err.NotImplemented
}
