/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The standard target: ACCEPT, DROP, QUEUE, RETURN, no target at all, and
 * -j/-g to a user chain.  Its data is struct uxt_std_target (rule.h); the
 * command line fills it, since what a name means depends on the table's
 * chains, and the rule walk interprets it.
 */
#include "ext.h"

static void standard_help(struct uxt_buf *out)
{
	uxt_buf_puts(out, "standard match options:\n"
			  "(If target is DROP, ACCEPT, RETURN or nothing)\n");
}

static const struct uxt_opt standard_opts[] = {
	{.name = NULL},
};

const struct uxt_ext uxt_ext_standard = {
	.name = "standard",
	.kind = UXT_TARGET,
	.size = sizeof(struct uxt_std_target),
	.usersize = sizeof(struct uxt_std_target),
	.opts = standard_opts,
	.help = standard_help,
};
