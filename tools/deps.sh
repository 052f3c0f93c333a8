#!/usr/bin/env bash
# Installs every Debian package Laundromat needs and fetches the source packages the
# freestanding guest build compiles (lwip, libsodium, libzstd). Idempotent.
#
# LM_SOURCE_CACHE=DIR takes the source packages from DIR instead of `apt-get source`: DIR is
# laid out as build/third_party is (DIR/<package>/src, the unpacked tree), e.g. another
# checkout's, so a fresh work tree gets its sources only when deps runs, without the network.
set -euo pipefail

PKGS=(
  build-essential make pkg-config dpkg-dev clang lld llvm libclang-rt-14-dev
  libsodium-dev libzstd-dev libvirt-dev libxen-dev libsqlite3-dev sqlite3
  libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libcmocka-dev libseccomp-dev
  iproute2 nftables iputils-ping bridge-utils curl wrk httperf qemu-system-x86 xxd python3 zstd time
  libvirt-daemon-driver-qemu
)
# Without a usable /dev/kvm (a PVM guest cannot nest PVM), the tests that run VMs go into a KVM
# box (tools/kvmbox.sh): QEMU's TCG with an SVM CPU, Debian's kernel, busybox for its init.
if [ ! -w /dev/kvm ]; then
  PKGS+=(linux-image-amd64 busybox-static kmod)
fi
SRC_PKGS=(lwip libsodium libzstd)
TOP=$(cd "$(dirname "$0")/.." && pwd)
TP="$TOP/build/third_party"
CACHE=${LM_SOURCE_CACHE:-}

log() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: run 'make deps' as root"
  SUDO=sudo
fi

apt_update() {
  if ! $SUDO apt-get update -qq >/tmp/lm-apt-update.log 2>&1 ||
     grep -qE '^(Err|W: Failed)' /tmp/lm-apt-update.log; then
    cat /tmp/lm-apt-update.log >&2
    die "cannot reach the Debian package registry (apt-get update failed, log above); check the network or /etc/apt/sources.list*"
  fi
}

# 1. Binary packages: install only what is missing.
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
updated=0
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  apt_update; updated=1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/tmp/lm-apt-install.log 2>&1 ||
    { tail -20 /tmp/lm-apt-install.log >&2; die "apt-get install failed for: ${missing[*]} (log: /tmp/lm-apt-install.log)"; }
fi

# libvirt's QEMU driver, embedded in Evil Man (backend = libvirt), wants its user to exist even
# when its qemu.conf runs QEMU as root (what libvirt-daemon-system would have made).
if ! getent passwd libvirt-qemu >/dev/null; then
  log "adding the system user libvirt-qemu (libvirt's QEMU driver looks it up)"
  $SUDO useradd --system --no-create-home --shell /usr/sbin/nologin libvirt-qemu ||
    die "cannot add the user libvirt-qemu"
fi

# 2. A deb-src entry, mirroring the existing binary sources, when none exists.
if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  src=/etc/apt/sources.list.d/laundromat-src.sources
  log "adding deb-src entries in $src"
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1 &&
     grep -qs '^Types: deb$' /etc/apt/sources.list.d/*.sources; then
    # deb822 files: copy each stanza of Types: deb as Types: deb-src.
    awk 'BEGIN{RS="";ORS="\n\n"} /(^|\n)Types: deb(\n|$)/ {sub(/Types: deb/,"Types: deb-src"); print}' \
      /etc/apt/sources.list.d/*.sources | $SUDO tee "$src" >/dev/null
  else
    grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | sed 's/^deb /deb-src /' |
      $SUDO tee /etc/apt/sources.list.d/laundromat-src.list >/dev/null
  fi
  updated=0
fi

# 3. Source packages for the freestanding guest build, under build/third_party/.
# The newest version the index lists first; if the mirror lacks it (a security update listed
# but not served: seen with libzstd), each other version the index lists, newest first.
fetch_source() { # package
  local sp=$1 v
  (cd "$TP/$sp" && apt-get source -qq "$sp" >/tmp/lm-apt-source-$sp.log 2>&1) && return 0
  for v in $(apt-cache showsrc "$sp" 2>/dev/null | sed -n 's/^Version: //p' | sort -ruV); do
    log "apt-get source $sp failed; trying its version $v"
    rm -rf "$TP/$sp" && mkdir -p "$TP/$sp"
    (cd "$TP/$sp" && apt-get source -qq "$sp=$v" >>/tmp/lm-apt-source-$sp.log 2>&1) && return 0
  done
  return 1
}
mkdir -p "$TP"
for sp in "${SRC_PKGS[@]}"; do
  if [ -f "$TP/.$sp.ok" ]; then continue; fi
  rm -rf "$TP/$sp" && mkdir -p "$TP/$sp"
  if [ -n "$CACHE" ]; then
    [ -d "$CACHE/$sp/src" ] || die "LM_SOURCE_CACHE=$CACHE has no $sp/src (expected the layout of build/third_party)"
    log "copying source package $sp from $CACHE into build/third_party/"
    cp -a "$(readlink -f "$CACHE/$sp/src")" "$TP/$sp/"
  else
    [ $updated -eq 1 ] || { apt_update; updated=1; }
    log "fetching source package $sp into build/third_party/"
    fetch_source "$sp" ||
      { tail -20 /tmp/lm-apt-source-$sp.log >&2; die "apt-get source $sp failed (log: /tmp/lm-apt-source-$sp.log)"; }
  fi
  # A stable name for the unpacked tree, whatever the version.
  d=$(find "$TP/$sp" -mindepth 1 -maxdepth 1 -type d | head -1)
  [ -n "$d" ] || die "apt-get source $sp unpacked nothing"
  ln -sfn "$(basename "$d")" "$TP/$sp/src"
  touch "$TP/.$sp.ok"
done
log "all dependencies present"
