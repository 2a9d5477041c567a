#!/usr/bin/env bash
# Makes sure the base image `node:20-bookworm-slim` exists for `docker build`.
#
# Where a registry is reachable it is simply pulled. Where none is (this
# project's CI machines), a faithful local stand-in is built under that tag:
# Debian bookworm (debootstrap --variant=minbase, from the mirror apt uses),
# the host's own `node` binary and npm in /usr/local as in the official image,
# and a `node` user with uid/gid 1000. If the host trusts an extra CA bundle
# (NODE_EXTRA_CA_CERTS, e.g. a TLS-intercepting proxy), the stand-in carries
# it and sets that variable, so `npm ci` inside a build reaches the registry
# with the project's Dockerfile unchanged.
#
# IMAGES BUILT ON THE STAND-IN ARE FOR TESTS ONLY: its node is whatever the
# host runs, not the official image's build. The stand-in is kept between runs.
set -euo pipefail

TAG="${BASE_IMAGE:-node:20-bookworm-slim}"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  exit 0
fi
if timeout 60 docker pull "$TAG" >/dev/null 2>&1; then
  echo "pulled $TAG"
  exit 0
fi

echo "No registry reachable: building a local stand-in for $TAG (for tests only)…" >&2
if [ "$(id -u)" != 0 ]; then
  echo "building the stand-in needs root (debootstrap); run as root or provide $TAG" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

node_bin="$(command -v node)"
node_major="$("$node_bin" -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" != 20 ]; then
  echo "warning: the host runs Node $node_major; the stand-in for $TAG will carry it" >&2
fi
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"

# The mirror apt is configured with (deb822 or one-line sources), else Debian's default.
mirror="$(grep -hoE '^URIs: *[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}' || true)"
if [ -z "$mirror" ]; then
  mirror="$(grep -hoE '^deb +[^ ]+' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}' || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

root="$(mktemp -d /tmp/standin-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT

debootstrap --variant=minbase bookworm "$root" "$mirror" >/tmp/standin-debootstrap.log 2>&1 || {
  tail -20 /tmp/standin-debootstrap.log >&2
  exit 1
}

install -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

changes=(
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change "ENV NODE_VERSION=$("$node_bin" -p process.versions.node)"
  --change 'LABEL org.opencontainers.image.description=local-stand-in-for-tests-only'
  --change 'CMD ["node"]'
)
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  install -m 0644 "$NODE_EXTRA_CA_CERTS" "$root/usr/local/share/host-extra-ca.pem"
  changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/host-extra-ca.pem')
fi

rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import "${changes[@]}" - "$TAG" >/dev/null
echo "built the stand-in $TAG (for tests only)" >&2
