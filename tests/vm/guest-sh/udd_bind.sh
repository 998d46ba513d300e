#!/bin/sh
# udd bind / udd unbind on the real nvme in the guest.
#  - nvme on vfio-pci (the usual boot): bind says "already bound", a bad address is
#    refused, unbind of a device on another driver is refused;
#  - nvme left to the kernel's nvme driver (run-guest --env UDD_VM_KERNEL_DRIVER=NVME):
#    with its namespace mounted (minix) bind is refused and nothing changes; unmounted,
#    bind gives it to vfio-pci, udd borrows it (list, info, read of VS), unbind gives
#    it back to nvme and the filesystem written before is still there.
export UDD_NO_EMBEDDED=1
fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
expect() { # expect STATUS PATTERN CMD...
    want=$1; pat=$2; shift 2
    out=$("$@" 2>&1); rc=$?
    echo "\$ $* -> $rc: $out"
    if [ $rc != "$want" ]; then bad "'$*' exited $rc, expected $want"
    elif [ -n "$pat" ] && ! echo "$out" | tr '\n' ' ' | grep -qE -- "$pat"; then bad "'$*' lacks /$pat/"
    else ok; fi
}
drv() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null; }
wait_for() { # wait_for PATH: up to 10 s
    i=0
    while [ ! -e "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -e "$1" ]
}
NV=$UDD_VM_NVME
echo "nvme $NV driver: $(drv "$NV")"

expect 1 "no PCI device 0000:00:1f.7" udd bind 0000:00:1f.7
expect 1 "bad PCI address" udd bind nonsense
expect 0 "already bound to vfio-pci" udd bind "$UDD_VM_EDU"

if [ "$(drv "$NV")" != nvme ]; then
    expect 0 "already bound to vfio-pci" udd bind "$NV"
    echo "udd_bind: nvme is not on the nvme driver (boot without UDD_VM_KERNEL_DRIVER=NVME): only the basics"
    echo "udd_bind: $checks checks, $fails failed"
    [ $fails = 0 ]
    exit
fi

# --- nvme on the kernel's driver ----------------------------------------------------
wait_for /sys/block/nvme0n1 && ok || bad "/sys/block/nvme0n1 did not appear"
expect 1 "$NV is bound to nvme, not to vfio-pci" udd unbind "$NV"
[ "$(udd list --vendor 1b36 | grep -c '^0x')" = 0 ] && ok || bad "udd list shows nvme while on the nvme driver"
# a filesystem on the namespace, mounted
dd if=/opt/udd/minix.img of=/dev/nvme0n1 bs=64k 2>/dev/null && ok || bad "dd to nvme0n1"
mkdir -p /mnt
if mount -t minix /dev/nvme0n1 /mnt; then
    ok
    echo "written before bind" > /mnt/hello
    expect 1 "block device nvme0n1 \(259:[0-9]+\) is mounted on /mnt.*refusing.*driver nvme.*--force" udd bind "$NV"
    [ "$(drv "$NV")" = nvme ] && ok || bad "nvme lost its driver after a refused bind"
    [ "$(cat "/sys/bus/pci/devices/$NV/driver_override")" = "(null)" ] && ok || bad "driver_override changed"
    umount /mnt && ok || bad "umount"
else
    bad "mount -t minix /dev/nvme0n1 (minix module?)"
fi

expect 0 "$NV: bound to vfio-pci \(was nvme\), IOMMU group [0-9]+" udd bind "$NV"
[ "$(drv "$NV")" = vfio-pci ] && ok || bad "driver after bind: $(drv "$NV")"
grp=$(basename "$(readlink "/sys/bus/pci/devices/$NV/iommu_group")")
[ -e "/dev/vfio/$grp" ] && ok || bad "/dev/vfio/$grp missing after bind"
[ ! -e /sys/block/nvme0n1 ] && ok || bad "nvme0n1 still there after bind"
line=$(udd list --vendor 1b36)
echo "$line"
fdid=$(echo "$line" | grep " $NV " | cut -d' ' -f1)
[ -n "$fdid" ] && ok || bad "udd list does not show the bound nvme"
expect 0 "^0x00010400" udd read "$fdid" bar0 0x8     # VS: NVMe 1.4
expect 0 "MSI-X: Enable- Count=" udd info "$fdid"
expect 0 "unbound from vfio-pci; now nvme" udd unbind "$NV"
[ "$(drv "$NV")" = nvme ] && ok || bad "driver after unbind: $(drv "$NV")"
[ "$(cat "/sys/bus/pci/devices/$NV/driver_override")" = "(null)" ] && ok || bad "driver_override not cleared"
wait_for /sys/block/nvme0n1 && ok || bad "nvme0n1 did not come back"
if mount -t minix /dev/nvme0n1 /mnt 2>/dev/null || { sleep 1; mount -t minix /dev/nvme0n1 /mnt; }; then
    [ "$(cat /mnt/hello 2>/dev/null)" = "written before bind" ] && ok || bad "the file written before bind is gone"
    umount /mnt
else
    bad "mount after unbind"
fi
[ "$(udd list --vendor 1b36 | grep -c '^0x')" = 0 ] && ok || bad "udd list still shows nvme after unbind"
echo "udd_bind: $checks checks, $fails failed"
[ $fails = 0 ]
