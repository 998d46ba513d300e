#!/bin/bash
# udd bind / udd unbind on a fake sysfs tree ($UDD_SYSFS_ROOT in a temp dir; this
# host's real devices are never touched): argument checking, refusal while the
# current driver is in use (a mounted block device, a held one, a network interface
# that is up) unless --force, the sysfs writes in the right order, and the result
# reported once "the kernel" (a tiny background stand-in) has moved the driver link.
set -u
: "${UDD_BIN:?UDD_BIN must name the build directory}"
UDD="$UDD_BIN/tools/udd"
ROOT=$(mktemp -d /tmp/udd-fakesys.XXXXXX)
export UDD_SYSFS_ROOT=$ROOT
bgpid=
cleanup() {
	[ -n "$bgpid" ] && kill "$bgpid" 2>/dev/null
	rm -rf "$ROOT"
}
trap cleanup EXIT

fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }

# expect STATUS PATTERN -- CMD...: exit status and a message (stdout+stderr)
expect() {
	local want=$1 pat=$2
	shift 2
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	out=${out//$'\n'/ }   # patterns may span the lines of a message
	if [ "$rc" -ne "$want" ]; then
		bad "'$*' exited $rc, expected $want; output: $out"
	elif [ -n "$pat" ] && ! grep -qiE -- "$pat" <<<"$out"; then
		bad "'$*' output lacks /$pat/: $out"
	else
		ok
	fi
}
# file_is FILE CONTENT: exact content (an empty CONTENT = empty file)
file_is() {
	local got
	got=$(cat "$1" 2>/dev/null)
	if [ "$got" = "$2" ]; then ok; else bad "$1 holds '$got', expected '$2'"; fi
}

# A real mounted device number: the tool reads /proc/self/mountinfo.
MOUNTED=$(awk 'NR == 1 { print $3 }' /proc/self/mountinfo)
[ -n "$MOUNTED" ] || { echo "no mountinfo?" >&2; exit 1; }

mkdir -p "$ROOT"/bus/pci/devices "$ROOT"/class/{block,net,nvme} "$ROOT"/kernel/iommu_groups/7
for d in nvme e1000e vfio-pci; do mkdir -p "$ROOT/bus/pci/drivers/$d"; done

# mkdev BDF [DRIVER]: a PCI device node with driver_override, its driver link
mkdev() {
	local bdf=$1 drv=${2:-} dir=$ROOT/devices/pci0000:00/$1
	rm -rf "$dir" "$ROOT/bus/pci/devices/$bdf"
	mkdir -p "$dir"
	echo "(null)" > "$dir/driver_override"
	ln -s "../../../devices/pci0000:00/$bdf" "$ROOT/bus/pci/devices/$bdf"
	ln -s ../../../kernel/iommu_groups/7 "$dir/iommu_group"
	[ -n "$drv" ] && ln -s "../../../bus/pci/drivers/$drv" "$dir/driver"
	: > "$ROOT/bus/pci/drivers_probe"
	for d in nvme e1000e vfio-pci; do : > "$ROOT/bus/pci/drivers/$d/unbind"; done
	return 0
}
devdir() { echo "$ROOT/devices/pci0000:00/$1"; }

# an nvme controller with a namespace (and a partition) whose numbers are MAJ:MIN
mknvme() {
	local dir
	dir=$(devdir "$1")
	mkdir -p "$dir/nvme/nvme0/nvme0n1/nvme0n1p1" "$dir/nvme/nvme0/nvme0n1/holders"
	echo 242:0 > "$dir/nvme/nvme0/dev"
	ln -s ../../../../../../class/nvme "$dir/nvme/nvme0/subsystem"
	echo "$2" > "$dir/nvme/nvme0/nvme0n1/dev"
	ln -s ../../../../../../../class/block "$dir/nvme/nvme0/nvme0n1/subsystem"
	echo "$3" > "$dir/nvme/nvme0/nvme0n1/nvme0n1p1/dev"
	ln -s ../../../../../../../../class/block "$dir/nvme/nvme0/nvme0n1/nvme0n1p1/subsystem"
}

# the kernel's part, played in the background: once BDF is written to
# drivers_probe, point the device's driver link at DRIVER
fake_kernel() {
	local bdf=$1 drv=$2 dir
	dir=$(devdir "$bdf")
	(
		for _ in $(seq 1 500); do
			if [ -s "$ROOT/bus/pci/drivers_probe" ]; then
				ln -sfn "../../../bus/pci/drivers/$drv" "$dir/driver"
				exit 0
			fi
			sleep 0.01
		done
	) &
	bgpid=$!
}
fake_kernel_done() { [ -n "$bgpid" ] && wait "$bgpid" 2>/dev/null; bgpid=; }

NV=0000:00:02.0
NET=0000:00:03.0

# --- usage and bad input --------------------------------------------------------
expect 2 "expected one PCI address" "$UDD" bind
expect 2 "expected one PCI address" "$UDD" unbind
expect 2 "expected one PCI address" "$UDD" bind 00:02.0 00:03.0
expect 2 "" "$UDD" bind --bogus 00:02.0
expect 2 "unbind option" "$UDD" bind --no-probe 00:02.0
expect 1 "bad PCI address" "$UDD" bind zz
expect 1 "bad PCI address" "$UDD" bind 0000:00:20.0    # device number > 31
expect 1 "bad PCI address" "$UDD" bind 0000:00:02.8
expect 1 "bad PCI address" "$UDD" unbind 0000:0g:02.0
expect 1 "no PCI device 0000:00:1f.0" "$UDD" bind 00:1f.0
expect 0 "^Usage" "$UDD" bind --help

# --- bind: refused while a namespace is mounted -----------------------------------
mkdev $NV nvme
mknvme $NV "$MOUNTED" 259:99
expect 1 "nvme0n1 \($MOUNTED\) is mounted on /.*refusing.*nvme.*--force" "$UDD" bind $NV
file_is "$(devdir $NV)/driver_override" "(null)"   # nothing was touched
file_is "$ROOT/bus/pci/drivers/nvme/unbind" ""
file_is "$ROOT/bus/pci/drivers_probe" ""
# a mounted partition counts too; upper-case and short addresses are the same device
mkdev $NV nvme
mknvme $NV 259:98 "$MOUNTED"
expect 1 "nvme0n1p1 \($MOUNTED\) is mounted" "$UDD" bind 00:02.0
expect 1 "is mounted" "$UDD" bind 0000:00:02.0
# a namespace held by another block device (dm, md)
mkdev $NV nvme
mknvme $NV 259:98 259:99
touch "$(devdir $NV)/nvme/nvme0/nvme0n1/holders/dm-0"
expect 1 "nvme0n1 \(259:98\) is held by another device" "$UDD" bind $NV
file_is "$ROOT/bus/pci/drivers_probe" ""

# --- bind: not in use -> override, unbind, probe; the driver is checked -----------
mkdev $NV nvme
mknvme $NV 259:98 259:99
fake_kernel $NV vfio-pci
expect 0 "$NV: bound to vfio-pci \(was nvme\), IOMMU group 7" "$UDD" bind $NV
fake_kernel_done
file_is "$(devdir $NV)/driver_override" "vfio-pci"
file_is "$ROOT/bus/pci/drivers/nvme/unbind" "$NV"
file_is "$ROOT/bus/pci/drivers_probe" "$NV"
expect 0 "already bound to vfio-pci" "$UDD" bind $NV

# vfio-pci does not take it (no kernel reaction here): a clear failure
mkdev $NV nvme
mknvme $NV 259:98 259:99
expect 1 "vfio-pci did not take the device \(driver now: nvme\)" "$UDD" bind $NV
file_is "$(devdir $NV)/driver_override" "vfio-pci"

# --force takes a mounted device anyway (and says so)
mkdev $NV nvme
mknvme $NV "$MOUNTED" 259:99
fake_kernel $NV vfio-pci
expect 0 "--force: taking it from nvme although it is in use.*bound to vfio-pci" \
	"$UDD" bind --force $NV
fake_kernel_done
file_is "$ROOT/bus/pci/drivers/nvme/unbind" "$NV"

# a device without a driver: nothing to unbind first
mkdev 0000:00:04.0
fake_kernel 0000:00:04.0 vfio-pci
expect 0 "bound to vfio-pci \(was no driver\)" "$UDD" bind 00:04.0
fake_kernel_done
file_is "$(devdir 0000:00:04.0)/driver_override" "vfio-pci"

# --- bind: a network interface that is up --------------------------------------------
mkdev $NET e1000e
mkdir -p "$(devdir $NET)/net/eth0"
ln -s ../../../../../class/net "$(devdir $NET)/net/eth0/subsystem"
echo 0x1003 > "$(devdir $NET)/net/eth0/flags"
echo up > "$(devdir $NET)/net/eth0/operstate"
expect 1 "network interface eth0 is up.*refusing.*e1000e" "$UDD" bind $NET
file_is "$ROOT/bus/pci/drivers/e1000e/unbind" ""
echo 0x1002 > "$(devdir $NET)/net/eth0/flags"    # down: IFF_UP clear
echo down > "$(devdir $NET)/net/eth0/operstate"
fake_kernel $NET vfio-pci
expect 0 "bound to vfio-pci \(was e1000e\)" "$UDD" bind $NET
fake_kernel_done
file_is "$ROOT/bus/pci/drivers/e1000e/unbind" "$NET"

# --- unbind --------------------------------------------------------------------------
mkdev $NV nvme
expect 1 "$NV is bound to nvme, not to vfio-pci" "$UDD" unbind $NV
file_is "$ROOT/bus/pci/drivers/nvme/unbind" ""
mkdev $NV vfio-pci
echo vfio-pci > "$(devdir $NV)/driver_override"
fake_kernel $NV nvme
expect 0 "$NV: unbound from vfio-pci; now nvme" "$UDD" unbind $NV
fake_kernel_done
file_is "$ROOT/bus/pci/drivers/vfio-pci/unbind" "$NV"
file_is "$(devdir $NV)/driver_override" ""         # cleared (an empty line)
file_is "$ROOT/bus/pci/drivers_probe" "$NV"
# --no-probe: left without a driver, no probe
mkdev $NV vfio-pci
expect 0 "left without a driver" "$UDD" unbind --no-probe $NV
file_is "$ROOT/bus/pci/drivers/vfio-pci/unbind" "$NV"
file_is "$ROOT/bus/pci/drivers_probe" ""
# no driver at all: only the override is cleared; nobody claims it
mkdev 0000:00:04.0
echo vfio-pci > "$(devdir 0000:00:04.0)/driver_override"
expect 0 "without a driver" "$UDD" unbind 00:04.0
file_is "$(devdir 0000:00:04.0)/driver_override" ""

# --- a read-only tree: the write error is reported -----------------------------------
if [ "$(id -u)" != 0 ]; then
	mkdev $NV nvme
	mknvme $NV 259:98 259:99
	chmod 444 "$(devdir $NV)/driver_override"
	expect 1 "cannot write .*driver_override" "$UDD" bind $NV
fi

echo "test_tool_bind: $checks checks, $fails failed"
[ "$fails" -eq 0 ] && [ "$checks" -gt 0 ]
