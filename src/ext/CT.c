/* SPDX-License-Identifier: BSD-2-Clause */
/* CT, NOTRACK: not written yet (skeleton so that the list links). */
#include "ext.h"

static const struct uxt_opt no_opts[] = {{.name = NULL}};

const struct uxt_ext uxt_ext_CT = {
	.name = "CT",
	.kind = UXT_TARGET,
	.opts = no_opts,
};

const struct uxt_ext uxt_ext_NOTRACK = {
	.name = "NOTRACK",
	.kind = UXT_TARGET,
	.opts = no_opts,
};
