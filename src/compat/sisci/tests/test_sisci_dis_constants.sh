#!/bin/bash
# The DIS/SISCI constants public SmartIO code uses (e.g. libnvm's SmartIO
# support: DIS_MAX_NSCIS as the size of per-adapter arrays, the SCI_ERR_*,
# SCI_FLAG_*, SCI_MEMTYPE_* and SCI_MEMACCESS_* it switches on) exist in the
# headers as such code includes them: <sisci_api.h> and <dis/dis_types.h> with
# -I<include>/sisci only, and <dis_types.h> with -I<include>/sisci/dis too.
# A missing one fails the compile.
set -euo pipefail
: "${UDD_TEST_SRC:?}"
tmp=$(mktemp -d /tmp/udd-sisci-dis-XXXXXX); trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/consts.c" <<'C'
#include <sisci_types.h>
#include <sisci_error.h>
#include <sisci_api.h>
#include <dis/dis_types.h>
#include <stdio.h>

#define MAX_ADAPTERS DIS_MAX_NSCIS
_Static_assert(DIS_MAX_NSCIS >= 1, "at least adapter 0");

const long consts[] = { /* (extern: used or not, it must compile) */
	DIS_MAX_NSCIS, DIS_BROADCAST_NODEID_GROUP_ALL,
	SCI_ERR_OK, SCI_ERR_BUSY, SCI_ERR_TIMEOUT, SCI_ERR_NOSPC, SCI_ERR_API_NOSPC,
	SCI_ERR_NO_SUCH_SEGMENT, SCI_ERR_CONNECTION_REFUSED, SCI_ERR_ILLEGAL_OPERATION,
	SCI_ERR_SEGMENT_NOT_PREPARED, SCI_ERR_NO_SUCH_FDID, SCI_ERR_NOT_AVAILABLE,
	SCI_ERR_FLAG_NOT_IMPLEMENTED, SCI_ERR_ILLEGAL_FLAG, SCI_ERR_OUT_OF_RANGE,
	SCI_ERR_SIZE_ALIGNMENT, SCI_ERR_OFFSET_ALIGNMENT,
	SCI_FLAG_READONLY_MAP, SCI_FLAG_IO_MAP_IOSPACE, SCI_FLAG_EMPTY, SCI_FLAG_AUTO_ID,
	SCI_FLAG_LOCAL_ONLY, SCI_FLAG_USE_CALLBACK, SCI_INFINITE_TIMEOUT,
	SCI_MEMTYPE_BAR, SCI_MEMTYPE_SHARED, SCI_MEMTYPE_PRIVATE,
	SCI_MEMACCESS_HOST_READ, SCI_MEMACCESS_HOST_WRITE,
	SCI_MEMACCESS_DEVICE_READ, SCI_MEMACCESS_DEVICE_WRITE,
	SCI_CALLBACK_CANCEL, SCI_CALLBACK_CONTINUE,
};

int main(void)
{
	unsigned int adapters[MAX_ADAPTERS] = {0};
	printf("%zu constants, %zu adapter slots\n", sizeof consts / sizeof consts[0],
	       sizeof adapters / sizeof adapters[0]);
	return 0;
}
C
cc=${UDD_CC:-cc}
# the way libnvm builds: -I<include>/sisci
"$cc" -std=c17 -Wall -Wextra -Werror -fsyntax-only -I"$UDD_TEST_SRC/include/sisci" "$tmp/consts.c"
# and Dolphin's example programs' way: both directories, <dis_types.h> directly
sed 's|<dis/dis_types.h>|<dis_types.h>|' "$tmp/consts.c" >"$tmp/consts2.c"
"$cc" -std=c17 -Wall -Wextra -Werror -fsyntax-only -I"$UDD_TEST_SRC/include/sisci" \
	-I"$UDD_TEST_SRC/include/sisci/dis" "$tmp/consts2.c"
echo "test_sisci_dis_constants: ok"
