# One image for both Lambda functions; template.yaml picks one with ImageConfig.Command.
#
# Debian 12 (bookworm) with Debian's libvips: the library every test and benchmark of the
# project runs. The runtime's packages are image/packages.txt, installed by image/install.sh
# (which keeps libvips' HEIF module and drops the others). `make image-test` installs the same
# list with the same script into a debootstrap root filesystem and runs the bootstraps inside
# it; `make image` writes that filesystem as an OCI archive. internal/deploy's tests check this
# file against template.yaml, go.mod and that assembly (internal/lambdaimage).
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS go

# The bootstraps, with cgo against Debian 12's libvips (its headers are in this stage only).
# GOTOOLCHAIN=local: go.mod's version must be the image's, never a toolchain downloaded
# mid-build.
FROM debian:bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev pkg-config libvips-dev \
    && rm -rf /var/lib/apt/lists/*
COPY --from=go /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:${PATH} \
    CGO_ENABLED=1 \
    GOTOOLCHAIN=local
WORKDIR /app
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -tags lambda.norpc -ldflags="-s -w" -o /out/onupload ./functions/onupload \
    && go build -trimpath -tags lambda.norpc -ldflags="-s -w" -o /out/api ./functions/api

# The runtime: the packages of image/packages.txt and nothing to build with.
FROM debian:bookworm-slim
COPY image/packages.txt image/install.sh /tmp/image/
RUN sh /tmp/image/install.sh /tmp/image/packages.txt && rm -rf /tmp/image
COPY --from=build /out/onupload /out/api /var/task/
# VIPS_BLOCK_UNTRUSTED: refuse any loader libvips marks untrusted, should one ever be installed.
# MALLOC_ARENA_MAX=2: glibc's per-thread arenas otherwise keep libvips' freed pages (RSS grows).
ENV VIPS_BLOCK_UNTRUSTED=1 \
    MALLOC_ARENA_MAX=2
WORKDIR /var/task
# No entry point: the command is the bootstrap itself, and ImageConfig.Command chooses which.
ENTRYPOINT []
CMD ["/var/task/onupload"]
