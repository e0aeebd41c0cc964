# tcpaudit: the README names two set-up commands, `make demo` and `make test`.
# Both work on a fresh Debian machine that has only Go: the one system
# package we need, libpcap-dev (for gopacket/pcap via cgo), is installed here
# when pcap.h is missing.

GO      ?= go
BIN     := bin/tcpaudit
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps test-deps demo test vet bench bench-live pgo clean fuzz fuzz-smoke

all: build

deps:
	@if [ ! -f /usr/include/pcap.h ] && [ ! -f /usr/include/pcap/pcap.h ]; then \
		echo "pcap.h missing: installing libpcap-dev"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libpcap-dev; \
	fi

build: deps
	$(GO) build -o $(BIN) ./cmd/tcpaudit

demo: build
	./$(BIN) testdata/demo.pcap

vet: deps
	$(GO) vet ./...
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

# What the tests need beyond the build: Debian's chromium for the HTML report's
# browser test, and iproute2 + nftables + setcap for the network-namespace
# suite (which runs only as root and skips otherwise), and tcpdump to read
# back the evidence files the tests write.
test-deps: deps
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v nft >/dev/null || missing="$$missing nftables"; \
	command -v setcap >/dev/null || missing="$$missing libcap2-bin"; \
	command -v tcpdump >/dev/null || missing="$$missing tcpdump"; \
	if [ -n "$$missing" ]; then \
		echo "installing test dependencies:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

test: test-deps vet
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) fuzz-smoke

# Each fuzz target runs briefly on every `make test` (seed corpora are in the
# packages' testdata/fuzz); longer runs: make fuzz (LONGFUZZ=5m per target).
# The smoke runs are counted in executions, not seconds: a time limit can end
# a run mid-input, which go test reports as "context deadline exceeded".
FUZZ_READER ?= 100000x
FUZZ_DECODE ?= 200000x
FUZZ_TABLE  ?= 10000x
FUZZ_LADDER ?= 20000x
FUZZ_SHARDED ?= 3000x
fuzz-smoke:
	$(GO) test ./capture -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZ_READER)
	$(GO) test ./capture -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZ_DECODE)
	$(GO) test ./reassembly -run '^$$' -fuzz '^FuzzTable$$' -fuzztime $(FUZZ_TABLE)
	$(GO) test ./reassembly -run '^$$' -fuzz '^FuzzLadderRoundTrip$$' -fuzztime $(FUZZ_LADDER)
	$(GO) test ./reassembly -run '^$$' -fuzz '^FuzzShardedMatchesTable$$' -fuzztime $(FUZZ_SHARDED)

LONGFUZZ ?= 5m
fuzz:
	$(MAKE) fuzz-smoke FUZZ_READER=$(LONGFUZZ) FUZZ_DECODE=$(LONGFUZZ) FUZZ_TABLE=$(LONGFUZZ) FUZZ_LADDER=$(LONGFUZZ) FUZZ_SHARDED=$(LONGFUZZ)

# Benchmarks are commands, never tests: nothing in `make test` depends on the
# machine's speed. tcpbench generates (and caches) a large capture with
# cmd/tcpgen, then times tcpaudit, tcptrace and tshark on it side by side.
BENCHFLAGS ?= -runs 3
bench: build
	$(GO) run ./cmd/tcpbench $(BENCHFLAGS)
	$(GO) test -run '^$$' -bench . -benchmem ./capture ./reassembly ./report

# Profile-guided optimization: `go build` compiles tcpaudit with the CPU
# profile in cmd/tcpaudit/default.pgo. This regenerates it from runs on the
# bench capture (text and JSON reports); commit the result.
pgo: build
	$(GO) run ./cmd/tcpbench -pgo cmd/tcpaudit/default.pgo

# Live keep-up: tcpdump -w /dev/null and tcpaudit capture the same loopback
# connection flood, one pair per rate, stepping the rate up; each says what
# libpcap counted (captured, dropped). Needs root and tcpdump, and skips
# without them. LIVEFLAGS: e.g. -rates 50k,100k -step 5s -gen syn.
bench-live: deps
	@if [ "$$(id -u)" != 0 ]; then \
		echo "bench-live: skipped: needs root (packet capture on lo, raw socket for SYNs)"; \
	elif ! command -v tcpdump >/dev/null; then \
		echo "bench-live: skipped: tcpdump is not installed (make test-deps installs it)"; \
	else \
		$(GO) run ./cmd/tcpbench live $(LIVEFLAGS); \
	fi

clean:
	rm -rf bin
