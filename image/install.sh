#!/bin/sh
# Installs the Lambda image's packages into the root filesystem it runs in, and trims it: in
# the Dockerfile (on debian:bookworm-slim) and in the local assembly (a debootstrap root,
# through chroot). Both run this script on image/packages.txt, so both give the same layout.
#
#   sh install.sh PACKAGES_FILE
set -eu
list=$1
export DEBIAN_FRONTEND=noninteractive

# Slim as debian:bookworm-slim is: no documentation, manual pages or translations, neither now
# nor in any later install (the same dpkg filters; where the base is slim already this changes
# nothing).
cat >/etc/dpkg/dpkg.cfg.d/graphphoto-slim <<'FILTERS'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
FILTERS
find /usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/groff/* /usr/share/info/* /usr/share/linda/* /usr/share/lintian/overrides/* /usr/share/man/*
find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

packages=$(sed -e 's/#.*//' "$list" | tr -s ' \t\n' ' ')
apt-get update -qq
apt-get upgrade -y -qq
# shellcheck disable=SC2086 # one word per package
apt-get install -y -qq --no-install-recommends $packages

# libvips loads every module in its modules folder at start-up. Keep HEIF (HEIC and AVIF, which
# the normaliser allows) and drop ImageMagick, poppler, OpenSlide and JPEG XL, as the tests do
# with VIPSHOME (internal/tool.VipsHome): fewer parsers in the process and a shorter start.
found=0
for dir in /usr/lib/*/vips-modules-*; do
  [ -f "$dir/vips-heif.so" ] || { echo "install.sh: no HEIF module in $dir" >&2; exit 1; }
  find "$dir" -name '*.so' ! -name vips-heif.so -delete
  found=1
done
[ "$found" = 1 ] || { echo "install.sh: libvips' modules folder not found" >&2; exit 1; }

# The bootstraps' folder (Lambda's task root); the image puts them there.
mkdir -p /var/task

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old \
  /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log
