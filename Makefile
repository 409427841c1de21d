# Lookout — see README.md. `make help` lists the targets.
GO       ?= go
BIN      := bin
LDFLAGS  := -s -w -X github.com/lookout-synthetics/lookout/internal/buildinfo.Version=$(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
export CGO_ENABLED ?= 0

.PHONY: help build test test-docker lint proto proto-check demo bench deps clean

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/lookout-controller and bin/lookout-agent (static)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/lookout-controller ./controller
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/lookout-agent ./agent

demo: build ## run the whole system locally: controller, embedded NATS, a public and a private agent, a demo mTLS API (DURATION=2m to stop by itself)
	$(BIN)/lookout-controller dev $(if $(DURATION),--duration $(DURATION))

test: deps ## run every test with the race detector (unit + end-to-end on loopback)
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 15m ./...

test-docker: ## the cross-network suite in containers (FROM scratch images, docker-compose); skips without Docker
	$(GO) test -tags docker -count=1 -timeout 20m -v ./internal/dockertest/

lint: ## gofmt, go vet and staticcheck (pinned in go.mod)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "not gofmt-formatted (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

proto: ## regenerate internal/pb/lookoutv1 from proto/ (installs protoc when missing, as root)
	@scripts/install-deps.sh proto
	scripts/genproto.sh

proto-check: proto ## fail if the committed generated code is stale
	git diff --exit-code -- internal/pb/ || { echo "generated code is stale: run 'make proto' and commit"; exit 1; }

bench: ## print benchmark figures (agent step cost vs bare net/http, schedule, storage, secrets path, controller throughput/latency/memory/scale, alert delivery, console overview, metrics scrape and monitor status)
	$(GO) run ./agent/internal/runner/bench
	$(GO) run ./controller/internal/scheduler/bench
	$(GO) run ./internal/bench/cmd/lookout-bench
	$(GO) run ./internal/bench/cmd/lookout-ctlbench
	$(GO) run ./internal/bench/cmd/lookout-storebench
	$(GO) run ./controller/internal/alerting/bench
	$(GO) run ./controller/internal/console/bench
	$(GO) run ./controller/internal/collect/bench

deps: ## install what the tests need (openssl, gcc for -race, chromium for the browser tests) when missing; without root, name it
	@scripts/install-deps.sh test

clean: ## remove build output
	rm -rf $(BIN)
