/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * MASQUERADE target (IPv4 "multi range compat" layout): --to-ports
 * port[-port], --random, --random-fully.  Kernel side as xt_MASQUERADE:
 * nat table, POSTROUTING only, one range without addresses; the packet
 * side (masquerade_tg) binds the connection's source to the address the
 * outgoing device has toward the next hop (nat.h).
 */
#include "engine.h"
#include "ext.h"
#include "nat.h"
#include "nat_range.h"

static void MASQUERADE_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "MASQUERADE target options:\n"
		     " --to-ports <port>[-<port>]\n"
		     "\t\t\t\tPort (range) to map to.\n"
		     " --random\n"
		     "\t\t\t\tRandomize source port.\n"
		     " --random-fully\n"
		     "\t\t\t\tFully randomize source port.\n");
}

static const struct uxt_opt MASQUERADE_opts[] = {
	{.name = "to-ports", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = UXT_NAT_O_TO_PORTS},
	{.name = "random", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = UXT_NAT_O_RANDOM},
	{.name = "random-fully", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = UXT_NAT_O_RANDOM_FULLY},
	{.name = NULL},
};

static void MASQUERADE_print(struct uxt_buf *out, const struct uxt_ip *ip,
			     const void *data, bool numeric)
{
	(void)ip;
	(void)numeric;
	uxt_nat_print_mrc(out, data, "masq ports: ", "", true);
}

static void MASQUERADE_save(struct uxt_buf *out, const struct uxt_ip *ip,
			    const void *data)
{
	(void)ip;
	uxt_nat_print_mrc(out, data, "--to-ports ", "--", true);
}

static int MASQUERADE_check(const struct uxt_check_call *call)
{
	return uxt_nat_check_mrc(call, true);
}

/* masquerade_tg(): the range's flags and ports; the address is chosen */
static unsigned int MASQUERADE_target(struct uxt_pkt *pkt,
				      struct uxt_xt_param *par)
{
	const struct uxt_nat_ipv4_mrc *mr = par->info;
	struct uxt_nat_range range;

	uxt_nat_range_from_compat(&range, &mr->range[0]);
	range.min_addr = range.max_addr = 0;
	return uxt_nat_masquerade(par->ns, pkt, &range, par->out);
}

const struct uxt_ext uxt_ext_MASQUERADE = {
	.name = "MASQUERADE",
	.revision = 0,
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_nat_ipv4_mrc),
	.usersize = sizeof(struct uxt_nat_ipv4_mrc),
	.opts = MASQUERADE_opts,
	.help = MASQUERADE_help,
	.parse = uxt_nat_parse_mrc,
	.fcheck = uxt_nat_fcheck_snat,
	.print = MASQUERADE_print,
	.save = MASQUERADE_save,
	.table = "nat",
	.hooks = 1u << UXT_HOOK_POST_ROUTING,
	.check = MASQUERADE_check,
	.needs_conntrack = true,
	.target = MASQUERADE_target,
};
