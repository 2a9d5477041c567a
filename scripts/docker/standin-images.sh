#!/usr/bin/env bash
# standin-images.sh IMAGE...
# Makes sure each image exists for `docker build` / `docker compose up`:
#   node:24-bookworm-slim   the app's base image
#   postgres:15-bookworm    the cluster profile's database
#   haproxy:lts-bookworm    the cluster profile's load balancer
#
# Where a registry is reachable each is simply pulled. Where none is (this
# project's CI machines), a faithful local stand-in is built under that tag
# from Debian bookworm (debootstrap --variant=minbase, from the mirror apt
# uses; Debian's own packages installed in a chroot), with the interface
# compose.yaml relies on:
#   node      the Node of the tag's major (the project's `node` dev dependency,
#             else the host's) and the host's npm in /usr/local as in the
#             official image, and a `node` user with uid/gid 1000. If the host
#             trusts an extra CA bundle (NODE_EXTRA_CA_CERTS, e.g. a
#             TLS-intercepting proxy), the stand-in carries it and sets that
#             variable, so `npm ci` inside a build reaches the registry.
#   postgres  Debian's postgresql-15, a `postgres` user with uid/gid 999, and
#             an entrypoint that initialises PGDATA from POSTGRES_USER,
#             POSTGRES_PASSWORD and POSTGRES_DB on first start, as the
#             official one does, then runs `postgres` as that user.
#   haproxy   Debian's haproxy (2.6), run as the `haproxy` user with the
#             official image's config path /usr/local/etc/haproxy/haproxy.cfg.
#
# `docker import` cannot set STOPSIGNAL: compose.yaml sets stop_signal itself.
#
# STAND-INS ARE FOR TESTS ONLY: their versions are Debian's (and the host's
# node), not the official images'. They are kept between runs.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  set -- node:24-bookworm-slim
fi

missing=()
for tag in "$@"; do
  docker image inspect "$tag" >/dev/null 2>&1 && continue
  if timeout 60 docker pull "$tag" >/dev/null 2>&1; then
    echo "pulled $tag"
    continue
  fi
  missing+=("$tag")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "No registry reachable: building local stand-ins for ${missing[*]} (for tests only)…" >&2
if [ "$(id -u)" != 0 ]; then
  echo "building stand-ins needs root (debootstrap, chroot); run as root or provide ${missing[*]}" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

# The mirror apt is configured with (deb822 or one-line sources), else Debian's default.
mirror="$(grep -hoE '^URIs: *[^ ]+' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}' || true)"
if [ -z "$mirror" ]; then
  mirror="$(grep -hoE '^deb +[^ ]+' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}' || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

work="$(mktemp -d /tmp/standin.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# One minimal Debian for all of them, bootstrapped once per run.
debootstrap_base() {
  [ -f "$work/base.tar" ] && return
  local root="$work/base"
  mkdir -p "$root"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    exit 1
  }
  tar -C "$root" -cf "$work/base.tar" .
  rm -rf "$root"
}

# A fresh copy of the base in which Debian packages install without starting anything.
new_root() {
  debootstrap_base
  local root="$work/$1"
  rm -rf "$root" && mkdir -p "$root"
  tar -C "$root" -xf "$work/base.tar"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  echo "$root"
}

apt_install() {
  local root="$1"
  shift
  chroot "$root" apt-get update -qq >"$work/apt.log" 2>&1 &&
    chroot "$root" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "$@" >>"$work/apt.log" 2>&1 || {
    tail -20 "$work/apt.log" >&2
    exit 1
  }
}

# Imports a root as TAG with the given `docker import --change` lines.
import_root() {
  local root="$1" tag="$2"
  shift 2
  rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  local changes=(--change "LABEL org.opencontainers.image.description=local-stand-in-for-tests-only")
  for change in "$@"; do changes+=(--change "$change"); done
  tar -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
  rm -rf "$root"
  echo "built the stand-in $tag (for tests only)" >&2
}

build_node() {
  local tag="$1" root node_bin node_major npm_dir
  root="$(new_root node)"
  # The Node the tag names: the project's own (its `node` dev dependency) if it is
  # that major, else the host's.
  local want="${tag#node:}"
  want="${want%%-*}"
  node_bin="$(command -v node)"
  for candidate in "$PWD/node_modules/.bin/node" "$node_bin"; do
    [ -x "$candidate" ] || continue
    if [ "$("$candidate" -p 'process.versions.node.split(".")[0]')" = "$want" ]; then
      node_bin="$(readlink -f "$candidate")"
      break
    fi
  done
  node_major="$("$node_bin" -p 'process.versions.node.split(".")[0]')"
  if [ "$node_major" != "$want" ]; then
    echo "warning: no Node $want here; the stand-in for $tag will carry Node $node_major" >&2
  fi
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  install -m 0755 "$node_bin" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  local changes=(
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
    "ENV NODE_VERSION=$("$node_bin" -p process.versions.node)"
    'CMD ["node"]'
  )
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    install -m 0644 "$NODE_EXTRA_CA_CERTS" "$root/usr/local/share/host-extra-ca.pem"
    changes+=('ENV NODE_EXTRA_CA_CERTS=/usr/local/share/host-extra-ca.pem')
  fi
  import_root "$root" "$tag" "${changes[@]}"
}

build_postgres() {
  local tag="$1" root
  root="$(new_root postgres)"
  # As the official image: uid/gid 999, and no cluster made at install time.
  chroot "$root" groupadd --system --gid 999 postgres
  chroot "$root" useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql \
    --shell /bin/bash postgres
  mkdir -p "$root/etc/postgresql-common"
  echo 'create_main_cluster = false' >"$root/etc/postgresql-common/createcluster.conf"
  apt_install "$root" postgresql-15
  mkdir -p "$root/var/run/postgresql" "$root/var/lib/postgresql/data"
  chroot "$root" chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql
  chmod 0700 "$root/var/lib/postgresql/data"
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
# The official image's entrypoint, in the part compose.yaml uses: on the first
# start, initialise PGDATA with POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB
# (password authentication from other hosts), then run as `postgres`.
set -eu
if [ "${1:-}" != postgres ]; then exec "$@"; fi
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
  user="${POSTGRES_USER:-postgres}"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" --username="$user" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  db="${POSTGRES_DB:-$user}"
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\";" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "initialised $PGDATA (database $db, user $user)"
fi
exec "$@"
ENTRYPOINT
  chmod 0755 "$root/usr/local/bin/docker-entrypoint.sh"
  import_root "$root" "$tag" \
    'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV PGDATA=/var/lib/postgresql/data' \
    'VOLUME /var/lib/postgresql/data' \
    'ENTRYPOINT ["docker-entrypoint.sh"]' \
    'EXPOSE 5432' \
    'CMD ["postgres"]'
}

build_haproxy() {
  local tag="$1" root
  root="$(new_root haproxy)"
  apt_install "$root" haproxy
  mkdir -p "$root/usr/local/etc/haproxy" "$root/var/lib/haproxy"
  chroot "$root" chown haproxy:haproxy /var/lib/haproxy
  import_root "$root" "$tag" \
    'USER haproxy' \
    'WORKDIR /var/lib/haproxy' \
    'CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]'
}

for tag in "${missing[@]}"; do
  case "$tag" in
    node:*) build_node "$tag" ;;
    postgres:*) build_postgres "$tag" ;;
    haproxy:*) build_haproxy "$tag" ;;
    *)
      echo "no stand-in is known for $tag" >&2
      exit 1
      ;;
  esac
done
