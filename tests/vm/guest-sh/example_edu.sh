#!/bin/sh
# examples/edu, unchanged (built statically against libudd.a), on QEMU's edu bound to
# vfio-pci: it must print its success line (id, 10!, DMA verified, MSI received).
out=$(UDD_NO_EMBEDDED=1 /bin/edu 2>&1)
rc=$?
echo "$out"
if [ $rc != 0 ]; then echo "example_edu: edu exited $rc"; exit 1; fi
if ! echo "$out" | grep -qE '^edu: id 0x010000ed, 10! = 3628800, DMA [0-9]+ bytes verified, MSI received'; then
    echo "example_edu: no success line"; exit 1
fi
echo "example_edu: success line seen"
