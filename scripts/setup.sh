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

if ((${#need_apt[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need_apt[*]} with apt" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
pkg-config --exists vips || { echo "setup: libvips is still missing after apt" >&2; exit 1; }

# Go tools, pinned, into ./bin. Each line: binary name, module@version.
mkdir -p "$root/bin"
while read -r name module; do
  [ -z "$name" ] && continue
  if [ ! -x "$root/bin/$name" ]; then
    echo "setup: go install $module" >&2
    GOBIN="$root/bin" go install "$module"
  fi
done <<'TOOLS'
TOOLS
echo "setup: ok (libvips $(pkg-config --modversion vips))" >&2
