#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian/Ubuntu machine, and nothing that is already
# there: libvips (apt) when pkg-config cannot find it, and the Go tools the tests and the local
# stack run, built with `go install` into the project's own bin/ so nothing global is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

need_apt=()
pkg-config --exists vips 2>/dev/null || need_apt+=(libvips-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
# The local stack's end-to-end test uploads with the real AWS CLI and looks at the Graph
# emulator's gallery in a real headless browser.
# vips and vipsthumbnail: the reference rows of the benchmarks, and the module check of the tests.
command -v vipsthumbnail >/dev/null 2>&1 || need_apt+=(libvips-tools)
command -v aws >/dev/null 2>&1 || need_apt+=(awscli)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# node and npm: the local stack's end-to-end test installs the stock Microsoft Graph JavaScript
# client from the npm registry (pinned) and runs it against the local API.
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)

if ((${#need_apt[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need_apt[*]} with apt" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
pkg-config --exists vips || { echo "setup: libvips is still missing after apt" >&2; exit 1; }

# Go tools, pinned, into ./bin. Each line: binary name, module@version. bin/.versions records what
# each binary was built from, so bumping a pin here reinstalls it and an unchanged pin is skipped.
#   versitygw: the real S3 server the tests and the local stack run (posix backend,
#     docs/architecture.md §8).
#   aws-lambda-rie: the Lambda Runtime Interface Emulator. Its repository tags releases as vX.Y,
#     which the module proxy cannot serve, so the pin is the proxy's pseudo-version of its main branch.
mkdir -p "$root/bin"
versions="$root/bin/.versions"
touch "$versions"
while read -r name module; do
  [ -z "$name" ] && continue
  if [ -x "$root/bin/$name" ] && grep -qxF "$name $module" "$versions"; then
    continue
  fi
  echo "setup: go install $module" >&2
  start=$SECONDS
  GOBIN="$root/bin" go install "$module"
  echo "setup: $name built in $((SECONDS - start))s" >&2
  # Replace this tool's line, keep the others.
  { grep -v "^$name " "$versions" || true; echo "$name $module"; } >"$versions.tmp"
  mv "$versions.tmp" "$versions"
done <<'TOOLS'
versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0
aws-lambda-rie github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
TOOLS
echo "setup: ok (libvips $(pkg-config --modversion vips))" >&2
