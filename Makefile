# Sluice — the README's commands. `make help` lists them.
MODULES := events pkg services/ingest services/admission services/placement services/scheduler services/executorproxy services/sluice
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
BIN := bin

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build the sluice command into bin/sluice
	$(GO) build -o $(BIN)/sluice ./services/sluice

.PHONY: run
run: build ## Start Sluice (embedded NATS, five services, two DuckDB clusters) on http://127.0.0.1:8080
	$(BIN)/sluice up

.PHONY: test
test: ## Run every module's tests, end-to-end and crash tests included (also builds each module alone)
	@set -e; for m in $(MODULES); do \
		echo "== $$m"; \
		(cd $$m && GOWORK=off $(GO) build ./... ); \
	done
	$(GO) test -count=1 -timeout 15m $(addprefix ./,$(addsuffix /...,$(MODULES)))

.PHONY: bench
bench: ## Run the benchmarks and print the figures the issues ask for (see docs/benchmarks.md)
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 20m ./services/sluice/bench/ ./services/admission/ ./services/admission/internal/groups/ ./services/placement/internal/framework/ ./services/scheduler/ ./services/scheduler/internal/plans/ | tee bench.out

.PHONY: fuzz
fuzz: ## Fuzz the parsers for 30 s each
	$(GO) test ./pkg/clientsession/ -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./events/ -run '^$$' -fuzz FuzzDecode -fuzztime 30s
	$(GO) test ./events/ -run '^$$' -fuzz FuzzFragmentBatch -fuzztime 30s
	$(GO) test ./services/executorproxy/internal/trinowire/ -run '^$$' -fuzz FuzzErrorFromDuckDB -fuzztime 30s
	$(GO) test ./services/admission/rgspec/ -run '^$$' -fuzz FuzzParse -fuzztime 30s
	$(GO) test ./services/placement/internal/framework/ -run '^$$' -fuzz FuzzParseConfig -fuzztime 30s
	$(GO) test ./services/placement/internal/routing/ -run '^$$' -fuzz FuzzParseRules -fuzztime 30s
	$(GO) test ./pkg/sqltext/ -run '^$$' -fuzz FuzzSQLText -fuzztime 30s
	$(GO) test ./pkg/confcheck/ -run '^$$' -fuzz FuzzDecodeStrict -fuzztime 30s
	$(GO) test ./services/executorproxy/internal/coordinator/ -run '^$$' -fuzz FuzzParseDuration -fuzztime 30s
	$(GO) test ./pkg/fragment/ -run '^$$' -fuzz FuzzParse -fuzztime 30s -fuzzminimizetime 3s
	$(GO) test ./services/executorproxy/internal/substraitsql/ -run '^$$' -fuzz FuzzTranslate -fuzztime 30s -fuzzminimizetime 3s
	$(GO) test ./services/ingest/internal/api/ -run '^$$' -fuzz FuzzPlanIntake -fuzztime 30s -fuzzminimizetime 3s

.PHONY: lint
lint: ## gofmt, go vet and staticcheck over every module
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(addprefix ./,$(addsuffix /...,$(MODULES)))
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(addprefix ./,$(addsuffix /...,$(MODULES)))

.PHONY: tidy
tidy: ## go mod tidy in every module
	@for m in $(MODULES); do (cd $$m && GOWORK=off $(GO) mod tidy); done

.PHONY: clean
clean: ## Remove build output and the default data directory
	rm -rf $(BIN) .sluice bench.out
