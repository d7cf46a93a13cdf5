/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NFLOG target (revision 0): hands the packet to nfnetlink_log group
 * --nflog-group with a prefix, a copy length and a queue threshold.
 *
 * Command line as libxt_NFLOG of iptables 1.8.9 (x6 style).  --nflog-range
 * and --nflog-size both store the length; only --nflog-size sets the
 * COPY_LEN flag (in the final check), and --nflog-range earns a warning.
 * The prefix is cut to 63 characters.  -L and -S print the same words,
 * -S with "--" in front, the prefix quoted by xtables_save_string in both.
 *
 * Kernel side as xt_NFLOG's checkentry: only the COPY_LEN flag, and a
 * terminated prefix.  The target (nflog_target) hands the packet to the
 * namespace's NFLOG listener with the group, the prefix and the copy
 * length: --nflog-size when given (COPY_LEN), else the whole packet up to
 * the listener's range, as nfnetlink_log ignores the obsolete
 * --nflog-range.  The queue threshold only batches messages to the
 * listener, so it changes nothing here.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "engine.h"
#include "ext.h"
#include "nflog_pcap.h"
#include "parse.h"

#define UXT_NFLOG_DEFAULT_THRESHOLD 0
#define UXT_NFLOG_MASK 0x1
#define UXT_NFLOG_F_COPY_LEN 0x1

/* xt_nflog_info */
struct uxt_nflog_info {
	uint32_t len;		/* used iff flags has COPY_LEN */
	uint16_t group;
	uint16_t threshold;
	uint16_t flags;
	uint16_t pad;
	char prefix[64];
};
_Static_assert(sizeof(struct uxt_nflog_info) == 76 &&
	       offsetof(struct uxt_nflog_info, prefix) == 12,
	       "xt_nflog_info layout");

enum {
	O_GROUP = 0,
	O_PREFIX,
	O_RANGE,
	O_SIZE,
	O_THRESHOLD,
};
#define F_RANGE (1u << O_RANGE)
#define F_SIZE (1u << O_SIZE)

static const struct uxt_opt nflog_opts[] = {
	{.name = "nflog-group", .has_arg = 1, .type = UXT_OT_UINT16,
	 .id = O_GROUP, .flags = UXT_OPT_PUT,
	 UXT_OPT_POINTER(struct uxt_nflog_info, group)},
	{.name = "nflog-prefix", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_PREFIX, .min = 1, .flags = UXT_OPT_PUT,
	 UXT_OPT_POINTER(struct uxt_nflog_info, prefix)},
	{.name = "nflog-range", .has_arg = 1, .type = UXT_OT_UINT32,
	 .id = O_RANGE, .excl = F_SIZE, .flags = UXT_OPT_PUT,
	 UXT_OPT_POINTER(struct uxt_nflog_info, len)},
	{.name = "nflog-size", .has_arg = 1, .type = UXT_OT_UINT32,
	 .id = O_SIZE, .excl = F_RANGE, .flags = UXT_OPT_PUT,
	 UXT_OPT_POINTER(struct uxt_nflog_info, len)},
	{.name = "nflog-threshold", .has_arg = 1, .type = UXT_OT_UINT16,
	 .id = O_THRESHOLD, .flags = UXT_OPT_PUT,
	 UXT_OPT_POINTER(struct uxt_nflog_info, threshold)},
	{.name = NULL},
};

static void nflog_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "NFLOG target options:\n"
		     " --nflog-group NUM\t\tNETLINK group used for logging\n"
		     " --nflog-range NUM\t\tThis option has no effect, use --nflog-size\n"
		     " --nflog-size NUM\t\tNumber of bytes to copy\n"
		     " --nflog-threshold NUM\t\tMessage threshold of in-kernel queue\n"
		     " --nflog-prefix STRING\t\tPrefix string for log messages\n");
}

static void nflog_init(void *data)
{
	struct uxt_nflog_info *info = data;

	info->threshold = UXT_NFLOG_DEFAULT_THRESHOLD;
}

static int nflog_parse(struct uxt_opt_call *c)
{
	if (uxt_opt_parse(c))
		return -1;
	if (c->opt->id == O_PREFIX && strchr(c->arg, '\n') != NULL)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "Newlines not allowed in --log-prefix");
	return 0;
}

static int nflog_fcheck(struct uxt_fcheck_call *c)
{
	struct uxt_nflog_info *info = c->data;

	if (c->xflags & F_RANGE)
		uxt_buf_puts(c->warn,
			     "warn: --nflog-range has never worked and is no longer supported, please use --nflog-size instead\n");
	if (c->xflags & F_SIZE)
		info->flags |= UXT_NFLOG_F_COPY_LEN;
	return 0;
}

static void nflog_words(struct uxt_buf *b, const struct uxt_nflog_info *info,
			const char *dashes)
{
	if (info->prefix[0] != '\0') {
		char prefix[sizeof(info->prefix) + 1];

		memcpy(prefix, info->prefix, sizeof(info->prefix));
		prefix[sizeof(info->prefix)] = '\0';
		uxt_buf_printf(b, " %snflog-prefix", dashes);
		uxt_save_string(b, prefix);
	}
	if (info->group)
		uxt_buf_printf(b, " %snflog-group %u", dashes, info->group);
	if (info->flags & UXT_NFLOG_F_COPY_LEN)
		uxt_buf_printf(b, " %snflog-size %u", dashes, info->len);
	else if (info->len)
		uxt_buf_printf(b, " %snflog-range %u", dashes, info->len);
	if (info->threshold != UXT_NFLOG_DEFAULT_THRESHOLD)
		uxt_buf_printf(b, " %snflog-threshold %u", dashes,
			       info->threshold);
}

static void nflog_print(struct uxt_buf *b, const struct uxt_ip *ip,
			const void *data, bool numeric)
{
	(void)ip;
	(void)numeric;
	nflog_words(b, data, "");
}

static void nflog_save(struct uxt_buf *b, const struct uxt_ip *ip,
		       const void *data)
{
	(void)ip;
	nflog_words(b, data, "--");
}

static int nflog_check(const struct uxt_check_call *call)
{
	const struct uxt_nflog_info *info = call->data;

	if (info->flags & ~UXT_NFLOG_MASK)
		return -EINVAL;
	if (info->prefix[sizeof(info->prefix) - 1] != '\0')
		return -EINVAL;
	return 0;
}

static unsigned int nflog_target(struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_nflog_info *info = par->info;
	char prefix[sizeof(info->prefix) + 1];

	memcpy(prefix, info->prefix, sizeof(info->prefix));
	prefix[sizeof(info->prefix)] = '\0';
	uxt_ns_nflog(par->ns, pkt, par->hook, info->group, prefix,
		     (info->flags & UXT_NFLOG_F_COPY_LEN) ? info->len
							  : UXT_NFLOG_COPY_ALL);
	return UXT_XT_CONTINUE;
}

const struct uxt_ext uxt_ext_NFLOG = {
	.name = "NFLOG",
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_nflog_info),
	.usersize = UXT_ALIGN(sizeof(struct uxt_nflog_info)),
	.opts = nflog_opts,
	.help = nflog_help,
	.init = nflog_init,
	.parse = nflog_parse,
	.fcheck = nflog_fcheck,
	.print = nflog_print,
	.save = nflog_save,
	.check = nflog_check,
	.target = nflog_target,
};
