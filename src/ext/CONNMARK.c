/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CONNMARK target, revision 2: sets the conntrack mark, copies the packet
 * mark into it (--save-mark) or back (--restore-mark), with masks and an
 * optional shift of the copied value.
 *
 *   set      ctmark = ((ctmark & ~ctmask) ^ ctmark_value) shifted
 *   save     ctmark = (ctmark & ~ctmask) ^ ((nfmark & nfmask) shifted)
 *   restore  nfmark = (nfmark & ~nfmask) ^ ((ctmark & ctmask) shifted)
 *
 * The command line is libxt_CONNMARK's revision 2 in x6 style: one
 * operation (--set-xmark, --set-mark, --and-mark, --or-mark, --xor-mark,
 * --save-mark, --restore-mark), masks that --mask sets both of, and
 * --left-shift-mark / --right-shift-mark (0-32; the kernel refuses 32).
 * --ctmask and --nfmask are stored straight into the data, so they also
 * overwrite the mask an earlier --set-xmark chose, as in iptables.
 *
 * Kernel side (xt_connmark.c connmark_tg_check_v2): shift_dir must be left
 * or right and shift_bits below 32; no table restriction.  It needs
 * conntrack in the namespace.  Packet side (connmark_tg_shift): without an
 * entry nothing happens; a changed ctmark raises IPCT_MARK.
 */
#include <errno.h>
#include <stddef.h>

#include "ct.h"
#include "engine.h"
#include "ext.h"
#include "parse.h"

enum { UXT_CONNMARK_SET = 0, UXT_CONNMARK_SAVE, UXT_CONNMARK_RESTORE };
enum { UXT_SHIFT_LEFT = 0, UXT_SHIFT_RIGHT };

/* xt_connmark_tginfo2 */
struct uxt_connmark_tginfo2 {
	uint32_t ctmark;
	uint32_t ctmask;
	uint32_t nfmask;
	uint8_t shift_dir;
	uint8_t shift_bits;
	uint8_t mode;
};
_Static_assert(sizeof(struct uxt_connmark_tginfo2) == 16 &&
	       offsetof(struct uxt_connmark_tginfo2, mode) == 14,
	       "xt_connmark_tginfo2 layout");

enum {
	O_SET_MARK = 0,
	O_SAVE_MARK,
	O_RESTORE_MARK,
	O_AND_MARK,
	O_OR_MARK,
	O_XOR_MARK,
	O_LEFT_SHIFT_MARK,
	O_RIGHT_SHIFT_MARK,
	O_SET_XMARK,
	O_CTMASK,
	O_NFMASK,
	O_MASK,
};
#define F(o) (1u << (o))
#define F_OP_ANY                                                            \
	(F(O_SET_MARK) | F(O_SAVE_MARK) | F(O_RESTORE_MARK) | F(O_AND_MARK) |  \
	 F(O_OR_MARK) | F(O_XOR_MARK) | F(O_SET_XMARK))

static const struct uxt_opt connmark_tg_opts[] = {
	{.name = "set-xmark", .has_arg = 1, .type = UXT_OT_MARKMASK32,
	 .id = O_SET_XMARK, .excl = F_OP_ANY},
	{.name = "set-mark", .has_arg = 1, .type = UXT_OT_MARKMASK32,
	 .id = O_SET_MARK, .excl = F_OP_ANY},
	{.name = "and-mark", .has_arg = 1, .type = UXT_OT_UINT32,
	 .id = O_AND_MARK, .excl = F_OP_ANY},
	{.name = "or-mark", .has_arg = 1, .type = UXT_OT_UINT32,
	 .id = O_OR_MARK, .excl = F_OP_ANY},
	{.name = "xor-mark", .has_arg = 1, .type = UXT_OT_UINT32,
	 .id = O_XOR_MARK, .excl = F_OP_ANY},
	{.name = "save-mark", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = O_SAVE_MARK, .excl = F_OP_ANY},
	{.name = "restore-mark", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = O_RESTORE_MARK, .excl = F_OP_ANY},
	{.name = "left-shift-mark", .has_arg = 1, .type = UXT_OT_UINT8,
	 .id = O_LEFT_SHIFT_MARK, .min = 0, .max = 32},
	{.name = "right-shift-mark", .has_arg = 1, .type = UXT_OT_UINT8,
	 .id = O_RIGHT_SHIFT_MARK, .min = 0, .max = 32},
	{.name = "ctmask", .has_arg = 1, .type = UXT_OT_UINT32, .id = O_CTMASK,
	 .excl = F(O_MASK), .flags = UXT_OPT_PUT,
	 UXT_OPT_POINTER(struct uxt_connmark_tginfo2, ctmask)},
	{.name = "nfmask", .has_arg = 1, .type = UXT_OT_UINT32, .id = O_NFMASK,
	 .excl = F(O_MASK), .flags = UXT_OPT_PUT,
	 UXT_OPT_POINTER(struct uxt_connmark_tginfo2, nfmask)},
	{.name = "mask", .has_arg = 1, .type = UXT_OT_UINT32, .id = O_MASK,
	 .excl = F(O_CTMASK) | F(O_NFMASK)},
	{.name = NULL},
};

static void connmark_tg_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "CONNMARK target options:\n"
		     "  --set-xmark value[/ctmask]    Zero mask bits and XOR ctmark with value\n"
		     "  --save-mark [--ctmask mask] [--nfmask mask]\n"
		     "                                Copy ctmark to nfmark using masks\n"
		     "  --restore-mark [--ctmask mask] [--nfmask mask]\n"
		     "                                Copy nfmark to ctmark using masks\n"
		     "  --set-mark value[/mask]       Set conntrack mark value\n"
		     "  --save-mark [--mask mask]     Save the packet nfmark in the connection\n"
		     "  --restore-mark [--mask mask]  Restore saved nfmark value\n"
		     "  --and-mark value              Binary AND the ctmark with bits\n"
		     "  --or-mark value               Binary OR  the ctmark with bits\n"
		     "  --xor-mark value              Binary XOR the ctmark with bits\n"
		     "  --left-shift-mark value       Left shift the ctmark with bits\n"
		     "  --right-shift-mark value      Right shift the ctmark with bits\n");
}

static void connmark_tg_init(void *data)
{
	struct uxt_connmark_tginfo2 *info = data;

	/* the masks --save-mark / --restore-mark use when none is given */
	info->ctmask = UINT32_MAX;
	info->nfmask = UINT32_MAX;
	info->shift_dir = UXT_SHIFT_LEFT;
	info->shift_bits = 0;
}

static int connmark_tg_parse(struct uxt_opt_call *c)
{
	struct uxt_connmark_tginfo2 *info = c->data;

	if (uxt_opt_parse(c))
		return -1;
	switch (c->opt->id) {
	case O_SET_XMARK:
		info->mode = UXT_CONNMARK_SET;
		info->ctmark = c->val.mark;
		info->ctmask = c->val.mask;
		break;
	case O_SET_MARK:
		info->mode = UXT_CONNMARK_SET;
		info->ctmark = c->val.mark;
		info->ctmask = c->val.mark | c->val.mask;
		break;
	case O_AND_MARK:
		info->mode = UXT_CONNMARK_SET;
		info->ctmark = 0;
		info->ctmask = ~c->val.u32;
		break;
	case O_OR_MARK:
		info->mode = UXT_CONNMARK_SET;
		info->ctmark = c->val.u32;
		info->ctmask = c->val.u32;
		break;
	case O_XOR_MARK:
		info->mode = UXT_CONNMARK_SET;
		info->ctmark = c->val.u32;
		info->ctmask = 0;
		break;
	case O_SAVE_MARK:
		info->mode = UXT_CONNMARK_SAVE;
		break;
	case O_RESTORE_MARK:
		info->mode = UXT_CONNMARK_RESTORE;
		break;
	case O_MASK:
		info->nfmask = info->ctmask = c->val.u32;
		break;
	case O_LEFT_SHIFT_MARK:
		info->shift_dir = UXT_SHIFT_LEFT;
		info->shift_bits = c->val.u8;
		break;
	case O_RIGHT_SHIFT_MARK:
		info->shift_dir = UXT_SHIFT_RIGHT;
		info->shift_bits = c->val.u8;
		break;
	default:
		break;
	}
	return 0;
}

static int connmark_tg_fcheck(struct uxt_fcheck_call *c)
{
	if (!(c->xflags & F_OP_ANY))
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "CONNMARK target: No operation specified");
	return 0;
}

static const char *shift_op_name(uint8_t dir)
{
	return dir == UXT_SHIFT_RIGHT ? "right-shift-mark" : "left-shift-mark";
}

static void connmark_tg_print(struct uxt_buf *b, const struct uxt_ip *ip,
			      const void *data, bool numeric)
{
	const struct uxt_connmark_tginfo2 *info = data;

	(void)ip;
	(void)numeric;
	switch (info->mode) {
	case UXT_CONNMARK_SET:
		if (info->ctmark == 0)
			uxt_buf_printf(b, " CONNMARK and 0x%x",
				       (unsigned int)~info->ctmask);
		else if (info->ctmark == info->ctmask)
			uxt_buf_printf(b, " CONNMARK or 0x%x", info->ctmark);
		else if (info->ctmask == 0)
			uxt_buf_printf(b, " CONNMARK xor 0x%x", info->ctmark);
		else if (info->ctmask == 0xFFFFFFFFu)
			uxt_buf_printf(b, " CONNMARK set 0x%x", info->ctmark);
		else
			uxt_buf_printf(b, " CONNMARK xset 0x%x/0x%x",
				       info->ctmark, info->ctmask);
		break;
	case UXT_CONNMARK_SAVE:
		if (info->nfmask == UINT32_MAX && info->ctmask == UINT32_MAX)
			uxt_buf_puts(b, " CONNMARK save");
		else if (info->nfmask == info->ctmask)
			uxt_buf_printf(b, " CONNMARK save mask 0x%x", info->nfmask);
		else
			uxt_buf_printf(b, " CONNMARK save nfmask 0x%x ctmask ~0x%x",
				       info->nfmask, info->ctmask);
		break;
	case UXT_CONNMARK_RESTORE:
		if (info->ctmask == UINT32_MAX && info->nfmask == UINT32_MAX)
			uxt_buf_puts(b, " CONNMARK restore");
		else if (info->ctmask == info->nfmask)
			uxt_buf_printf(b, " CONNMARK restore mask 0x%x", info->ctmask);
		else
			uxt_buf_printf(b, " CONNMARK restore ctmask 0x%x nfmask ~0x%x",
				       info->ctmask, info->nfmask);
		break;
	default:
		uxt_buf_puts(b, " ERROR: UNKNOWN CONNMARK MODE");
		break;
	}
	if (info->mode <= UXT_CONNMARK_RESTORE && info->shift_bits != 0)
		uxt_buf_printf(b, " %s %u", shift_op_name(info->shift_dir),
			       info->shift_bits);
}

static void connmark_tg_save(struct uxt_buf *b, const struct uxt_ip *ip,
			     const void *data)
{
	const struct uxt_connmark_tginfo2 *info = data;

	(void)ip;
	switch (info->mode) {
	case UXT_CONNMARK_SET:
		uxt_buf_printf(b, " --set-xmark 0x%x/0x%x", info->ctmark,
			       info->ctmask);
		break;
	case UXT_CONNMARK_SAVE:
		uxt_buf_printf(b, " --save-mark --nfmask 0x%x --ctmask 0x%x",
			       info->nfmask, info->ctmask);
		break;
	case UXT_CONNMARK_RESTORE:
		uxt_buf_printf(b, " --restore-mark --nfmask 0x%x --ctmask 0x%x",
			       info->nfmask, info->ctmask);
		break;
	default:
		uxt_buf_puts(b, " ERROR: UNKNOWN CONNMARK MODE");
		break;
	}
	if (info->mode <= UXT_CONNMARK_RESTORE && info->shift_bits != 0)
		uxt_buf_printf(b, " --%s %u", shift_op_name(info->shift_dir),
			       info->shift_bits);
}

static int connmark_tg_check(const struct uxt_check_call *call)
{
	const struct uxt_connmark_tginfo2 *info = call->data;

	if (info->shift_dir > UXT_SHIFT_RIGHT || info->shift_bits >= 32)
		return -EINVAL;
	return 0;
}

static uint32_t shifted(const struct uxt_connmark_tginfo2 *info, uint32_t v)
{
	/* shift_bits < 32 (checked) */
	return info->shift_dir == UXT_SHIFT_RIGHT ? v >> info->shift_bits :
						    v << info->shift_bits;
}

static unsigned int connmark_tg(struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_connmark_tginfo2 *info = par->info;
	struct uxt_ct *ct = pkt->ct;
	uint32_t newmark;

	if (!ct)
		return UXT_XT_CONTINUE;
	switch (info->mode) {
	case UXT_CONNMARK_SET:
		newmark = shifted(info, (ct->mark & ~info->ctmask) ^ info->ctmark);
		if (ct->mark != newmark) {
			ct->mark = newmark;
			uxt_ct_event(ct, UXT_IPCT_MARK);
		}
		break;
	case UXT_CONNMARK_SAVE:
		newmark = (ct->mark & ~info->ctmask) ^
			  shifted(info, pkt->mark & info->nfmask);
		if (ct->mark != newmark) {
			ct->mark = newmark;
			uxt_ct_event(ct, UXT_IPCT_MARK);
		}
		break;
	case UXT_CONNMARK_RESTORE:
		pkt->mark = (pkt->mark & ~info->nfmask) ^
			    shifted(info, ct->mark & info->ctmask);
		break;
	default:
		break;
	}
	return UXT_XT_CONTINUE;
}

const struct uxt_ext uxt_ext_CONNMARK = {
	.name = "CONNMARK",
	.revision = 2,
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_connmark_tginfo2),
	.usersize = UXT_ALIGN(sizeof(struct uxt_connmark_tginfo2)),
	.opts = connmark_tg_opts,
	.help = connmark_tg_help,
	.init = connmark_tg_init,
	.parse = connmark_tg_parse,
	.fcheck = connmark_tg_fcheck,
	.print = connmark_tg_print,
	.save = connmark_tg_save,
	.check = connmark_tg_check,
	.needs_conntrack = true,
	.target = connmark_tg,
};
