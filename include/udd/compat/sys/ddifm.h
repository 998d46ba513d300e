/* SPDX-License-Identifier: MIT */
/* <sys/ddifm.h> for illumos drivers ported to udd: add -I<include>/udd/compat. */
#include <udd/ddi.h>
