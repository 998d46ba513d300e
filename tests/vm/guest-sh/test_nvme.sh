#!/bin/sh
# tests/nvme/test_nvme.c (the driver of examples/nvme, libudd_nvme) in --pool mode on
# QEMU's nvme bound to vfio-pci: the same checks as on the simulated controller, less
# the simulator-only ones. The embedded pool is left out so that the first NVMe
# controller of the pool is QEMU's, not udd-sim's.
export UDD_NO_EMBEDDED=1
echo "test_nvme --pool on $UDD_VM_NVME (group $UDD_VM_NVME_GROUP)"
exec /bin/test_nvme --pool
