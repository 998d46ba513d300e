#!/bin/bash
# nvme_identify on the host: the pool (the embedded udd-sim: edu, be, pio; no
# VFIO with UDD_NO_VFIO=1) holds no NVMe controller, so the program must say
# so and exit with status 2 — after SCIGetDeviceList with the class filter
# worked (no SISCI error) — rather than touch any other device.
set -uo pipefail
prog=${1:?usage: test_nvme_identify_host.sh PATH-TO-nvme_identify}
out=$("$prog" 2>&1)
rc=$?
echo "$out"
if [ $rc -ne 2 ]; then
    echo "test_nvme_identify_host: exit status $rc, expected 2 (no NVMe controller)"
    exit 1
fi
if ! grep -q '^nvme_identify: no NVMe controller (class 0x010802) in the SmartIO pool$' <<<"$out"; then
    echo "test_nvme_identify_host: the 'no NVMe controller' message is missing"
    exit 1
fi
if grep -q '^SCI' <<<"$out"; then
    echo "test_nvme_identify_host: a SISCI call failed"
    exit 1
fi
echo "test_nvme_identify_host: ok"
