#!/usr/bin/env bash
# Sets up a fresh Debian machine for this project: Bun from the npm registry, the Debian packages the tests and
# the nested rig need, and the project's npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

BUN_VERSION=1.4.5
if ! command -v bun >/dev/null 2>&1 || [ "$(bun --version)" != "$BUN_VERSION" ]; then
  npm install -g "bun@$BUN_VERSION" >/dev/null
fi

# binutils/gcc: tiny test guests and the C reference loop of bench/exit-cost.
# qemu-system-x86, busybox-static, cpio: the nested rig and the guest initramfs. qemu-utils: qcow2 reference peer.
# fio: the block e2e test's queue-depth peer, run in the guest from a disk image with its libraries.
# gdb: the GDB stub's test (test/kvm/vmm/gdb_stub.test.ts).
# mmdebstrap: the Debian guest system image (scripts/guest/debian/image.ts).
# autoconf, automake, make: scripts/pjdfstest.ts builds the pjdfstest suite from its source.
PACKAGES=(binutils gcc qemu-system-x86 qemu-utils busybox-static cpio e2fsprogs fio gdb mmdebstrap autoconf automake make)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The sandbox's default pivot root: a sandboxed run refuses to start without it (crosvm book: devices can't be
# jailed if /var/empty doesn't exist). Other users name their own with --pivot-root or DEFAULT_PIVOT_ROOT.
if [ "$(id -u)" = 0 ]; then mkdir -p /var/empty; fi

bun install --frozen-lockfile >/dev/null
