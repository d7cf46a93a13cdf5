/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The extensions uxtables knows.  An extension's id is its index here and
 * is stored in rules; the state file records the name and revision of each
 * id, so reordering this list only costs a translation when an older state
 * is loaded.  Append new extensions at the end.
 */
#include "ext.h"

const struct uxt_ext *const uxt_extensions[] = {
	&uxt_ext_standard,
};

const unsigned int uxt_extensions_count =
	sizeof(uxt_extensions) / sizeof(uxt_extensions[0]);
