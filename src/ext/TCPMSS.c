/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TCPMSS target: --set-mss value | --clamp-mss-to-pmtu (the later one
 * wins; iptables does not enforce the exclusion its help text mentions).
 * Kernel side as xt_TCPMSS: the rule must say "-p tcp" without "!" and
 * carry a tcp match for SYN (flag comparison with SYN set, not inverted);
 * path-MTU clamping only from FORWARD, OUTPUT and POSTROUTING.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#include "ext.h"

/* struct xt_tcpmss_info */
struct uxt_tcpmss_info {
	uint16_t mss;
};

#define UXT_TCPMSS_CLAMP_PMTU 0xFFFF

/* the kernel's struct xt_tcp, the data of the tcp match */
struct tcpmss_xt_tcp {
	uint16_t spts[2];
	uint16_t dpts[2];
	uint8_t option;
	uint8_t flg_mask;
	uint8_t flg_cmp;
	uint8_t invflags;
};
#define TCPMSS_TCP_INV_FLAGS 0x04
#define TCPMSS_TCPHDR_SYN 0x02

enum { O_SET_MSS = 0, O_CLAMP_MSS };

/* sizeof(struct iphdr) */
#define IPV4_HDR_SIZE 20

static void TCPMSS_help(struct uxt_buf *out)
{
	uxt_buf_printf(out,
		       "TCPMSS target mutually-exclusive options:\n"
		       "  --set-mss value               explicitly set MSS option to specified value\n"
		       "  --clamp-mss-to-pmtu           automatically clamp MSS value to (path_MTU - %d)\n",
		       IPV4_HDR_SIZE);
}

static const struct uxt_opt TCPMSS_opts[] = {
	{.name = "set-mss", .has_arg = 1, .type = UXT_OT_UINT16,
	 .id = O_SET_MSS, .flags = UXT_OPT_PUT,
	 UXT_OPT_POINTER(struct uxt_tcpmss_info, mss),
	 .min = 0, .max = UINT16_MAX - IPV4_HDR_SIZE},
	{.name = "clamp-mss-to-pmtu", .has_arg = 0, .type = UXT_OT_NONE,
	 .id = O_CLAMP_MSS},
	{.name = NULL},
};

static int TCPMSS_parse(struct uxt_opt_call *call)
{
	struct uxt_tcpmss_info *info = call->data;

	if (uxt_opt_parse(call))
		return -1;
	if (call->opt->id == O_CLAMP_MSS)
		info->mss = UXT_TCPMSS_CLAMP_PMTU;
	return 0;
}

static int TCPMSS_fcheck(struct uxt_fcheck_call *call)
{
	if (call->xflags == 0)
		return uxt_error(call->err, UXT_PARAMETER_PROBLEM,
				 "TCPMSS target: At least one parameter is required");
	return 0;
}

static void TCPMSS_print(struct uxt_buf *out, const struct uxt_ip *ip,
			 const void *data, bool numeric)
{
	const struct uxt_tcpmss_info *info = data;

	(void)ip;
	(void)numeric;
	if (info->mss == UXT_TCPMSS_CLAMP_PMTU)
		uxt_buf_puts(out, " TCPMSS clamp to PMTU");
	else
		uxt_buf_printf(out, " TCPMSS set %u", info->mss);
}

static void TCPMSS_save(struct uxt_buf *out, const struct uxt_ip *ip,
			const void *data)
{
	const struct uxt_tcpmss_info *info = data;

	(void)ip;
	if (info->mss == UXT_TCPMSS_CLAMP_PMTU)
		uxt_buf_puts(out, " --clamp-mss-to-pmtu");
	else
		uxt_buf_printf(out, " --set-mss %u", info->mss);
}

static bool find_syn_match(const struct uxt_rule *r)
{
	const struct uxt_xrec *m;

	uxt_rule_foreach_match(r, m) {
		const struct uxt_ext *ext = uxt_ext_by_id(m->ext);
		struct tcpmss_xt_tcp tcp;

		if (!ext || strcmp(ext->name, "tcp") != 0 ||
		    ext->size < sizeof(tcp))
			continue;
		memcpy(&tcp, m->data, sizeof(tcp));
		if ((tcp.flg_cmp & TCPMSS_TCPHDR_SYN) &&
		    !(tcp.invflags & TCPMSS_TCP_INV_FLAGS))
			return true;
	}
	return false;
}

static int TCPMSS_check(const struct uxt_check_call *call)
{
	const struct uxt_tcpmss_info *info = call->data;
	const unsigned int clamp_hooks = (1u << UXT_HOOK_FORWARD) |
					 (1u << UXT_HOOK_LOCAL_OUT) |
					 (1u << UXT_HOOK_POST_ROUTING);

	if (info->mss == UXT_TCPMSS_CLAMP_PMTU &&
	    (call->hook_mask & ~clamp_hooks) != 0)
		return -EINVAL;
	if (find_syn_match(call->rule))
		return 0;
	return -EINVAL;
}

const struct uxt_ext uxt_ext_TCPMSS = {
	.name = "TCPMSS",
	.revision = 0,
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_tcpmss_info),
	/* iptables: XT_ALIGN(sizeof(struct xt_tcpmss_info)); the tail is
	 * padding, always zero */
	.usersize = sizeof(struct uxt_tcpmss_info),
	.opts = TCPMSS_opts,
	.help = TCPMSS_help,
	.parse = TCPMSS_parse,
	.fcheck = TCPMSS_fcheck,
	.print = TCPMSS_print,
	.save = TCPMSS_save,
	.proto = IPPROTO_TCP,
	.check = TCPMSS_check,
};
