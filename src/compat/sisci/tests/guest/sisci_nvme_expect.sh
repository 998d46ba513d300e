#!/bin/sh
# Guest test (busybox sh): examples/smartio/nvme_identify identifies QEMU's
# nvme as the harness configures it (tests/vm/run-guest: -device
# nvme,serial=udd0) — model "QEMU NVMe Ctrl", serial "udd0" — and it does so
# again after an earlier run left the controller disabled (a second user).
prog=$(dirname "$0")/nvme_identify
[ -x "$prog" ] || { echo "sisci_nvme_expect: $prog missing"; exit 1; }
out=$("$prog" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "sisci_nvme_expect: nvme_identify exit status $rc"; exit 1; }
echo "$out" | grep -q '^nvme_identify: fdid 0x[0-9a-f]*, 1b36:0010 class 010802 ' ||
    { echo "sisci_nvme_expect: not QEMU's nvme (1b36:0010, class 010802)"; exit 1; }
echo "$out" | grep -q '^nvme_identify: model "QEMU NVMe Ctrl", serial "udd0", firmware "[^"][^"]*",' ||
    { echo "sisci_nvme_expect: model/serial not as the harness set them"; exit 1; }
echo "sisci_nvme_expect: ok"
