#!/bin/sh
# The udd command in the guest (dynamic build with its libraries in the initramfs):
# `udd list` shows edu and nvme with their pci.ids names, and `udd info` agrees with
# the guest's own `lspci -vv -nn` (ids, class, subsystem, BARs, capabilities,
# MSI/MSI-X counts).
export UDD_NO_EMBEDDED=1
fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
same() { # same WHAT A B
    if [ "$2" = "$3" ]; then ok; else bad "$1 differ: udd '$2' vs lspci '$3'"; fi
}

list=$(udd list) || bad "udd list exited $?"
echo "$list"
for bdf in "$UDD_VM_EDU" "$UDD_VM_NVME"; do
    line=$(echo "$list" | grep " $bdf ")
    [ -n "$line" ] && ok || { bad "udd list lacks $bdf"; continue; }
    ls=$(lspci -nn -s "$bdf" 2>/dev/null)
    echo "lspci: $ls"
    # "CLASS [cccc]: VENDOR DEVICE [vvvv:dddd]" as lspci -nn prints it
    u=$(echo "$line" | sed -E 's/^0x[0-9a-f]+ [^ ]+ //; s/(\[[0-9a-f]{4}:[0-9a-f]{4}\]).*/\1/')
    l=$(echo "$ls" | sed -E 's/^[^ ]+ //; s/(\[[0-9a-f]{4}:[0-9a-f]{4}\]).*/\1/')
    case $bdf in
    "$UDD_VM_NVME") same "nvme names" "$u" "$l" ;;
    *) # 1234 is not in pci.ids: lspci says "Device [1234:11e8]", udd "Vendor 1234 Device 11e8"
        same "edu class and ids" "$(echo "$u" | grep -oE '\[[0-9a-f]{4}\]|\[1234:11e8\]' | tr '\n' ' ')" \
            "$(echo "$l" | grep -oE '\[[0-9a-f]{4}\]|\[1234:11e8\]' | tr '\n' ' ')" ;;
    esac
done
echo "$list" | grep -q "Red Hat, Inc. QEMU NVM Express Controller \[1b36:0010\]" && ok \
    || bad "udd list lacks the nvme's pci.ids name"
echo "$list" | grep -qE "\[1234:11e8\] \(rev 10\)" && ok || bad "udd list lacks edu 1234:11e8 rev 10"
[ "$(udd list --vendor 1b36 | grep -c '^0x')" = 1 ] && ok || bad "udd list --vendor 1b36"
[ "$(udd list --class 0108 | grep -c '^0x')" = 1 ] && ok || bad "udd list --class 0108"
[ "$(udd list --vendor fffe | grep -c '^0x')" = 0 ] && ok || bad "udd list --vendor fffe"

for bdf in "$UDD_VM_EDU" "$UDD_VM_NVME"; do
    fdid=$(echo "$list" | grep " $bdf " | cut -d' ' -f1)
    info=$(udd info "$fdid") || { bad "udd info $fdid ($bdf) exited $?"; echo "$info"; continue; }
    ok
    vv=$(lspci -vv -nn -s "$bdf" 2>/dev/null)   # (no /lib/modules: libkmod complains)
    echo "---- udd info $fdid"; echo "$info"
    echo "---- lspci -vv -nn -s $bdf"; echo "$vv"
    # ids and class
    same "$bdf vendor" "$(echo "$info" | sed -nE 's/.*Vendor: .*\[([0-9a-f]{4})\]$/\1/p')" \
        "$(echo "$vv" | head -n1 | sed -nE 's/.*\[([0-9a-f]{4}):[0-9a-f]{4}\].*/\1/p')"
    same "$bdf device" "$(echo "$info" | sed -nE 's/.*Device: .*\[([0-9a-f]{4})\]$/\1/p')" \
        "$(echo "$vv" | head -n1 | sed -nE 's/.*\[[0-9a-f]{4}:([0-9a-f]{4})\].*/\1/p')"
    same "$bdf class" "$(echo "$info" | sed -nE 's/.*Class: .*\[([0-9a-f]{4})[0-9a-f]{2}\]$/\1/p')" \
        "$(echo "$vv" | head -n1 | sed -nE 's/^[^ ]+ [^[]*\[([0-9a-f]{4})\]:.*/\1/p')"
    same "$bdf revision" "$(echo "$info" | sed -nE 's/.*Revision: ([0-9a-f]{2})$/\1/p')" \
        "$(echo "$vv" | head -n1 | sed -nE 's/.*\(rev ([0-9a-f]{2})\).*/\1/p')"
    same "$bdf subsystem" "$(echo "$info" | sed -nE 's/.*Subsystem: .*\[([0-9a-f]{4}:[0-9a-f]{4})\]$/\1/p')" \
        "$(echo "$vv" | sed -nE 's/.*Subsystem: .*\[([0-9a-f]{4}:[0-9a-f]{4})\]$/\1/p')"
    # BARs: index, size, 64-bit
    same "$bdf regions" \
        "$(echo "$info" | sed -nE 's/.*Region [0-9]+ \(bar([0-5])\): memory, size ([0-9]+[KMG]?) \[(.*)\]/\1 \2 \3/p' \
            | awk '{ print $1, $2, ($3 ~ /64-bit/ ? "64" : "32") }' | tr '\n' ';')" \
        "$(echo "$vv" | sed -nE 's/.*Region ([0-5]): Memory at [0-9a-f]+ \(([0-9]+)-bit.*\[size=([0-9]+[KMG]?)\]/\1 \3 \2/p' \
            | tr '\n' ';')"
    # capabilities: offsets and names, in order; MSI / MSI-X lines whole
    same "$bdf capabilities" \
        "$(echo "$info" | grep -oE 'Capabilities: \[[^]]*\] [A-Za-z-]+' | tr '\n' ';')" \
        "$(echo "$vv" | grep -oE 'Capabilities: \[[^]]*\] [A-Za-z-]+' | tr '\n' ';')"
    same "$bdf MSI/MSI-X" \
        "$(echo "$info" | grep -E 'Capabilities: .* (MSI|MSI-X):' | sed 's/^[[:space:]]*//' | tr '\n' ';')" \
        "$(echo "$vv" | grep -E 'Capabilities: .* (MSI|MSI-X):' | sed 's/^[[:space:]]*//' | tr '\n' ';')"
    n_msix=$(echo "$vv" | sed -nE 's/.*MSI-X: Enable[+-] Count=([0-9]+).*/\1/p')
    n_msi=$(echo "$vv" | sed -nE 's/.*MSI: Enable[+-] Count=[0-9]+\/([0-9]+).*/\1/p')
    same "$bdf interrupt counts" "$(echo "$info" | sed -nE 's/.*Interrupts: INTx [0-9]+, MSI ([0-9]+), MSI-X ([0-9]+)/\1 \2/p')" \
        "${n_msi:-0} ${n_msix:-0}"
done
case $(echo "$(udd info "$(echo "$list" | grep " $UDD_VM_NVME " | cut -d' ' -f1)")" | grep -oE '\] (Power|MSI-X|Express)' | sort | tr '\n' ' ') in
*Express*MSI-X*Power*) ok ;;
*) bad "udd info of nvme lacks one of PM / MSI-X / Express" ;;
esac
echo "udd_tool: $checks checks, $fails failed"
[ $fails = 0 ]
