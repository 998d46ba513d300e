#!/bin/bash
# build-nvme.sh OUTDIR OVERLAY LIBUDD_A: the guest NVMe rows (bench_guest_nvme.sh):
#   OUTDIR/bench_guest_nvme  the script run-guest runs
#   OVERLAY/bin/nvme-perf    examples/nvme (nvme_perf.c + nvme.c), static against libudd.a
#   OVERLAY/bin/udd          tools/udd/*.c (bind/unbind; dynamic: Debian has no static libpci)
#   OVERLAY/bin/fio          Debian's fio (installed with apt-get if missing; dynamic)
# with the dynamic programs' ldd libraries at the same paths in OVERLAY, as
# tests/vm/build-extras.sh does for lspci. Debian's fio links ceph, gluster, rdma...:
# ~85 MB of libraries, which only this boot carries.
# Environment: CC (default gcc).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
OUT=${1:?usage: build-nvme.sh OUTDIR OVERLAY LIBUDD_A}
OVL=${2:?usage: build-nvme.sh OUTDIR OVERLAY LIBUDD_A}
LIBUDD=${3:?usage: build-nvme.sh OUTDIR OVERLAY LIBUDD_A}
CC=${CC:-gcc}
[ -f "$LIBUDD" ] || { echo "build-nvme.sh: $LIBUDD not found" >&2; exit 1; }
need=()
for p in fio libpci-dev; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
        need+=("$p")
    fi
done
if [ ${#need[@]} -gt 0 ]; then
    echo "build-nvme.sh: installing ${need[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "${need[@]}" >&2
fi
mkdir -p "$OUT" "$OVL/bin"
CF=(-std=c17 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$SRC/include")
"$CC" -static "${CF[@]}" -I"$SRC/examples/nvme" -o "$OVL/bin/nvme-perf" \
    "$SRC/examples/nvme/nvme_perf.c" "$SRC/examples/nvme/nvme.c" "$LIBUDD" -ljson-c -lpthread -lm
"$CC" "${CF[@]}" -I"$SRC/src/backend/vfio-user" -o "$OVL/bin/udd" "$SRC"/tools/udd/*.c "$LIBUDD" \
    -ljson-c -lpci -lgnutls -lpthread
cp "$(command -v fio)" "$OVL/bin/fio"
for exe in "$OVL/bin/udd" "$OVL/bin/fio"; do
    ldd "$exe" | grep -oE '/[^ ]+' | while read -r lib; do
        mkdir -p "$OVL$(dirname "$lib")"
        cp -L "$lib" "$OVL$lib"
    done
done
cp "$HERE/bench_guest_nvme.sh" "$OUT/bench_guest_nvme"
chmod 755 "$OUT/bench_guest_nvme"
