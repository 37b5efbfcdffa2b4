# One image for both Lambda functions; template.yaml picks one with ImageConfig.Command.
#
# Amazon Linux 2023 packages no libvips, so it is built here from source, on Amazon Linux 2023
# itself: the binaries then need the glibc of the provided.al2023 runtime (2.34) and no newer.
# Only the loaders the normaliser allows are built (JPEG, PNG, WebP, GIF through libvips' own
# nsgif, TIFF, HEIF/AVIF through libheif) with lcms2 and libexif; no ImageMagick, poppler, rsvg
# or any other loader. internal/deploy's tests check this file against template.yaml and go.mod.
ARG GO_VERSION=1.26
ARG VIPS_VERSION=8.18.4
ARG VIPS_SHA256=2677bad6c422617fd1172d359c16af34e736965d042c214203a87187d26ff037
ARG LIBHEIF_VERSION=1.23.1
ARG LIBHEIF_SHA256=0de0327f60fcd47de90d5654c6fe152232738d60d84fe084ec3e0f35e03b166a
ARG LIBDE265_VERSION=1.1.1
ARG LIBDE265_SHA256=fd48a927e94ed74fc7ce8829d222b9d8599fcbfe8b6448ba66705babc56ab219
ARG DAV1D_VERSION=1.5.3
ARG DAV1D_SHA256=732010aa5ef461fa93355ed2c6c5fedb48ddc4b74e697eaabe8907eaeb943011

FROM golang:${GO_VERSION} AS go

FROM public.ecr.aws/amazonlinux/amazonlinux:2023 AS build
ARG VIPS_VERSION VIPS_SHA256 LIBHEIF_VERSION LIBHEIF_SHA256 LIBDE265_VERSION LIBDE265_SHA256 DAV1D_VERSION DAV1D_SHA256
RUN dnf install -y --setopt=install_weak_deps=False \
        gcc gcc-c++ make cmake nasm pkgconf-pkg-config python3-pip tar xz gzip \
        glib2-devel expat-devel zlib-devel libjpeg-turbo-devel libpng-devel libwebp-devel \
        libtiff-devel lcms2-devel libexif-devel \
    && dnf clean all \
    && pip3 install --no-cache-dir meson==1.12.1 ninja==1.13.2
ENV PREFIX=/opt/vips \
    PKG_CONFIG_PATH=/opt/vips/lib64/pkgconfig
WORKDIR /src

# HEVC (HEIC) and AV1 (AVIF) decoders for libheif. No encoders: the functions only read HEIF.
RUN curl -fsSLo de265.tar.gz https://github.com/strukturag/libde265/releases/download/v${LIBDE265_VERSION}/libde265-${LIBDE265_VERSION}.tar.gz \
    && echo "${LIBDE265_SHA256}  de265.tar.gz" | sha256sum -c - \
    && tar -xzf de265.tar.gz \
    && cmake -S libde265-${LIBDE265_VERSION} -B build-de265 -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=${PREFIX} \
        -DCMAKE_INSTALL_LIBDIR=lib64 -DENABLE_SDL=OFF -DENABLE_ENCODER=OFF \
    && cmake --build build-de265 -j"$(nproc)" && cmake --install build-de265 --strip
RUN curl -fsSLo dav1d.tar.xz https://downloads.videolan.org/pub/videolan/dav1d/${DAV1D_VERSION}/dav1d-${DAV1D_VERSION}.tar.xz \
    && echo "${DAV1D_SHA256}  dav1d.tar.xz" | sha256sum -c - \
    && tar -xJf dav1d.tar.xz \
    && meson setup build-dav1d dav1d-${DAV1D_VERSION} --prefix=${PREFIX} --libdir=lib64 --buildtype=release \
        -Denable_tools=false -Denable_tests=false -Denable_examples=false \
    && meson install -C build-dav1d --strip
RUN curl -fsSLo heif.tar.gz https://github.com/strukturag/libheif/releases/download/v${LIBHEIF_VERSION}/libheif-${LIBHEIF_VERSION}.tar.gz \
    && echo "${LIBHEIF_SHA256}  heif.tar.gz" | sha256sum -c - \
    && tar -xzf heif.tar.gz \
    && cmake -S libheif-${LIBHEIF_VERSION} -B build-heif -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=${PREFIX} \
        -DCMAKE_INSTALL_LIBDIR=lib64 -DENABLE_PLUGIN_LOADING=OFF -DWITH_LIBDE265=ON -DWITH_DAV1D=ON \
        -DWITH_X265=OFF -DWITH_X264=OFF -DWITH_OpenH264_DECODER=OFF -DWITH_AOM_DECODER=OFF -DWITH_AOM_ENCODER=OFF \
        -DWITH_LIBSHARPYUV=OFF -DWITH_EXAMPLES=OFF -DWITH_GDK_PIXBUF=OFF -DBUILD_TESTING=OFF -DBUILD_DOCUMENTATION=OFF \
    && cmake --build build-heif -j"$(nproc)" && cmake --install build-heif --strip

# libvips with its modules directory (lib64/vips-modules-8.18, where the HEIF loader lives).
# deprecated=true: bimg includes vips/vips7compat.h, which only that option installs.
RUN curl -fsSLo vips.tar.xz https://github.com/libvips/libvips/releases/download/v${VIPS_VERSION}/vips-${VIPS_VERSION}.tar.xz \
    && echo "${VIPS_SHA256}  vips.tar.xz" | sha256sum -c - \
    && tar -xJf vips.tar.xz \
    && meson setup build-vips vips-${VIPS_VERSION} --prefix=${PREFIX} --libdir=lib64 --buildtype=release \
        -Ddeprecated=true -Dexamples=false -Dcplusplus=false -Ddocs=false -Dintrospection=disabled \
        -Dmodules=enabled -Dheif-module=enabled \
        -Djpeg=enabled -Dpng=enabled -Dspng=disabled -Dwebp=enabled -Dtiff=enabled -Dheif=enabled \
        -Dnsgif=true -Dlcms=enabled -Dexif=enabled -Dzlib=enabled \
        -Dcgif=disabled -Dimagequant=disabled -Dquantizr=disabled -Darchive=disabled -Dfftw=disabled \
        -Dmagick=disabled -Dpoppler=disabled -Drsvg=disabled -Dpdfium=disabled -Dpangocairo=disabled \
        -Dfontconfig=disabled -Dopenslide=disabled -Dopenexr=disabled -Dopenjpeg=disabled \
        -Djpeg-xl=disabled -Duhdr=disabled -Draw=disabled -Dcfitsio=disabled -Dmatio=disabled \
        -Dnifti=disabled -Dhighway=disabled -Dorc=disabled \
        -Dppm=false -Danalyze=false -Dradiance=false \
    && meson install -C build-vips --strip \
    && echo ${PREFIX}/lib64 > /etc/ld.so.conf.d/vips.conf && ldconfig

# Both bootstraps, with cgo against the libvips above. GOTOOLCHAIN=local: go.mod's version must
# be the image's, never a toolchain downloaded mid-build.
COPY --from=go /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:${PATH} \
    CGO_ENABLED=1 \
    GOTOOLCHAIN=local \
    GOFLAGS=-trimpath
WORKDIR /app
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -tags lambda.norpc -ldflags="-s -w" -o /out/onupload ./functions/onupload \
    && go build -tags lambda.norpc -ldflags="-s -w" -o /out/api ./functions/api

# What the runtime needs from /opt/vips: the shared libraries and the modules, no headers,
# pkg-config files or tools.
RUN mkdir -p /runtime/opt/vips/lib64 \
    && cp -a ${PREFIX}/lib64/*.so* ${PREFIX}/lib64/vips-modules-* /runtime/opt/vips/lib64/

FROM public.ecr.aws/lambda/provided:al2023
# The system libraries the build linked against, from the same distribution.
RUN dnf install -y --setopt=install_weak_deps=False \
        glib2 expat zlib libjpeg-turbo libpng libwebp libtiff lcms2 libexif \
    && dnf clean all
COPY --from=build /runtime/opt/vips /opt/vips
RUN echo /opt/vips/lib64 > /etc/ld.so.conf.d/vips.conf && ldconfig
COPY --from=build /out/onupload /out/api /var/task/
# VIPS_BLOCK_UNTRUSTED: refuse any loader libvips marks untrusted, should one ever be built in.
# MALLOC_ARENA_MAX=2: glibc's per-thread arenas otherwise keep libvips' freed pages (RSS grows).
ENV VIPS_BLOCK_UNTRUSTED=1 \
    MALLOC_ARENA_MAX=2
# No entry point: the command is the bootstrap itself, and ImageConfig.Command chooses which.
ENTRYPOINT []
CMD ["/var/task/onupload"]
