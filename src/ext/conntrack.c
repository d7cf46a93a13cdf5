/* SPDX-License-Identifier: BSD-2-Clause */
/* conntrack, state: not written yet (skeleton so that the list links). */
#include "ext.h"

static const struct uxt_opt no_opts[] = {{.name = NULL}};

const struct uxt_ext uxt_ext_conntrack = {
	.name = "conntrack",
	.kind = UXT_MATCH,
	.opts = no_opts,
};

const struct uxt_ext uxt_ext_state = {
	.name = "state",
	.kind = UXT_MATCH,
	.opts = no_opts,
};
