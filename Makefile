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
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3s ./gateway/e2e/ ./backends/fsbackend/

clean:
	rm -rf bin
