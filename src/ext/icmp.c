/* SPDX-License-Identifier: BSD-2-Clause */
/* icmp: not written yet (skeleton so that the list links). */
#include "ext.h"

static const struct uxt_opt no_opts[] = {{.name = NULL}};

const struct uxt_ext uxt_ext_icmp = {
	.name = "icmp",
	.kind = UXT_MATCH,
	.opts = no_opts,
};
