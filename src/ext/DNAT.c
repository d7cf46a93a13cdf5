/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * DNAT target, revision 2 (struct nf_nat_range2), which iptables 1.8.9
 * uses on a current kernel: --to-destination [ip[-ip]][:port[-port[/base]]],
 * --random, --persistent.  Kernel side as xt_nat: nat table, PREROUTING and
 * OUTPUT only; the packet side (xt_dnat_target_v2) binds the connection's
 * destination (nat.h).
 */
#include "engine.h"
#include "ext.h"
#include "nat.h"
#include "nat_range.h"

static void DNAT_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "DNAT target options:\n"
		     " --to-destination [<ipaddr>[-<ipaddr>]][:port[-port[/port]]]\n"
		     "\t\t\t\tAddress to map destination to.\n"
		     "[--random] [--persistent]\n");
}

static const struct uxt_opt DNAT_opts[] = {
	{.name = "to-destination", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = UXT_NAT_O_TO_DEST, .flags = UXT_OPT_MAND},
	{.name = "random", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = UXT_NAT_O_RANDOM},
	{.name = "persistent", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = UXT_NAT_O_PERSISTENT},
	{.name = NULL},
};

static void DNAT_print(struct uxt_buf *out, const struct uxt_ip *ip,
		       const void *data, bool numeric)
{
	(void)ip;
	(void)numeric;
	uxt_nat_print_range2(out, data, "to:", "", false);
}

static void DNAT_save(struct uxt_buf *out, const struct uxt_ip *ip,
		      const void *data)
{
	(void)ip;
	uxt_nat_print_range2(out, data, "--to-destination ", "--", false);
}

/* xt_dnat_target_v2(): for the first packet of a connection */
static unsigned int DNAT_target(struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	struct uxt_nat_range range;

	if (!pkt->ct)
		return UXT_NF_ACCEPT;
	uxt_nat_range_from_range2(&range, par->info);
	return uxt_nat_setup_info(par->ns, pkt->ct, &range, UXT_NAT_MANIP_DST);
}

const struct uxt_ext uxt_ext_DNAT = {
	.name = "DNAT",
	.revision = 2,
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_nat_range2),
	/* iptables: XT_ALIGN(sizeof(struct nf_nat_range2)); the tail is
	 * padding, always zero */
	.usersize = sizeof(struct uxt_nat_range2),
	.opts = DNAT_opts,
	.help = DNAT_help,
	.parse = uxt_nat_parse_range2,
	.print = DNAT_print,
	.save = DNAT_save,
	.table = "nat",
	.hooks = (1u << UXT_HOOK_PRE_ROUTING) | (1u << UXT_HOOK_LOCAL_OUT),
	.needs_conntrack = true,
	.target = DNAT_target,
};
