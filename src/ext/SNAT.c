/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SNAT target, revision 0 (the IPv4 "multi range compat" layout), the only
 * IPv4 revision iptables 1.8.9 knows: --to-source [ip[-ip]][:port[-port]],
 * --random, --random-fully, --persistent.  Kernel side as xt_nat: nat
 * table, POSTROUTING and INPUT, exactly one range; the packet side
 * (xt_snat_target_v0) binds the connection's source (nat.h).
 */
#include "engine.h"
#include "ext.h"
#include "nat.h"
#include "nat_range.h"

static void SNAT_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "SNAT target options:\n"
		     " --to-source [<ipaddr>[-<ipaddr>]][:port[-port]]\n"
		     "\t\t\t\tAddress to map source to.\n"
		     "[--random] [--random-fully] [--persistent]\n");
}

static const struct uxt_opt SNAT_opts[] = {
	{.name = "to-source", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = UXT_NAT_O_TO_SRC, .flags = UXT_OPT_MAND},
	{.name = "random", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = UXT_NAT_O_RANDOM},
	{.name = "random-fully", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = UXT_NAT_O_RANDOM_FULLY},
	{.name = "persistent", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = UXT_NAT_O_PERSISTENT},
	{.name = NULL},
};

static void SNAT_print(struct uxt_buf *out, const struct uxt_ip *ip,
		       const void *data, bool numeric)
{
	(void)ip;
	(void)numeric;
	uxt_nat_print_mrc(out, data, "to:", "", false);
}

static void SNAT_save(struct uxt_buf *out, const struct uxt_ip *ip,
		      const void *data)
{
	(void)ip;
	uxt_nat_print_mrc(out, data, "--to-source ", "--", false);
}

static int SNAT_check(const struct uxt_check_call *call)
{
	return uxt_nat_check_mrc(call, false);
}

/* xt_snat_target_v0(): only for the first packet of a connection (NEW or
 * RELATED), which the nat table alone sees */
static unsigned int SNAT_target(struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_nat_ipv4_mrc *mr = par->info;
	struct uxt_nat_range range;

	if (!pkt->ct)
		return UXT_NF_ACCEPT;
	uxt_nat_range_from_compat(&range, &mr->range[0]);
	return uxt_nat_setup_info(par->ns, pkt->ct, &range, UXT_NAT_MANIP_SRC);
}

const struct uxt_ext uxt_ext_SNAT = {
	.name = "SNAT",
	.revision = 0,
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_nat_ipv4_mrc),
	/* iptables: XT_ALIGN(sizeof(struct nf_nat_ipv4_multi_range_compat));
	 * the tail is padding, always zero */
	.usersize = sizeof(struct uxt_nat_ipv4_mrc),
	.opts = SNAT_opts,
	.help = SNAT_help,
	.parse = uxt_nat_parse_mrc,
	.fcheck = uxt_nat_fcheck_snat,
	.print = SNAT_print,
	.save = SNAT_save,
	.table = "nat",
	.hooks = (1u << UXT_HOOK_POST_ROUTING) | (1u << UXT_HOOK_LOCAL_IN),
	.check = SNAT_check,
	.needs_conntrack = true,
	.target = SNAT_target,
};
