# Protect: the two commands a newcomer needs are `make run` and `make test`.
# Both start a local PostgreSQL and Redis when none is reachable.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
BIN      := bin/protect

.PHONY: run test bench bench-import bench-plan bench-webhook bench-pace bench-voice bench-escalation bench-report chaos soak lint fuzz build services clean

## build: compile bin/protect
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/protect

## services: make sure PostgreSQL and Redis are reachable (starting or installing them locally)
services:
	@scripts/services.sh --create-db --run

## run: the gateway with its workers on the built-in Twilio sandbox (PROTECT_SANDBOX=0 make run: real Twilio)
PROTECT_SANDBOX ?= 1
run: services build
	PROTECT_SANDBOX=$(PROTECT_SANDBOX) $(BIN) run

## test: lint, then every test, against the real PostgreSQL and Redis
test: lint
	@scripts/services.sh --test
	@scripts/browser.sh
	$(GO) test -count=1 -timeout 20m ./...

## chaos: the fault harness (CHAOS.md): real processes, kill -9, a lossy Twilio, a PostgreSQL restart, broken cohort files
chaos: services build
	$(GO) run ./bench/chaos -bin $(BIN) -scenario all

## soak: many processes under faults (CHAOS.md): 2 serve, 3 workers, PgBouncer, Redis Sentinel; kill -9 of workers, a serve, the Redis master
soak: services build
	$(GO) run ./bench/chaos -bin $(BIN) -scenario soak

## lint: gofmt, go vet, go mod tidy -diff and staticcheck
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy"; exit 1; }
	$(STATICCHECK) ./...

## fuzz: run each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	@scripts/services.sh --test
	@for spec in \
		nhsnumber:FuzzParse phone:FuzzParse outreach/cohort:FuzzValidate outreach/cohort:FuzzParseHeader outreach/cohort:FuzzImport \
		questionnaire:FuzzNormalize questionnaire:FuzzMatch questionnaire:FuzzLoad \
		templates:FuzzParse templates:FuzzCountSMS templateadmin:FuzzDiffText window:FuzzParse internal/clip:FuzzText redact:FuzzScrub internal/spool:FuzzReadPending; do \
		pkg=$${spec%%:*}; fn=$${spec##*:}; \
		echo "== $$pkg $$fn"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

## bench: the benchmarks whose figures are in BENCHMARKS.md
bench: bench-import bench-plan bench-webhook bench-pace bench-voice bench-escalation bench-report

bench-import: build
	$(GO) run ./bench/importbench -rows 1000000

bench-plan: build
	$(GO) run ./bench/planbench -patients 1000000

bench-webhook: build
	$(GO) run ./bench/webhookbench -rate 2000 -duration 20s

bench-pace: build
	$(GO) run ./bench/pacebench

bench-voice:
	$(GO) run ./bench/voicebench -rate 500 -duration 20s

clean:
	rm -rf bin

bench-escalation: build
	$(GO) run ./bench/escalationbench -mode all -rate 500 -duration 20s

# About 5 GB of database while it runs, dropped at the end (-keep keeps it).
bench-report:
	$(GO) run ./bench/reportbench -patients 1000000 -attempts 10000000
