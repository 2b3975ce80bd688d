#!/bin/sh
# Seed a running Raya: create a bucket with the root key, issue a key pair
# for that bucket alone, and print an aws cli command that uses it.
#
#   RAYA_ENDPOINT=http://127.0.0.1:9000 RAYA_ACCESS_KEY=... RAYA_SECRET_KEY=... ./localdev/seed.sh [BUCKET]
#
# Needs curl (7.75 or later, for --aws-sigv4) and the raya binary (RAYA_BIN,
# default: raya on PATH). `docker compose run --rm seed` runs it with both.
set -eu

: "${RAYA_ENDPOINT:=http://127.0.0.1:9000}"
: "${RAYA_ACCESS_KEY:?set RAYA_ACCESS_KEY to the root access key}"
: "${RAYA_SECRET_KEY:?set RAYA_SECRET_KEY to the root secret key}"
: "${RAYA_REGION:=us-east-1}"
: "${RAYA_BIN:=raya}"
# The endpoint the printed command uses (from the host, not the compose network).
: "${PUBLIC_ENDPOINT:=$RAYA_ENDPOINT}"
BUCKET=${1:-demo}
export RAYA_ENDPOINT RAYA_ACCESS_KEY RAYA_SECRET_KEY

echo "waiting for $RAYA_ENDPOINT/readyz ..." >&2
i=0
until curl -fsS "$RAYA_ENDPOINT/readyz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -ge 60 ]; then
		echo "seed: Raya is not ready at $RAYA_ENDPOINT after 60s" >&2
		exit 1
	fi
	sleep 1
done

out=$(mktemp)
trap 'rm -f "$out"' EXIT
code=$(curl -sS -o "$out" -w '%{http_code}' -X PUT \
	--aws-sigv4 "aws:amz:$RAYA_REGION:s3" --user "$RAYA_ACCESS_KEY:$RAYA_SECRET_KEY" \
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
	"$RAYA_ENDPOINT/$BUCKET")
case "$code" in
200) echo "created bucket $BUCKET" >&2 ;;
409)
	if grep -q BucketAlreadyOwnedByYou "$out"; then
		echo "bucket $BUCKET exists already" >&2
	else
		echo "seed: cannot create bucket $BUCKET:" >&2
		cat "$out" >&2
		exit 1
	fi
	;;
*)
	echo "seed: creating bucket $BUCKET answered HTTP $code:" >&2
	cat "$out" >&2
	exit 1
	;;
esac

key=$("$RAYA_BIN" key create --bucket "$BUCKET" --label localdev-seed --json)
ak=$(printf '%s' "$key" | sed -n 's/.*"accessKeyId" *: *"\([^"]*\)".*/\1/p')
sk=$(printf '%s' "$key" | sed -n 's/.*"secretAccessKey" *: *"\([^"]*\)".*/\1/p')
if [ -z "$ak" ] || [ -z "$sk" ]; then
	echo "seed: unexpected answer from raya key create: $key" >&2
	exit 1
fi

cat <<EOT
Bucket:      $BUCKET
Access key:  $ak
Secret key:  $sk   (shown once)

Try:
  AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_DEFAULT_REGION=$RAYA_REGION \\
    aws --endpoint-url $PUBLIC_ENDPOINT s3 cp ./README.md s3://$BUCKET/README.md
  AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_DEFAULT_REGION=$RAYA_REGION \\
    aws --endpoint-url $PUBLIC_ENDPOINT s3 ls s3://$BUCKET/
EOT
