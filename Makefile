# client-ip-guard: the Kong plugin, its Kong emulator and the kongconf CLI.
GO       ?= go
BIN      := bin
PLUGIN   := $(BIN)/client-ip-guard
PDKSRV   := $(BIN)/pdkserver
KONGCONF := $(BIN)/kongconf
# Bounded fuzzing: each target runs this long in `make fuzz`.
FUZZTIME ?= 30s
# staticcheck, pinned; `go run pkg@version` fetches it through the module proxy
# without adding it to go.mod.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

# Packages with goroutines, locks or shared state, run again under the race
# detector by `make test` (the soak is left out: it is one minute of load
# whose timing bounds the detector's slowdown would break).
RACE_PKGS := ./pdkserver/... ./plugin/sink ./plugin/procstats ./plugin/guard ./plugin/guardconf ./plugin/realip ./kongconf/admin

.PHONY: all build run test test-short vet bench fuzz docker-test clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(PLUGIN) ./plugin/cmd/client-ip-guard
	@if [ -d pdkserver/cmd/pdkserver ]; then $(GO) build -o $(PDKSRV) ./pdkserver/cmd/pdkserver; fi
	@if [ -d kongconf/cmd/kongconf ]; then $(GO) build -o $(KONGCONF) ./kongconf/cmd/kongconf; fi

# The one-command demo: no Kong, no Docker, no nginx.
run: build
	$(PDKSRV) -c kong.conf -d kong.yml -demo $(ARGS)

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

test: build vet
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -race -count=1 -timeout 20m -skip '^TestSoak$$' $(RACE_PKGS)

# The quick loop: no soak, load or nginx differential tests (under a minute).
test-short:
	$(GO) test -short ./...

# Every benchmark BENCHMARKS.md reports (4 minutes on 2 quiet cores), output in bench.out.
bench: build
	@GO=$(GO) bash scripts/bench.sh

fuzz:
	@GO=$(GO) FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

docker-test:
	@bash scripts/docker-test.sh

clean:
	rm -rf $(BIN)
