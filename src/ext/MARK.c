/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * MARK target, revision 2: sets the packet mark as
 * mark = (mark & ~mask) ^ value.
 *
 * Every option of the command line is reduced to one (value, mask) pair, as
 * libxt_MARK revision 2 does: --set-xmark v/m stores v/m, --set-mark v/m
 * stores v/(v|m), --and-mark b stores 0/~b, --or-mark b stores b/b and
 * --xor-mark b stores b/0.  -L guesses the option back from the pair, -S
 * always prints --set-xmark.
 *
 * Options are x6 style: each may appear once and excludes the others (the
 * generic parser and final check give libxtables' messages).  The kernel
 * module has no checkentry and no table restriction.  The target
 * (mark_tg_target) changes the packet's mark and lets it go on.
 */
#include <stddef.h>

#include "engine.h"
#include "ext.h"
#include "parse.h"
#include "pkt.h"

/* xt_mark_tginfo2 */
struct uxt_mark_tginfo2 {
	uint32_t mark;
	uint32_t mask;
};
_Static_assert(sizeof(struct uxt_mark_tginfo2) == 8, "xt_mark_tginfo2 layout");

enum {
	O_SET_MARK = 0,
	O_AND_MARK,
	O_OR_MARK,
	O_XOR_MARK,
	O_SET_XMARK,
};
#define F_ANY                                                               \
	((1u << O_SET_MARK) | (1u << O_AND_MARK) | (1u << O_OR_MARK) |        \
	 (1u << O_XOR_MARK) | (1u << O_SET_XMARK))

static const struct uxt_opt mark_tg_opts[] = {
	{.name = "set-xmark", .has_arg = 1, .type = UXT_OT_MARKMASK32,
	 .id = O_SET_XMARK, .excl = F_ANY},
	{.name = "set-mark", .has_arg = 1, .type = UXT_OT_MARKMASK32,
	 .id = O_SET_MARK, .excl = F_ANY},
	{.name = "and-mark", .has_arg = 1, .type = UXT_OT_UINT32,
	 .id = O_AND_MARK, .excl = F_ANY},
	{.name = "or-mark", .has_arg = 1, .type = UXT_OT_UINT32,
	 .id = O_OR_MARK, .excl = F_ANY},
	{.name = "xor-mark", .has_arg = 1, .type = UXT_OT_UINT32,
	 .id = O_XOR_MARK, .excl = F_ANY},
	{.name = NULL},
};

static void mark_tg_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "MARK target options:\n"
		     "  --set-xmark value[/mask]  Clear bits in mask and XOR value into nfmark\n"
		     "  --set-mark value[/mask]   Clear bits in mask and OR value into nfmark\n"
		     "  --and-mark bits           Binary AND the nfmark with bits\n"
		     "  --or-mark bits            Binary OR the nfmark with bits\n"
		     "  --xor-mark bits           Binary XOR the nfmark with bits\n");
}

static int mark_tg_parse(struct uxt_opt_call *c)
{
	struct uxt_mark_tginfo2 *info = c->data;

	if (uxt_opt_parse(c))
		return -1;
	switch (c->opt->id) {
	case O_SET_XMARK:
		info->mark = c->val.mark;
		info->mask = c->val.mask;
		break;
	case O_SET_MARK:
		info->mark = c->val.mark;
		info->mask = c->val.mark | c->val.mask;
		break;
	case O_AND_MARK:
		info->mark = 0;
		info->mask = ~c->val.u32;
		break;
	case O_OR_MARK:
		info->mark = c->val.u32;
		info->mask = c->val.u32;
		break;
	case O_XOR_MARK:
		info->mark = c->val.u32;
		info->mask = 0;
		break;
	}
	return 0;
}

static int mark_tg_fcheck(struct uxt_fcheck_call *c)
{
	if (c->xflags == 0)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "MARK: One of the --set-xmark, --{and,or,xor,set}-mark options is required");
	return 0;
}

static void mark_tg_print(struct uxt_buf *b, const struct uxt_ip *ip,
			  const void *data, bool numeric)
{
	const struct uxt_mark_tginfo2 *info = data;

	(void)ip;
	(void)numeric;
	if (info->mark == 0)
		uxt_buf_printf(b, " MARK and 0x%x", (unsigned int)~info->mask);
	else if (info->mark == info->mask)
		uxt_buf_printf(b, " MARK or 0x%x", info->mark);
	else if (info->mask == 0)
		uxt_buf_printf(b, " MARK xor 0x%x", info->mark);
	else if (info->mask == 0xFFFFFFFFu)
		uxt_buf_printf(b, " MARK set 0x%x", info->mark);
	else
		uxt_buf_printf(b, " MARK xset 0x%x/0x%x", info->mark, info->mask);
}

static void mark_tg_save(struct uxt_buf *b, const struct uxt_ip *ip,
			 const void *data)
{
	const struct uxt_mark_tginfo2 *info = data;

	(void)ip;
	uxt_buf_printf(b, " --set-xmark 0x%x/0x%x", info->mark, info->mask);
}

static unsigned int mark_tg_target(struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_mark_tginfo2 *info = par->info;

	pkt->mark = (pkt->mark & ~info->mask) ^ info->mark;
	return UXT_XT_CONTINUE;
}

const struct uxt_ext uxt_ext_MARK = {
	.name = "MARK",
	.revision = 2,
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_mark_tginfo2),
	.usersize = UXT_ALIGN(sizeof(struct uxt_mark_tginfo2)),
	.opts = mark_tg_opts,
	.help = mark_tg_help,
	.parse = mark_tg_parse,
	.fcheck = mark_tg_fcheck,
	.print = mark_tg_print,
	.save = mark_tg_save,
	.target = mark_tg_target,
};
