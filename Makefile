# Raya: the front door. Every target is .PHONY; tool versions are pinned here.
GO        ?= go
BIN       := bin/raya
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# Tests that spawn clients need these on PATH / importable.
PY        ?= python3

.PHONY: all build run test test-unit deps lint fuzz bench clean

all: build

build: ## build bin/raya
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./gateway/cmd/raya

run: build ## run the gateway with embedded defaults (./data, 127.0.0.1:9000)
	./$(BIN) serve

deps: ## install what the tests need (aws cli, boto3), or say how
	@.ci/deps.sh

test: deps ## run every test: unit, conformance, fuzz seeds, end-to-end with real clients
	$(GO) test -race -count=1 -timeout 20m ./...

test-unit: ## the fast tests only (no end-to-end client runs)
	$(GO) test -race -count=1 -short ./...

lint: ## formatting and vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff

FUZZTIME ?= 30s
fuzz: ## run each fuzz target for FUZZTIME
	$(GO) test -run '^$$' -fuzz '^FuzzParseRange$$' -fuzztime $(FUZZTIME) ./gateway/objects
	@for f in $$($(GO) test -list '^Fuzz' ./gateway/sigv4 | grep '^Fuzz'); do \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./gateway/sigv4 || exit 1; done

bench: ## benchmarks through a real server: PUT/GET 4 KiB and 64 MiB, ListObjectsV2 over 10,000 keys
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3s ./gateway/app/ ./backends/fsbackend/ ./plugins/host/

clean:
	rm -rf bin

# --- Serverless and container deployments (functions/, template.yaml, infra/, localdev/) ---
LAMBDA_ARCH ?= arm64
LAMBDA_TAGS := lambda.norpc
IMAGE       ?= raya:$(VERSION)

.PHONY: lambda build-S3ApiFunction cfn-lint image localdev-config

lambda: ## build the Lambda bootstrap for arm64 and amd64 into bin/lambda/ARCH/bootstrap (provided.al2023)
	@for arch in arm64 amd64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -tags $(LAMBDA_TAGS) -trimpath -ldflags '-s -w' \
			-o bin/lambda/$$arch/bootstrap ./functions/s3api || exit 1; \
		echo "bin/lambda/$$arch/bootstrap"; done

build-S3ApiFunction: ## sam build (BuildMethod: makefile): the bootstrap into ARTIFACTS_DIR, for LAMBDA_ARCH (arm64, as template.yaml)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH) $(GO) build -tags $(LAMBDA_TAGS) -trimpath -ldflags '-s -w' \
		-o $(ARTIFACTS_DIR)/bootstrap ./functions/s3api

cfn-lint: ## lint template.yaml (cfn-lint must be installed: pipx install cfn-lint)
	cfn-lint template.yaml

image: ## build the raya serve container image (infra/Dockerfile) as IMAGE
	docker build -f infra/Dockerfile --build-arg VERSION=$(VERSION) -t $(IMAGE) .

localdev-config: ## check localdev/compose.yaml with the compose loader docker compose uses
	$(GO) test -count=1 -run TestCompose ./localdev/

.PHONY: proto
proto: ## regenerate plugins/proto/backendv1 (protoc: apt-get install protobuf-compiler; generators pinned in go.mod)
	plugins/proto/generate.sh
