# The two commands the README promises: `make run` (the main job, locally, on embedded defaults)
# and `make test` (every test). Both install what is missing first (scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(CURDIR)/bin:$(PATH)
# glibc keeps one malloc arena per thread; libvips' worker threads then hold on to freed pages.
# Two arenas keep RSS flat across many images (measured in ../shared/anchors/RESULTS.md).
export MALLOC_ARENA_MAX ?= 2
FUZZTIME ?= 15s
SAMPLES ?= $(wildcard ../shared/testdata/images/jpeg_camera_3mp_canon_exif6.jpg ../shared/testdata/images/heic_iphone13_12mp.heic ../shared/testdata/images/png_rgba_bird.png ../shared/testdata/images/jpeg_cmyk_swop_icc.jpg ../shared/testdata/images/bomb_png_4gpx.png)

.PHONY: setup build run test fuzz bench vet

setup:
	@bash scripts/setup.sh

build: setup
	go build -o bin/graphphoto ./cmd/graphphoto

run: build
	@mkdir -p out
	bin/graphphoto normalise --out out $(SAMPLES)
	@echo "photos written to out/"

vet: setup
	go vet ./...

test: setup
	go vet ./...
	go test -count=1 ./...
	$(MAKE) --no-print-directory fuzz

fuzz: setup
	go test -run='^$$' -fuzz='^FuzzSniff$$' -fuzztime=$(FUZZTIME) ./internal/imageproc

bench: setup
	go test -run='^$$' -bench=. -benchmem -benchtime=5x ./internal/imageproc
