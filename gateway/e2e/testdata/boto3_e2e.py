#!/usr/bin/env python3
"""boto3 scenario for the raya e2e suite (driven by boto3_test.go).

Configuration comes from the environment:
  RAYA_E2E_ENDPOINT  http(s)://127.0.0.1:PORT
  RAYA_E2E_ACCESS_KEY, RAYA_E2E_SECRET_KEY
  RAYA_E2E_CA        CA bundle for https (optional)
  RAYA_E2E_BUCKET    bucket to create and use
  RAYA_E2E_WORKDIR   scratch folder for files

Prints "PASS <step>" lines; any failure raises (non-zero exit).
"""

import hashlib
import io
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

MiB = 1024 * 1024

endpoint = os.environ["RAYA_E2E_ENDPOINT"]
ak = os.environ["RAYA_E2E_ACCESS_KEY"]
sk = os.environ["RAYA_E2E_SECRET_KEY"]
ca = os.environ.get("RAYA_E2E_CA") or None
bucket = os.environ["RAYA_E2E_BUCKET"]
workdir = os.environ["RAYA_E2E_WORKDIR"]

failures = []  # steps that fail without stopping the script
ssl_ctx = ssl.create_default_context(cafile=ca) if ca else None


def client(**cfg):
    cfg.setdefault("retries", {"max_attempts": 1})
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ak,
        aws_secret_access_key=sk,
        region_name="us-east-1",
        verify=ca if ca else True,
        config=Config(s3={"addressing_style": "path"}, **cfg),
    )


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_error(fn, code, status):
    try:
        fn()
    except ClientError as e:
        got_code = e.response.get("Error", {}).get("Code")
        got_status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        check(got_code == code and got_status == status,
              "want %s (%d), got %s (%s): %s" % (code, status, got_code, got_status, e))
        check(e.response.get("ResponseMetadata", {}).get("RequestId"),
              "error %s without a request ID" % code)
        return
    raise AssertionError("want %s (%d), got success" % (code, status))


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ssl_ctx, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


s3 = client()
s3v4 = client(signature_version="s3v4")

s3.create_bucket(Bucket=bucket)
print("PASS create_bucket")

# put_object / get_object with metadata.
body = os.urandom(50_000)
put = s3.put_object(Bucket=bucket, Key="py/obj.bin", Body=body, ContentType="application/x-py",
                    Metadata={"lang": "python", "note": "a, b"})
check(put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), "put_object ETag %s" % put["ETag"])
got = s3.get_object(Bucket=bucket, Key="py/obj.bin")
data = got["Body"].read()
check(data == body, "get_object body mismatch (%d bytes, want %d)" % (len(data), len(body)))
check(got["ContentType"] == "application/x-py", "ContentType %r" % got["ContentType"])
check(got["Metadata"] == {"lang": "python", "note": "a, b"}, "Metadata %r" % got["Metadata"])
print("PASS put_object_get_object")

rng = s3.get_object(Bucket=bucket, Key="py/obj.bin", Range="bytes=100-199")
check(rng["Body"].read() == body[100:200], "ranged get_object mismatch")
check(rng["ContentRange"] == "bytes 100-199/50000", "ContentRange %r" % rng["ContentRange"])
print("PASS get_object_range")

expect_error(lambda: s3.get_object(Bucket=bucket, Key="py/missing"), "NoSuchKey", 404)
expect_error(lambda: s3.head_object(Bucket=bucket, Key="py/missing"), "404", 404)
print("PASS errors")

# Refused uploads must surface as S3 errors, not connection errors (over TLS
# botocore streams aws-chunked bodies; the server must drain them).
big_body = os.urandom(2 * MiB)
s3.put_object(Bucket=bucket, Key="py/once", Body=b"first")
expect_error(lambda: s3.put_object(Bucket=bucket, Key="py/once", Body=big_body, IfNoneMatch="*"),
             "PreconditionFailed", 412)
check(s3.get_object(Bucket=bucket, Key="py/once")["Body"].read() == b"first", "refused conditional put changed the object")
mpu = s3.create_multipart_upload(Bucket=bucket, Key="py/aborted")
s3.abort_multipart_upload(Bucket=bucket, Key="py/aborted", UploadId=mpu["UploadId"])
expect_error(lambda: s3.upload_part(Bucket=bucket, Key="py/aborted", UploadId=mpu["UploadId"], PartNumber=1, Body=big_body),
             "NoSuchUpload", 404)
s3.delete_object(Bucket=bucket, Key="py/once")
print("PASS refused_uploads")

# An empty upload followed by another upload on the same connection (what
# `aws s3 sync` does with empty files). botocore sends Expect: 100-continue
# for both; if the server answers the empty one without a 100 Continue,
# botocore reuses that status line for the next response on the connection,
# fails to parse it and waits for the read timeout.
def empty_upload_then_upload():
    single = client(read_timeout=10, max_pool_connections=1)
    single.put_object(Bucket=bucket, Key="py/empty-file", Body=io.BytesIO(b""))
    t0 = time.time()
    try:
        single.put_object(Bucket=bucket, Key="py/after-empty", Body=io.BytesIO(b"n" * 70000))
    except Exception as e:  # botocore.exceptions.ReadTimeoutError
        raise AssertionError("upload after an empty upload failed after %.1fs: %r" % (time.time() - t0, e))
    check(time.time() - t0 < 5, "upload after an empty upload took %.1fs" % (time.time() - t0))
    check(s3.get_object(Bucket=bucket, Key="py/after-empty")["Body"].read() == b"n" * 70000,
          "upload after empty upload content")


try:
    empty_upload_then_upload()
    print("PASS empty_upload_then_upload")
except AssertionError as e:
    failures.append("empty_upload_then_upload: %s" % e)
    print("FAIL empty_upload_then_upload: %s" % e)
s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "py/empty-file"}, {"Key": "py/after-empty"}]})

# Multipart through the transfer manager: 16 MiB with 5 MiB threshold and chunks.
src = os.path.join(workdir, "big.bin")
with open(src, "wb") as f:
    f.write(os.urandom(16 * MiB))
tc = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
s3.upload_file(src, bucket, "py/big.bin", Config=tc)
head = s3.head_object(Bucket=bucket, Key="py/big.bin")
check(head["ContentLength"] == 16 * MiB, "big ContentLength %r" % head["ContentLength"])
check(head["ETag"].endswith('-4"'), "big ETag %s, want a 4-part multipart ETag" % head["ETag"])
dst = os.path.join(workdir, "big.down")
s3.download_file(bucket, "py/big.bin", dst, Config=tc)
check(sha256_file(dst) == sha256_file(src), "download_file content mismatch")
print("PASS upload_file_download_file_multipart")

# Presigned GET with the default signer (SigV2 for s3 in boto3) and with s3v4.
for name, c in (("default", s3), ("s3v4", s3v4)):
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "py/obj.bin"}, ExpiresIn=300)
    kind = "sigv4" if "X-Amz-Signature=" in url else ("sigv2" if "Signature=" in url else "unknown")
    status, data = http("GET", url)
    check(status == 200, "presigned GET (%s, %s) %s -> %d %r" % (name, kind, url, status, data[:300]))
    check(data == body, "presigned GET (%s) body mismatch" % name)
    print("PASS presigned_get_%s (%s)" % (name, kind))

# Presigned PUT used with urllib. The Content-Type is part of the signature
# (SigV2 always signs it; urllib would otherwise send form-urlencoded).
for name, c in (("default", s3), ("s3v4", s3v4)):
    key = "py/presigned-put-%s.txt" % name
    url = c.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key, "ContentType": "text/plain"},
                                   ExpiresIn=300)
    kind = "sigv4" if "X-Amz-Signature=" in url else ("sigv2" if "Signature=" in url else "unknown")
    payload = ("uploaded with a %s presigned url" % name).encode()
    status, data = http("PUT", url, body=payload, headers={"Content-Type": "text/plain"})
    check(status == 200, "presigned PUT (%s, %s) -> %d %r" % (name, kind, status, data[:300]))
    obj = s3.get_object(Bucket=bucket, Key=key)
    check(obj["Body"].read() == payload, "presigned PUT (%s) content" % name)
    check(obj["ContentType"] == "text/plain", "presigned PUT (%s) ContentType %r" % (name, obj["ContentType"]))
    print("PASS presigned_put_%s (%s)" % (name, kind))

# delete_objects (sends x-amz-checksum-crc32 / no Content-MD5 in current botocore).
keys = ["py/obj.bin", "py/big.bin", "py/presigned-put-default.txt", "py/presigned-put-s3v4.txt", "py/never-existed"]
res = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
deleted = sorted(d["Key"] for d in res.get("Deleted", []))
check(deleted == sorted(keys), "delete_objects Deleted %r" % deleted)
check(not res.get("Errors"), "delete_objects Errors %r" % res.get("Errors"))
left = s3.list_objects_v2(Bucket=bucket)
check(left["KeyCount"] == 0 and not left.get("Contents"), "bucket not empty after delete_objects: %r" % left.get("Contents"))
print("PASS delete_objects")

s3.delete_bucket(Bucket=bucket)
expect_error(lambda: s3.head_bucket(Bucket=bucket), "404", 404)
print("PASS delete_bucket")
sys.stdout.flush()
if failures:
    sys.exit("FAILED: " + "; ".join(failures))
