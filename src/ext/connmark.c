/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connmark match: the mark of the packet's connection (-m connmark).
 *
 * Command line as libxt_connmark revision 1 (x6 style, one mandatory
 * "--mark value[/mask]"); kernel side as xt_connmark's match revision 1,
 * whose checkentry only enables conntrack in the namespace (nothing it can
 * reject here) and which has no table, hook or protocol restriction.  A
 * packet without an entry never matches, inverted or not.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct.h"
#include "engine.h"
#include "ext.h"
#include "parse.h"

/* struct xt_connmark_mtinfo1 */
struct uxt_connmark_mtinfo1 {
	uint32_t mark, mask;
	uint8_t invert;
};

enum { O_MARK = 0 };

static void connmark_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "connmark match options:\n"
		     "[!] --mark value[/mask]    Match ctmark value with optional mask\n");
}

static const struct uxt_opt connmark_opts[] = {
	{.name = "mark", .has_arg = 1, .type = UXT_OT_MARKMASK32, .id = O_MARK,
	 .flags = UXT_OPT_MAND | UXT_OPT_INVERT},
	{.name = NULL},
};

static int connmark_parse(struct uxt_opt_call *c)
{
	struct uxt_connmark_mtinfo1 *info = c->data;

	if (uxt_opt_parse(c))
		return -1;
	if (c->invert)
		info->invert = 1;
	info->mark = c->val.mark;
	info->mask = c->val.mask;
	return 0;
}

/* -L: " connmark match " and the "!" glued to it, then " 0x..": a
 * non-inverted rule shows two spaces before the value */
static void connmark_print(struct uxt_buf *b, const struct uxt_ip *ip,
			   const void *data, bool numeric)
{
	const struct uxt_connmark_mtinfo1 *info = data;

	(void)ip;
	(void)numeric;
	uxt_buf_puts(b, " connmark match ");
	if (info->invert)
		uxt_buf_putc(b, '!');
	uxt_print_mark_mask(b, info->mark, info->mask);
}

static void connmark_save(struct uxt_buf *b, const struct uxt_ip *ip,
			  const void *data)
{
	const struct uxt_connmark_mtinfo1 *info = data;

	(void)ip;
	if (info->invert)
		uxt_buf_puts(b, " !");
	uxt_buf_puts(b, " --mark");
	uxt_print_mark_mask(b, info->mark, info->mask);
}

static bool connmark_mt(const struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_connmark_mtinfo1 *info = par->info;
	const struct uxt_ct *ct = pkt->ct;

	if (!ct)
		return false;
	return ((ct->mark & info->mask) == info->mark) ^ (info->invert != 0);
}

const struct uxt_ext uxt_ext_connmark = {
	.name = "connmark",
	.revision = 1,
	.kind = UXT_MATCH,
	.x6 = true,
	.size = sizeof(struct uxt_connmark_mtinfo1),
	.usersize = UXT_ALIGN(sizeof(struct uxt_connmark_mtinfo1)),
	.opts = connmark_opts,
	.help = connmark_help,
	.parse = connmark_parse,
	.print = connmark_print,
	.save = connmark_save,
	.needs_conntrack = true,
	.match = connmark_mt,
};
