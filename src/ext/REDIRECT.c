/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * REDIRECT target (IPv4 "multi range compat" layout): --to-ports
 * port[-port], --random.  Kernel side as xt_REDIRECT: nat table,
 * PREROUTING and OUTPUT, one range without addresses; the packet side
 * (redirect_tg4) binds the connection's destination to this host: the
 * incoming device's first address, or 127.0.0.1 at OUTPUT (nat.h).
 */
#include "engine.h"
#include "ext.h"
#include "nat.h"
#include "nat_range.h"

static void REDIRECT_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "REDIRECT target options:\n"
		     " --to-ports <port>[-<port>]\n"
		     "\t\t\t\tPort (range) to map to.\n"
		     " [--random]\n");
}

static const struct uxt_opt REDIRECT_opts[] = {
	{.name = "to-ports", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = UXT_NAT_O_TO_PORTS},
	{.name = "random", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = UXT_NAT_O_RANDOM},
	{.name = NULL},
};

static void REDIRECT_print(struct uxt_buf *out, const struct uxt_ip *ip,
			   const void *data, bool numeric)
{
	(void)ip;
	(void)numeric;
	uxt_nat_print_mrc(out, data, "redir ports ", "", true);
}

static void REDIRECT_save(struct uxt_buf *out, const struct uxt_ip *ip,
			  const void *data)
{
	(void)ip;
	uxt_nat_print_mrc(out, data, "--to-ports ", "--", true);
}

static int REDIRECT_check(const struct uxt_check_call *call)
{
	return uxt_nat_check_mrc(call, true);
}

/* redirect_tg4(): the range's flags and ports */
static unsigned int REDIRECT_target(struct uxt_pkt *pkt,
				    struct uxt_xt_param *par)
{
	const struct uxt_nat_ipv4_mrc *mr = par->info;
	struct uxt_nat_range range;

	if (!pkt->ct)
		return UXT_NF_ACCEPT;
	uxt_nat_range_from_compat(&range, &mr->range[0]);
	range.min_addr = range.max_addr = 0;
	return uxt_nat_redirect(par->ns, pkt, &range, par->hook, par->in);
}

const struct uxt_ext uxt_ext_REDIRECT = {
	.name = "REDIRECT",
	.revision = 0,
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_nat_ipv4_mrc),
	.usersize = sizeof(struct uxt_nat_ipv4_mrc),
	.opts = REDIRECT_opts,
	.help = REDIRECT_help,
	.parse = uxt_nat_parse_mrc,
	.fcheck = uxt_nat_fcheck_dnat,
	.print = REDIRECT_print,
	.save = REDIRECT_save,
	.table = "nat",
	.hooks = (1u << UXT_HOOK_PRE_ROUTING) | (1u << UXT_HOOK_LOCAL_OUT),
	.check = REDIRECT_check,
	.needs_conntrack = true,
	.target = REDIRECT_target,
};
