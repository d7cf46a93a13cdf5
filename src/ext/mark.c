/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mark match: the packet's nfmark, with an optional mask (-m mark).
 *
 * Command line as libxt_mark revision 1 (x6 style, one mandatory
 * "--mark value[/mask]"); kernel side as xt_mark revision 1, which has no
 * checkentry and no table, hook or protocol restriction.
 *
 * Packet side as mark_mt: (nfmark & mask) == mark, exclusive-or'ed with the
 * invert byte as a whole (a stored invert other than 0 or 1 makes the rule
 * match every packet, in the kernel as here).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "ext.h"
#include "parse.h"
#include "pkt.h"

/* struct xt_mark_mtinfo1 */
struct uxt_mark_mtinfo1 {
	uint32_t mark, mask;
	uint8_t invert;
};

enum { O_MARK = 0 };

static void mark_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "mark match options:\n"
		     "[!] --mark value[/mask]    Match nfmark value with optional mask\n");
}

static const struct uxt_opt mark_opts[] = {
	{.name = "mark", .has_arg = 1, .type = UXT_OT_MARKMASK32, .id = O_MARK,
	 .flags = UXT_OPT_MAND | UXT_OPT_INVERT},
	{.name = NULL},
};

static int mark_parse(struct uxt_opt_call *c)
{
	struct uxt_mark_mtinfo1 *info = c->data;

	if (uxt_opt_parse(c))
		return -1;
	if (c->invert)
		info->invert = 1;
	info->mark = c->val.mark;
	info->mask = c->val.mask;
	return 0;
}

static void mark_print(struct uxt_buf *b, const struct uxt_ip *ip,
		       const void *data, bool numeric)
{
	const struct uxt_mark_mtinfo1 *info = data;

	(void)ip;
	(void)numeric;
	uxt_buf_puts(b, " mark match");
	if (info->invert)
		uxt_buf_puts(b, " !");
	uxt_print_mark_mask(b, info->mark, info->mask);
}

static void mark_save(struct uxt_buf *b, const struct uxt_ip *ip,
		      const void *data)
{
	const struct uxt_mark_mtinfo1 *info = data;

	(void)ip;
	if (info->invert)
		uxt_buf_puts(b, " !");
	uxt_buf_puts(b, " --mark");
	uxt_print_mark_mask(b, info->mark, info->mask);
}

static bool mark_match(const struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_mark_mtinfo1 *info = par->info;

	return ((int)((pkt->mark & info->mask) == info->mark) ^ info->invert) != 0;
}

const struct uxt_ext uxt_ext_mark = {
	.name = "mark",
	.revision = 1,
	.kind = UXT_MATCH,
	.x6 = true,
	.size = sizeof(struct uxt_mark_mtinfo1),
	.usersize = UXT_ALIGN(sizeof(struct uxt_mark_mtinfo1)),
	.opts = mark_opts,
	.help = mark_help,
	.parse = mark_parse,
	.print = mark_print,
	.save = mark_save,
	.match = mark_match,
};
