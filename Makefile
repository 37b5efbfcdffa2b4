# The two commands the README promises: `make run` (the main job, locally, on embedded defaults)
# and `make test` (every test). Both install what is missing first (scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(CURDIR)/bin:$(PATH)
# glibc keeps one malloc arena per thread; libvips' worker threads then hold on to freed pages.
# Two arenas keep RSS flat across many images (make bench's "Memory over many images").
export MALLOC_ARENA_MAX ?= 2
# Every parser of untrusted input has a fuzz target; make test runs each for FUZZTIME. A count of
# executions rather than a duration: go test's fuzzing deadline can expire while a worker is busy
# on a loaded machine and fail the run with "context deadline exceeded", which finds no bug.
FUZZTIME ?= 20000x
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
SAMPLES ?= $(addprefix testdata/images/,jpeg_camera_3mp_canon_exif6.jpg heic_iphone13_12mp.heic avif_12mp_irot.avif tiff_cmyk_fogra39.tif png_p3_alpha_tiny.png)
# A larger image corpus (a folder with a MANIFEST.tsv like testdata/images) for test-corpus and
# bench; make test never reads it.
PHOTO_CORPUS ?= ../shared/testdata/images

.PHONY: setup build run demo normalise test test-corpus fuzz bench vet lint soak scale unchanged image-test image-test-if-changed image

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

# The normaliser alone, on a few of the repository's test images or SAMPLES="a.jpg b.heic".
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

# The normaliser's image tests again, on the larger corpus in PHOTO_CORPUS instead of
# testdata/images (the generated files are the same).
test-corpus: setup
	@test -f "$(PHOTO_CORPUS)/MANIFEST.tsv" || { echo "test-corpus: no image corpus at $(PHOTO_CORPUS) (a folder with a MANIFEST.tsv); set PHOTO_CORPUS=DIR" >&2; exit 1; }
	PHOTO_CORPUS="$(abspath $(PHOTO_CORPUS))" go test -count=1 -run '^(TestCorpus|TestOrientations|TestColour.*|TestBombsRefusedCheaply)$$' ./internal/imageproc

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
	go run ./cmd/benchreport -out docs/benchmarks.md -corpus "$(if $(wildcard $(PHOTO_CORPUS)/MANIFEST.tsv),$(PHOTO_CORPUS),testdata/images)" -sharp "$(SHARP_DIR)" -rss-images 1000

# The long proofs (bounded forms run in make test): 1,000 uploads under Graph faults,
# a 10,000-object backfill through SQS and S3 Batch Operations against a tenant throttle, and
# the nightly re-export of unchanged photos.
soak: setup
	STRESS_FAULT_UPLOADS=1000 STRESS_TIMEOUT=60m go test -count=1 -v -timeout=70m -run='^TestFaults$$' ./internal/stress

scale: setup
	STRESS_SCALE_OBJECTS=10000 STRESS_RATE_GOAL=0.9 STRESS_TIMEOUT=150m go test -count=1 -v -timeout=160m -run='^TestScale$$' ./internal/stress

# The Lambda image, assembled and run here without Docker (internal/lambdaimage; needs root):
# the root filesystem of image/packages.txt made with debootstrap and image/install.sh (as the
# Dockerfile does), cached in ~/.cache/graphphoto by the hash of the list and the script; the
# bootstraps run inside it (chroot) under the Lambda RIE against the local stack, every sample
# in events/ and an upload through the API; then INIT beside the echo Lambda, the size, and the
# 12 MP JPEG beside this machine when PHOTO_CORPUS holds it. The Debian archives are this
# machine's apt sources unless DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR say otherwise.
IMAGE_INPUTS := image/packages.txt image/install.sh Dockerfile $(wildcard internal/lambdaimage/*.go)
image_inputs_hash = cat $(IMAGE_INPUTS) | sha256sum | cut -d' ' -f1
image-test: setup
	@command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap || sudo apt-get install -y -qq debootstrap
	go test -tags imagetest -count=1 -v -timeout=50m -run='^TestImage$$' ./internal/lambdaimage
	@$(image_inputs_hash) > image/verified.sha256

# CI's form (.ci/run): make image-test only when the image's inputs differ from those of the
# last passing run, whose hash image/verified.sha256 records (commit it with the change).
image-test-if-changed:
	@if [ "$$($(image_inputs_hash))" = "$$(cat image/verified.sha256 2>/dev/null)" ]; then \
		echo "image-test: the image's inputs are those of the last passing run (image/verified.sha256); not run"; \
	else $(MAKE) --no-print-directory image-test; fi

# The same image as an OCI archive for ECR (README, "Deploy"), written without a container
# engine, then opened and checked by a test.
IMAGE_ARCHIVE ?= out/graphphoto-$(shell go env GOARCH).oci.tar
image: setup
	@command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap || sudo apt-get install -y -qq debootstrap
	go run ./cmd/lambdaimage -out $(IMAGE_ARCHIVE)
	IMAGE_ARCHIVE=$(abspath $(IMAGE_ARCHIVE)) go test -tags imagetest -count=1 -v -run='^TestArchive$$' ./internal/lambdaimage

# The nightly full export: 1,000 photos synced, exported again (no Graph write), then 5 % changed
# at the source and 2 % in Graph (exactly those written); make test runs it with 100.
unchanged: setup
	STRESS_UNCHANGED_PHOTOS=1000 STRESS_TIMEOUT=60m go test -count=1 -v -timeout=70m -run='^TestUnchanged$$' ./internal/stress
