#!/usr/bin/env python3
"""Generate botocore-signed request fixtures for sigv4 tests.

Run from this folder: python3 gen_botocore.py > botocore_fixtures.json
The output is committed; Go tests do not need Python. Time is frozen so the
output is reproducible for a given botocore version.
"""
import base64
import datetime
import io
import json
import sys

import botocore
import botocore.auth
import botocore.session
from botocore.config import Config

NOW = datetime.datetime(2025, 3, 14, 15, 9, 26, tzinfo=datetime.timezone.utc)
AK = "AKIARAYATESTKEY00001"
SK = "raya/secret+key/EXAMPLE0123456789abcdefgh"

botocore.auth.get_current_datetime = lambda *a, **k: NOW.replace(tzinfo=None)


class _FrozenTime:
    @staticmethod
    def time():
        return NOW.timestamp()


botocore.auth.time = _FrozenTime
import email.utils as _eu

_orig_formatdate = _eu.formatdate
botocore.auth.formatdate = lambda timeval=None, localtime=False, usegmt=False: _orig_formatdate(
    NOW.timestamp() if timeval is None else timeval, localtime, usegmt)


class Captured(Exception):
    pass


def client(endpoint, **cfg):
    s = botocore.session.get_session()
    c = s.create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        config=Config(**cfg),
    )
    return c


def capture(c, op, **params):
    got = {}

    def before_send(request, **kw):
        body = request.body
        if body is None:
            b = b""
        elif isinstance(body, (bytes, bytearray)):
            b = bytes(body)
        elif isinstance(body, str):
            b = body.encode()
        else:
            b = body.read()
        got["method"] = request.method
        got["url"] = request.url
        got["headers"] = [[k, v if isinstance(v, str) else v.decode()] for k, v in request.headers.items()]
        got["body_b64"] = base64.b64encode(b).decode()
        raise Captured()

    c.meta.events.register("before-send.s3", before_send)
    try:
        getattr(c, op)(**params)
    except Captured:
        pass
    finally:
        c.meta.events.unregister("before-send.s3", before_send)
    return got


fixtures = []


def add(name, got, v2resource="", body=b"", trailer=None, presigned=False):
    got.update(
        name=name,
        now=int(NOW.timestamp()),
        access_key=AK,
        secret_key=SK,
        v2resource=v2resource,
        presigned=presigned,
        payload_b64=base64.b64encode(body).decode(),
        trailer=trailer or {},
    )
    fixtures.append(got)


KEY = "dir/my file+plus~ü(1).txt"
BODY = b"hello raya\n" * 3

# 1. Plain HTTP: header SigV4 with a signed SHA-256 payload and CRC32 header.
c = client("http://127.0.0.1:9000", s3={"addressing_style": "path"})
add("put-signed-payload-http", capture(c, "put_object", Bucket="bkt", Key=KEY, Body=BODY, ContentType="text/plain"), body=BODY)

# 2. HTTPS: aws-chunked STREAMING-UNSIGNED-PAYLOAD-TRAILER with trailing CRC32.
c = client("https://s3.example.test", s3={"addressing_style": "path"})
got = capture(c, "put_object", Bucket="bkt", Key=KEY, Body=io.BytesIO(BODY))
import zlib
crc = base64.b64encode(zlib.crc32(BODY).to_bytes(4, "big")).decode()
add("put-unsigned-trailer-https", got, body=BODY, trailer={"x-amz-checksum-crc32": crc})

# 2b. Virtual-hosted style, empty body, trailer.
c = client("https://s3.example.test", s3={"addressing_style": "virtual"})
got = capture(c, "put_object", Bucket="bkt", Key="empty", Body=io.BytesIO(b""))
add("put-unsigned-trailer-empty-virtual", got, body=b"", trailer={"x-amz-checksum-crc32": base64.b64encode(zlib.crc32(b"").to_bytes(4, "big")).decode()})

# 3. ListObjectsV2 with a prefix that needs query encoding.
c = client("https://s3.example.test", s3={"addressing_style": "path"})
add("list-v2-query-encoding", capture(c, "list_objects_v2", Bucket="bkt", Prefix="a b+c/ü*", Delimiter="/", MaxKeys=7))

# 4. Presigned SigV4 GET.
c = client("https://s3.example.test", signature_version="s3v4", s3={"addressing_style": "path"})
url = c.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": KEY, "ResponseContentDisposition": 'attachment; filename="x y.txt"'}, ExpiresIn=3600)
add("presign-v4-get", {"method": "GET", "url": url, "headers": [], "body_b64": ""}, presigned=True)

# 4b. Presigned SigV4 PUT.
url = c.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": "up/load.bin"}, ExpiresIn=600)
add("presign-v4-put", {"method": "PUT", "url": url, "headers": [], "body_b64": base64.b64encode(BODY).decode()}, body=BODY, presigned=True)

# 5. Presigned SigV2 GET (aws-cli 1.x / boto3 default for signature_version="s3").
c = client("https://s3.example.test", signature_version="s3", s3={"addressing_style": "path"})
url = c.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": KEY, "ResponseContentType": "text/plain; charset=utf-8", "VersionId": "v1+x"}, ExpiresIn=3600)
add("presign-v2-get", {"method": "GET", "url": url, "headers": [], "body_b64": ""}, v2resource="/bkt/" + botocore.utils.percent_encode(KEY, safe="/~"), presigned=True)

# 5b. Presigned SigV2 GET, virtual-hosted.
c = client("https://s3.example.test", signature_version="s3", s3={"addressing_style": "virtual"})
url = c.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "plain.txt"}, ExpiresIn=900)
add("presign-v2-get-virtual", {"method": "GET", "url": url, "headers": [], "body_b64": ""}, v2resource="/bkt/plain.txt", presigned=True)

# 6. SigV2 header auth: GetObjectAcl (sub-resource) and a PUT with metadata.
c = client("https://s3.example.test", signature_version="s3", s3={"addressing_style": "path"})
add("v2-header-get-acl", capture(c, "get_object_acl", Bucket="bkt", Key="k.txt"), v2resource="/bkt/k.txt")
got = capture(c, "put_object", Bucket="bkt", Key="m.txt", Body=b"meta", Metadata={"Color": "blue  green"}, ContentType="text/plain")
add("v2-header-put-meta", got, v2resource="/bkt/m.txt", body=b"meta")

json.dump({"botocore": botocore.__version__, "fixtures": fixtures}, sys.stdout, indent=1, ensure_ascii=False)
print()
