# client-ip-guard: the Kong plugin, its Kong emulator and the kongconf CLI.
GO       ?= go
BIN      := bin
PLUGIN   := $(BIN)/client-ip-guard
PDKSRV   := $(BIN)/pdkserver
KONGCONF := $(BIN)/kongconf
# Bounded fuzzing: each target runs this long in `make fuzz`.
FUZZTIME ?= 30s

.PHONY: all build run test vet bench fuzz docker-test clean

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

test: build vet
	$(GO) test -count=1 -timeout 20m ./...

# Every benchmark BENCHMARKS.md reports (about 12 minutes), output in bench.out.
bench: build
	@GO=$(GO) bash scripts/bench.sh

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

docker-test:
	@bash scripts/docker-test.sh

clean:
	rm -rf $(BIN)
