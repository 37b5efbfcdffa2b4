# The two commands the README promises: `make run` (the main job, locally, on embedded defaults)
# and `make test` (every test). Both install what is missing first (scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(CURDIR)/bin:$(PATH)
# glibc keeps one malloc arena per thread; libvips' worker threads then hold on to freed pages.
# Two arenas keep RSS flat across many images (make bench's "Memory over many images").
export MALLOC_ARENA_MAX ?= 2
FUZZTIME ?= 6s
# The shared corpus sits beside the repository here and in CI; when it does, tests that read it
# must not skip.
REQUIRE_CORPUS ?= $(if $(wildcard ../shared/testdata/images/MANIFEST.tsv),1,0)
export REQUIRE_CORPUS
# Every parser of untrusted input has a fuzz target; CI runs each for FUZZTIME.
FUZZ_TARGETS := \
	FuzzSniff:./internal/imageproc \
	FuzzWebPLayout:./internal/imageproc \
	FuzzParseTarget:./internal/graph \
	FuzzSniffImage:./internal/graph/graphtest \
	FuzzParseCredentials:./internal/secrets \
	FuzzConvert:./internal/s3notify \
	FuzzEncodeKey:./internal/s3notify \
	FuzzParseReport:./internal/rietest \
	FuzzDecode:./internal/onupload \
	FuzzDecodeEvent:./internal/api \
	FuzzDecodeRecord:./internal/photostate \
	FuzzParseNames:./internal/api \
	FuzzEscapePath:./internal/api \
	FuzzServeHTTP:./internal/secrets/secretstest
SAMPLES ?= $(wildcard ../shared/testdata/images/jpeg_camera_3mp_canon_exif6.jpg ../shared/testdata/images/heic_iphone13_12mp.heic ../shared/testdata/images/png_rgba_bird.png ../shared/testdata/images/jpeg_cmyk_swop_icc.jpg ../shared/testdata/images/bomb_png_4gpx.png)

.PHONY: setup build run demo normalise test fuzz bench vet lint soak scale unchanged

setup:
	@bash scripts/setup.sh

build: setup
	go build -o bin/graphphoto ./cmd/graphphoto

# The main job, locally: the whole stack on loopback, sample photos through S3 and the API, a
# table of outcomes, then the Graph emulator's gallery until Ctrl-C (DEMO_EXIT=1 exits after the
# table).
run: setup
	go run ./cmd/devstack --demo

demo: run

# The normaliser alone, on the shared corpus or SAMPLES="a.jpg b.heic".
normalise: build
	@mkdir -p out
	bin/graphphoto normalise --out out $(SAMPLES)

vet: setup
	go vet ./...

test: setup
	go vet ./...
	go test -count=1 ./...
	$(MAKE) --no-print-directory fuzz

# The template through AWS's CloudFormation linter (cfn-lint applies the SAM transform with AWS's
# own translator and checks the result against the resource specification: property names,
# types, enum values), and gofmt. cfn-lint is a Python tool that none of the package registries
# this project installs from serves, so it is not part of make test; make lint fails without it.
lint:
	@command -v cfn-lint >/dev/null || { echo "make lint needs cfn-lint (pip install cfn-lint); it is not installed" >&2; exit 1; }
	cfn-lint template.yaml
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:" >&2; echo "$$out" >&2; exit 1; fi

fuzz: setup
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t%%:*} ($(FUZZTIME))"; \
		go test -run='^$$' -fuzz="^$${t%%:*}$$" -fuzztime=$(FUZZTIME) "$${t#*:}"; \
	done

# The benchmark report: normaliser per corpus file (warm and one process per image) beside
# vipsthumbnail and sharp in the same run, INIT under the RIE, per-object overhead on the local
# stack, RSS over 1,000 images; written to docs/benchmarks.md. The sharp reference is the
# project's own (bench/sharp), installed with npm into a cache outside the work tree; npm runs
# again only when bench/sharp/package.json changes.
SHARP_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/graphphoto/sharp
bench: setup
	@command -v vipsthumbnail >/dev/null || apt-get install -y libvips-tools || sudo apt-get install -y libvips-tools
	@mkdir -p "$(SHARP_DIR)" && cp bench/sharp/reference.js "$(SHARP_DIR)/"
	@if ! cmp -s bench/sharp/package.json "$(SHARP_DIR)/package.json" || [ ! -d "$(SHARP_DIR)/node_modules/sharp" ]; then \
		cp bench/sharp/package.json "$(SHARP_DIR)/" && \
		(cd "$(SHARP_DIR)" && npm install --no-audit --no-fund --no-package-lock); fi
	go run ./cmd/benchreport -out docs/benchmarks.md -sharp "$(SHARP_DIR)" -rss-images 1000

# The long proofs (bounded forms run in make test): 1,000 uploads under Graph faults,
# a 10,000-object backfill through SQS and S3 Batch Operations against a tenant throttle, and
# the nightly re-export of unchanged photos.
soak: setup
	STRESS_FAULT_UPLOADS=1000 STRESS_TIMEOUT=60m go test -count=1 -v -timeout=70m -run='^TestFaults$$' ./internal/stress

scale: setup
	STRESS_SCALE_OBJECTS=10000 STRESS_RATE_GOAL=0.9 STRESS_TIMEOUT=150m go test -count=1 -v -timeout=160m -run='^TestScale$$' ./internal/stress

# The nightly full export: 1,000 photos synced, exported again (no Graph write), then 5 % changed
# at the source and 2 % in Graph (exactly those written); make test runs it with 100.
unchanged: setup
	STRESS_UNCHANGED_PHOTOS=1000 STRESS_TIMEOUT=60m go test -count=1 -v -timeout=70m -run='^TestUnchanged$$' ./internal/stress
