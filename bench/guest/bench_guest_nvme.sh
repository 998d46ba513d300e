#!/bin/sh
# bench_guest_nvme: udd's NVMe driver (nvme-perf, polled completions) against Linux's
# nvme driver driven by fio, on the same QEMU nvme in one guest boot (run by
# tests/vm/guest-init.sh; built into place by bench/guest/build-nvme.sh).
#   1. the kernel's nvme driver (run-guest's on-demand modules, nvme loaded with
#      poll_queues=1): `udd unbind` gives the device to it; fio --direct=1
#      --ioengine=io_uring on /dev/nvme0n1, each cell with interrupts and polled
#      (--hipri, the poll queue);
#   2. `udd bind` gives it back to vfio-pci; nvme-perf runs the same cells.
# Cells: 4 KiB random read at QD1 and QD32, 4 KiB random write at QD32, over the whole
# namespace, $T seconds each. Prints IOPS, median latency and ratio = udd / kernel.
# Under TCG only the ratios mean something (docs/performance.md).
export UDD_NO_EMBEDDED=1
T=3
[ "${UDD_BENCH_QUICK:-0}" = 1 ] && T=1
NV=${UDD_VM_NVME:?no nvme in the guest}
R=/tmp/nvme-bench
: > $R
fail() { echo "bench_guest_nvme: $*"; exit 1; }
drv() { basename "$(readlink "/sys/bus/pci/devices/$NV/driver" 2>/dev/null)" 2>/dev/null; }

[ -f /modules/extra/order ] || fail "no /modules/extra (the kernel's nvme driver)"
for m in $(cat /modules/extra/order); do
    case $m in
    nvme.ko) insmod /modules/extra/$m poll_queues=1 || fail "insmod $m" ;;
    *) insmod /modules/extra/$m || fail "insmod $m" ;;
    esac
done
out=$(udd unbind "$NV" 2>&1) || fail "udd unbind $NV: $out"
i=0
while [ ! -b /dev/nvme0n1 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/nvme0n1 ] || fail "/dev/nvme0n1 did not appear (driver $(drv))"
echo "nvme $NV on $(drv), poll queues $(cat /sys/module/nvme/parameters/poll_queues 2>/dev/null); ${T} s per cell"

# cell NAME RW QD: one fio run per completion mode; lines "NAME kernel-irq IOPS P50"
for cell in "randread 1" "randread 32" "randwrite 32"; do
    set -- $cell
    for mode in irq poll; do
        extra=
        [ $mode = poll ] && extra=--hipri
        line=$(fio --name=c --filename=/dev/nvme0n1 --direct=1 --ioengine=io_uring $extra \
            --rw="$1" --bs=4k --iodepth="$2" --runtime="$T" --time_based --thread \
            --norandommap --randrepeat=0 --output-format=terse --terse-version=3 2>&1) \
            || fail "fio $1 QD$2 $mode: $line"
        # terse v3: read IOPS field 8, read clat p50 field 24; write 49 and 65 (usec)
        echo "$line" | tail -n1 | awk -F';' -v c="$1-qd$2" -v m="kernel-$mode" '{
            iops = $8; p = $24; if ($49 > 0) { iops = $49; p = $65 }
            sub(/.*=/, "", p); print c, m, iops, p }' >> $R
    done
done

out=$(udd bind "$NV" 2>&1) || fail "udd bind $NV: $out"
[ "$(drv)" = vfio-pci ] || fail "after udd bind: driver $(drv)"
for cell in "randread 1" "randread 32" "randwrite 32"; do
    set -- $cell
    line=$(nvme-perf -w "$1" -b 4096 -q "$2" -t "$T" 2>/dev/null) || fail "nvme-perf $1 QD$2: $line"
    # "N IOPS, X MB/s, latency us: p50 A p99 B ..."
    echo "$line" | awk -v c="$1-qd$2" '/ IOPS, / {
        for (i = 1; i <= NF; i++) if ($i == "p50") p = $(i + 1); print c, "udd-poll", $1, p }' >> $R
done

echo
echo "== NVMe in the guest: udd (nvme-perf, polled) vs Linux nvme + fio (io_uring, direct), QEMU nvme, ${T} s per cell =="
echo "   ratio = udd / kernel, measured in this boot; under TCG only ratios mean something"
awk '{ v[$1 " " $2] = $3; p[$1 " " $2] = $4; if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
    END {
        printf "%-14s %11s %11s %11s %9s %9s | %8s %8s %8s | %8s %8s\n", "cell", "kernel IOPS", "kern hipri", "udd IOPS",
            "udd/kern", "udd/hipri", "kern p50", "hipri p50", "udd p50", "udd/kern", "udd/hipri"
        for (i = 0; i < n; i++) {
            c = order[i]; k = v[c " kernel-irq"]; kp = v[c " kernel-poll"]; u = v[c " udd-poll"]
            lk = p[c " kernel-irq"]; lp = p[c " kernel-poll"]; lu = p[c " udd-poll"]
            # (a bare ">" among the printf arguments would be a redirection)
            printf "%-14s %11.0f %11.0f %11.0f %8.2fx %8.2fx | %8.0f %8.0f %8.0f | %7.2fx %7.2fx\n", c, k, kp, u,
                (k ? u / k : 0), (kp ? u / kp : 0), lk, lp, lu, (lk ? lu / lk : 0), (lp ? lu / lp : 0)
        }
        print "(IOPS ratio > 1: udd faster; p50 latency in us, its ratio < 1: udd lower)"
    }' $R
n=$(wc -l < $R)
[ "$n" = 9 ] || fail "$n of 9 measurements"
