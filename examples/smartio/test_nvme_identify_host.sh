#!/bin/bash
# nvme_identify on the host: the pool (the embedded udd-sim: edu, be, pio,
# nvme; no VFIO with UDD_NO_VFIO=1) holds udd-sim's simulated NVMe
# controller, and the SISCI program, unchanged, identifies it: exit 0, the
# model's name, no SISCI error.
set -uo pipefail
prog=${1:?usage: test_nvme_identify_host.sh PATH-TO-nvme_identify}
out=$("$prog" 2>&1)
rc=$?
echo "$out"
if [ $rc -ne 0 ]; then
    echo "test_nvme_identify_host: exit status $rc, expected 0"
    exit 1
fi
if ! grep -q 'model "udd-sim NVMe Ctrl"' <<<"$out"; then
    echo "test_nvme_identify_host: the simulated controller's model name is missing"
    exit 1
fi
if grep -q '^SCI' <<<"$out"; then
    echo "test_nvme_identify_host: a SISCI call failed"
    exit 1
fi
echo "test_nvme_identify_host: ok"
