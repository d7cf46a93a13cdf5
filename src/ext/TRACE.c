/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TRACE target (revision 0): marks the packet for tracing, so that every
 * later rule it matches is logged as "TRACE: table:chain:type:num".
 *
 * No options and no data (libxt_TRACE has neither, so -h says "TRACE does
 * not take any options" and -L/-S print nothing after the name).  The
 * kernel module only accepts it in the raw table.  The target sets the
 * packet's trace flag (skb->nf_trace) and lets it go on; the rule walk
 * (engine.c) logs the rules a traced packet matches from then on.
 */
#include "engine.h"
#include "ext.h"
#include "pkt.h"

static unsigned int trace_target(struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	(void)par;
	pkt->nf_trace = true;
	return UXT_XT_CONTINUE;
}

static const struct uxt_opt trace_opts[] = {{.name = NULL}};

const struct uxt_ext uxt_ext_TRACE = {
	.name = "TRACE",
	.kind = UXT_TARGET,
	.size = 0,
	.usersize = 0,
	.opts = trace_opts,
	.table = "raw",
	.target = trace_target,
};
