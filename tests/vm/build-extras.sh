#!/bin/bash
# build-extras.sh TESTDIR OVERLAY: what the guest runs besides tests/vm/guest/*.c.
#   TESTDIR/conformance     tests/conformance/conformance.c, static against libudd.a
#                           (in the guest it picks the vfio backend: UDD_VM=1)
#   TESTDIR/*.sh -> name    tests/vm/guest-sh/*.sh (busybox sh scripts)
#   OVERLAY/bin/edu         examples/edu/edu.c unchanged, static against libudd.a
#   OVERLAY/bin/test_nvme   tests/nvme/test_nvme.c + examples/nvme/nvme.c (libudd_nvme's
#                           source), static against libudd.a (-D_GNU_SOURCE, as the
#                           CMake build compiles them); guest-sh/test_nvme.sh runs
#                           it with --pool on QEMU's nvme
#   OVERLAY/bin/udd         tools/udd/*.c against libudd.a; dynamic, because Debian ships
#                           no static libpci (libpci-dev has only libpci.so, and libpci
#                           needs libudev, which has no .a either): its shared libraries
#                           (ldd) are copied to the same paths in OVERLAY
#   OVERLAY/bin/lspci       Debian's lspci (dynamic: the same treatment)
#   OVERLAY/bin/udd-sim     the build's udd-sim (the lender; dynamic, the same treatment)
#   OVERLAY/bin/udd-gw      the build's udd-gw (dynamic, the same treatment)
#   OVERLAY/bin/lend_tcp_sync  tests/vm/net/lend_tcp_sync.c against libudd.a, dynamic
#                           (tcp:// needs GnuTLS, which has no static library here):
#                           guest-sh/lend_tcp_sync.sh borrows the lent edu through
#                           udd-gw with it
#   OVERLAY/usr/share/misc/pci.ids
#   OVERLAY/opt/udd/minix.img  a 1 MiB minix filesystem (util-linux mkfs.minix; the
#                           guest's busybox has no mkfs) for the udd_bind test to mount
# libudd.a: $UDD_VM_LIBUDD or $UDD_BIN/src/libudd.a. Installs pciutils and
# libpci-dev (Debian packages) if missing.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
TESTS=${1:?usage: build-extras.sh TESTDIR OVERLAY}
OVL=${2:?usage: build-extras.sh TESTDIR OVERLAY}
CC=${CC:-gcc}
LIBUDD=${UDD_VM_LIBUDD:-${UDD_BIN:+$UDD_BIN/src/libudd.a}}
[ -n "$LIBUDD" ] && [ -f "$LIBUDD" ] || { echo "build-extras: no libudd.a (set UDD_BIN or UDD_VM_LIBUDD)" >&2; exit 1; }
mkdir -p "$TESTS" "$OVL/bin" "$OVL/usr/share/misc"

need=()
for p in pciutils libpci-dev; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
        need+=("$p")
    fi
done
if [ ${#need[@]} -gt 0 ]; then
    echo "build-extras: installing ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "${need[@]}" >&2
fi

CF=(-std=c17 -O2 -g -Wall -Wextra -Werror -I"$SRC/include")
"$CC" -static "${CF[@]}" -I"$SRC/tests" -o "$TESTS/conformance" \
    "$SRC/tests/conformance/conformance.c" "$LIBUDD" -ljson-c -lpthread
"$CC" -static "${CF[@]}" -I"$SRC/examples/edu" -o "$OVL/bin/edu" \
    "$SRC/examples/edu/edu.c" "$LIBUDD" -ljson-c -lpthread
"$CC" -static "${CF[@]}" -D_GNU_SOURCE -I"$SRC/tests" -I"$SRC/examples/nvme" -o "$OVL/bin/test_nvme" \
    "$SRC/tests/nvme/test_nvme.c" "$SRC/examples/nvme/nvme.c" "$LIBUDD" -ljson-c -lpthread
# the tool also uses the cluster file and the TCP transport (src/backend/vfio-user/net.h)
"$CC" "${CF[@]}" -I"$SRC/src/backend/vfio-user" -o "$OVL/bin/udd" "$SRC"/tools/udd/*.c "$LIBUDD" \
    -ljson-c -lpci -lgnutls -lpthread
cp "$(command -v lspci)" "$OVL/bin/lspci"
# udd-sim (the lender) from the same build as libudd.a; dynamic like udd
SIMBIN=${UDD_VM_SIM:-$(dirname "$LIBUDD")/sim/udd-sim}
[ -x "$SIMBIN" ] || { echo "build-extras: no udd-sim at $SIMBIN (set UDD_VM_SIM)" >&2; exit 1; }
cp "$SIMBIN" "$OVL/bin/udd-sim"
GWBIN=${UDD_VM_GW:-$(dirname "$LIBUDD")/gateway/udd-gw}
[ -x "$GWBIN" ] || { echo "build-extras: no udd-gw at $GWBIN (set UDD_VM_GW)" >&2; exit 1; }
cp "$GWBIN" "$OVL/bin/udd-gw"
# the TLS transport is referred to weakly by libudd.a: -u pulls it in
"$CC" "${CF[@]}" -o "$OVL/bin/lend_tcp_sync" "$SRC/tests/vm/net/lend_tcp_sync.c" \
    -Wl,-u,vfu_net_open "$LIBUDD" -ljson-c -lgnutls -lpthread
cp /usr/share/misc/pci.ids "$OVL/usr/share/misc/pci.ids"
mkdir -p "$OVL/opt/udd"
rm -f "$OVL/opt/udd/minix.img"
truncate -s 1M "$OVL/opt/udd/minix.img"
mkfs.minix "$OVL/opt/udd/minix.img" > /dev/null

# shared libraries (and the dynamic loader) of the dynamic programs, same paths
for exe in "$OVL/bin/udd" "$OVL/bin/lspci" "$OVL/bin/udd-sim" "$OVL/bin/udd-gw" \
    "$OVL/bin/lend_tcp_sync"; do
    ldd "$exe" | grep -oE '/[^ ]+' | while read -r lib; do
        mkdir -p "$OVL$(dirname "$lib")"
        cp -L "$lib" "$OVL$lib"
    done
done

for s in "$HERE"/guest-sh/*.sh; do
    [ -e "$s" ] || continue
    n=$(basename "$s" .sh)
    cp "$s" "$TESTS/$n"
    chmod 755 "$TESTS/$n"
done
echo "build-extras: conformance + $(ls "$HERE"/guest-sh/*.sh 2>/dev/null | wc -l) script(s) in $TESTS; edu, udd, lspci in $OVL ($(du -sh "$OVL" | cut -f1))" >&2
