#!/usr/bin/env bash
# Installs what the tests need and the machine lacks: redis-server (the
# Redis metadata store's tests start real servers and a real cluster), the
# aws cli and boto3 (the Go clients come through the Go module proxy). On
# Debian as root it installs them with apt; elsewhere it says what to run.
# s3cmd and curl are real clients of the access tests.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v s3cmd >/dev/null 2>&1 || missing+=(s3cmd)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v aws >/dev/null 2>&1 || missing+=(awscli)
python3 -c 'import boto3' >/dev/null 2>&1 || missing+=(python3-boto3)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  exit 0
fi
echo "The end-to-end tests need: ${missing[*]}" >&2
echo "Install them with: sudo apt-get install -y ${missing[*]}   (or: pip install awscli boto3)" >&2
exit 1
