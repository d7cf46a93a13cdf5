/* SPDX-License-Identifier: BSD-2-Clause */
/* SNAT: not written yet (skeleton so that the list links). */
#include "ext.h"

static const struct uxt_opt no_opts[] = {{.name = NULL}};

const struct uxt_ext uxt_ext_SNAT = {
	.name = "SNAT",
	.kind = UXT_TARGET,
	.opts = no_opts,
};
