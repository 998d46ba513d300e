#!/bin/busybox sh
# /init of the udd test guest (busybox initramfs built by run-guest).
# Loads the VFIO modules, binds edu and nvme to vfio-pci, runs /tests/*, prints
#   @@UDD-BEGIN <name>            before a test's own output
#   @@UDD-TEST <name> <PASS|FAIL> <rc>
#   @@UDD-DMESG <line>            kernel DMAR/vfio messages, at the end
#   @@UDD-DONE <ntests>
# and powers off. run-guest parses these lines from the serial console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
# Keep kernel chatter off the console so result lines are not interleaved;
# the interesting messages are dumped from dmesg at the end.
echo 1 > /proc/sys/kernel/printk
echo "@@UDD-INIT uptime $(cut -d' ' -f1 /proc/uptime) kernel $(uname -r)"

finish() {
    dmesg | grep -iE 'DMAR|vfio' | sed 's/^/@@UDD-DMESG /'
    echo "@@UDD-DONE ${ntests:-0}"
    sync
    poweroff -f
    sleep 5
    echo o > /proc/sysrq-trigger
}

for m in $(cat /modules/order); do
    if ! insmod "/modules/$m"; then
        echo "@@UDD-ERROR insmod $m failed"
    fi
done

. /run/env   # run-guest --env NAME=VALUE

# UDD_VM_KERNEL_DRIVER="NVME ...": leave those devices to their kernel driver (for
# the udd bind/unbind test): the on-demand modules in /modules/extra are loaded.
kernel_driver() {
    case " ${UDD_VM_KERNEL_DRIVER:-} " in *" $1 "*) return 0 ;; esac
    return 1
}
if [ -n "${UDD_VM_KERNEL_DRIVER:-}" ] && [ -f /modules/extra/order ]; then
    for m in $(cat /modules/extra/order); do
        insmod "/modules/extra/$m" || echo "@@UDD-ERROR insmod extra/$m failed"
    done
fi

# bind <vendor> <device> <NAME>: bind every such function to vfio-pci and export
# UDD_VM_<NAME>=<bdf> and UDD_VM_<NAME>_GROUP=<iommu group> (the first one found).
# With NAME in UDD_VM_KERNEL_DRIVER: wait (up to 10 s) for its kernel driver instead.
bind() {
    local d bdf grp i
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/vendor")" = "$1" ] && [ "$(cat "$d/device")" = "$2" ] || continue
        bdf=${d##*/}
        if kernel_driver "$3"; then
            i=0
            while [ ! -e "$d/driver" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
            grp=$(readlink "$d/iommu_group"); grp=${grp##*/}
            echo "@@UDD-DEVICE $3 $bdf group $grp driver $(basename "$(readlink "$d/driver")")"
            if [ -z "$(eval echo "\${UDD_VM_$3:-}")" ]; then
                export "UDD_VM_$3=$bdf" "UDD_VM_$3_GROUP=$grp"
            fi
            continue
        fi
        echo vfio-pci > "$d/driver_override"
        if [ -e "$d/driver" ]; then
            echo "$bdf" > "$d/driver/unbind"
        fi
        echo "$bdf" > /sys/bus/pci/drivers_probe
        if [ ! -e "$d/iommu_group" ]; then
            echo "@@UDD-ERROR $3 $bdf has no IOMMU group"
            continue
        fi
        grp=$(readlink "$d/iommu_group"); grp=${grp##*/}
        if [ ! -e "/dev/vfio/$grp" ]; then
            echo "@@UDD-ERROR $3 $bdf: /dev/vfio/$grp did not appear"
            continue
        fi
        echo "@@UDD-DEVICE $3 $bdf group $grp driver $(basename "$(readlink "$d/driver")")"
        if [ -z "$(eval echo "\${UDD_VM_$3:-}")" ]; then
            export "UDD_VM_$3=$bdf" "UDD_VM_$3_GROUP=$grp"
        fi
    done
}
bind 0x1234 0x11e8 EDU
bind 0x1b36 0x0010 NVME
export UDD_VM=1
. /run/env   # again: --env may override what bind exported

ntests=0
tmo=$(cat /run/test-timeout 2>/dev/null || echo 120)
for t in /tests/*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=${t##*/}
    ntests=$((ntests + 1))
    echo "@@UDD-BEGIN $name"
    (cd /tmp && timeout "$tmo" "$t") < /dev/null 2>&1
    rc=$?
    if [ $rc = 0 ]; then v=PASS; else v=FAIL; fi
    echo ""
    echo "@@UDD-TEST $name $v $rc"
done
finish
