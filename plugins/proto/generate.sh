#!/usr/bin/env bash
# Regenerates the Go code of the plugin protocol (make proto).
#
# protoc comes from Debian's protobuf-compiler package (apt-get install
# protobuf-compiler); the Go generators are pinned by the tool directives in
# go.mod and run with `go tool`, so every machine generates the same code.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v protoc >/dev/null; then
	echo "generate.sh: protoc not found; install Debian's protobuf-compiler (apt-get install protobuf-compiler)" >&2
	exit 1
fi

# `go tool -n` builds the generator pinned by go.mod's tool directive (cached)
# and prints its path, which protoc then runs as a plugin.
gen_go=$(go tool -n protoc-gen-go)
gen_go_grpc=$(go tool -n protoc-gen-go-grpc)

for dir in backendv1; do
	protoc \
		--plugin=protoc-gen-go="$gen_go" \
		--plugin=protoc-gen-go-grpc="$gen_go_grpc" \
		--proto_path=. \
		--go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative \
		"$dir"/*.proto
done
