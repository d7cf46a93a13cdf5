/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TCPMSS target: --set-mss value | --clamp-mss-to-pmtu (the later one
 * wins; iptables does not enforce the exclusion its help text mentions).
 * Kernel side as xt_TCPMSS: the rule must say "-p tcp" without "!" and
 * carry a tcp match for SYN (flag comparison with SYN set, not inverted);
 * path-MTU clamping only from FORWARD, OUTPUT and POSTROUTING.
 *
 * Packet side as xt_TCPMSS.c: a non-first fragment is left alone; a TCP
 * header that is truncated or whose data offset does not fit drops the
 * packet.  The new MSS is --set-mss, or for --clamp-mss-to-pmtu the
 * smaller of the MTU of the packet's route and of the route back to its
 * source, less 40 (a path MTU of 40 or less drops the packet).  An MSS
 * option is only ever lowered.  Without one, and with no payload and room
 * in the header, an MSS option of min(new, 536) is put first and the
 * header and datagram grow by 4 bytes.  Checksums are updated
 * incrementally (the TCP pseudo-header's length included).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ext.h"
#include "host.h"
#include "pkt.h"

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

/* The packet side */

#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOLEN_MSS 4
#define TCP_HDR_MIN 20
/* RFC 1122: the MSS a host assumes without the option */
#define TCPMSS_DEFAULT_IPV4 536

/* optlen(): how far to the next option; zero lengths make progress */
static unsigned int tcpmss_optlen(const uint8_t *opt, unsigned int offset)
{
	if (opt[offset] <= TCPOPT_NOP || opt[offset + 1] == 0)
		return 1;
	return opt[offset + 1];
}

/* The MTU of the packet's route (dst_mtu(skb_dst(skb))): the output
 * route's when the host model has one through the same device, else the
 * device's. */
static uint32_t tcpmss_dst_mtu(const struct uxt_host *h, const struct uxt_pkt *pkt,
			       const struct uxt_xt_param *par)
{
	const struct uxt_iface *out = par->out ? par->out : pkt->outdev;
	struct uxt_route_result rt;
	const char *reason;

	if (h && uxt_host_route_output(h, uxt_iph(pkt)->daddr, out, &rt, &reason) == 0 &&
	    rt.dev && (!out || rt.dev == out) && rt.mtu)
		return rt.mtu;
	return out ? out->mtu : ~0u;
}

/* tcpmss_reverse_mtu(): the MTU of the route toward the source, ~0 when
 * there is none */
static uint32_t tcpmss_reverse_mtu(const struct uxt_host *h,
				   const struct uxt_pkt *pkt)
{
	struct uxt_route_result rt;
	const char *reason;

	if (!h || uxt_host_route_output(h, uxt_iph(pkt)->saddr, NULL, &rt, &reason) ||
	    !rt.dev)
		return ~0u;
	return rt.mtu;
}

/* tcpmss_mangle_packet(): bytes added (0 or 4), or -1 to drop */
static int tcpmss_mangle(struct uxt_pkt *pkt, const struct uxt_xt_param *par,
			 unsigned int tcphoff, unsigned int minlen)
{
	const struct uxt_tcpmss_info *info = par->info;
	uint8_t *tcph, *opt;
	uint16_t *check;
	unsigned int len, tcp_hdrlen, i;
	uint16_t newmss, oldval, newval;
	uint32_t optval;

	if (par->fragoff != 0)
		return 0;
	if (pkt->len < tcphoff || pkt->len - tcphoff < TCP_HDR_MIN)
		return -1;
	len = pkt->len - tcphoff;
	tcph = pkt->data + tcphoff;
	tcp_hdrlen = (unsigned int)(tcph[12] >> 4) * 4u;
	if (len < tcp_hdrlen || tcp_hdrlen < TCP_HDR_MIN)
		return -1;
	check = (uint16_t *)(tcph + 16);
	if (info->mss == UXT_TCPMSS_CLAMP_PMTU) {
		const struct uxt_host *h = uxt_ns_host(par->ns);
		uint32_t in_mtu = tcpmss_reverse_mtu(h, pkt);
		uint32_t min_mtu = tcpmss_dst_mtu(h, pkt, par);

		if (in_mtu < min_mtu)
			min_mtu = in_mtu;
		if (min_mtu <= minlen)
			return -1;	/* "unknown or invalid path-MTU" */
		newmss = (uint16_t)(min_mtu - minlen);
	} else {
		newmss = info->mss;
	}
	for (i = TCP_HDR_MIN; i + TCPOLEN_MSS <= tcp_hdrlen; i += tcpmss_optlen(tcph, i)) {
		if (tcph[i] == TCPOPT_MSS && tcph[i + 1] == TCPOLEN_MSS) {
			uint16_t oldmss = (uint16_t)(tcph[i + 2] << 8 | tcph[i + 3]);

			/* never raised, even by --set-mss */
			if (oldmss <= newmss)
				return 0;
			tcph[i + 2] = (uint8_t)(newmss >> 8);
			tcph[i + 3] = (uint8_t)newmss;
			uxt_csum_replace2(check, htons(oldmss), htons(newmss));
			return 0;
		}
	}
	/* data after the header: the option cannot be added */
	if (len > tcp_hdrlen)
		return 0;
	/* doff has 4 bits */
	if (tcp_hdrlen >= 15 * 4)
		return 0;
	if (pkt->cap - pkt->len < TCPOLEN_MSS) {
		struct uxt_pkt bigger;

		if (uxt_pkt_init_copy(&bigger, pkt->data, pkt->len,
				      pkt->len + TCPOLEN_MSS))
			return -1;
		free(pkt->owned);
		pkt->owned = bigger.owned;
		pkt->data = bigger.data;
		pkt->cap = bigger.cap;
		tcph = pkt->data + tcphoff;
		check = (uint16_t *)(tcph + 16);
	}
	pkt->len += TCPOLEN_MSS;
	/* without the option a peer assumes 536 */
	if (newmss > TCPMSS_DEFAULT_IPV4)
		newmss = TCPMSS_DEFAULT_IPV4;
	opt = tcph + TCP_HDR_MIN;
	memmove(opt + TCPOLEN_MSS, opt, len - TCP_HDR_MIN);
	/* the pseudo-header's TCP length */
	uxt_csum_replace2(check, htons((uint16_t)len),
			  htons((uint16_t)(len + TCPOLEN_MSS)));
	opt[0] = TCPOPT_MSS;
	opt[1] = TCPOLEN_MSS;
	opt[2] = (uint8_t)(newmss >> 8);
	opt[3] = (uint8_t)newmss;
	memcpy(&optval, opt, 4);
	uxt_csum_replace4(check, 0, optval);
	memcpy(&oldval, tcph + 12, 2);
	tcph[12] = (uint8_t)(tcph[12] + ((TCPOLEN_MSS / 4) << 4));
	memcpy(&newval, tcph + 12, 2);
	uxt_csum_replace2(check, oldval, newval);
	return TCPOLEN_MSS;
}

static unsigned int TCPMSS_target(struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	struct uxt_iphdr *iph = uxt_iph(pkt);
	int ret = tcpmss_mangle(pkt, par, uxt_ip_hlen(pkt),
				IPV4_HDR_SIZE + TCP_HDR_MIN);

	if (ret < 0)
		return UXT_NF_DROP;
	if (ret > 0) {
		uint16_t newlen;

		iph = uxt_iph(pkt);
		newlen = htons((uint16_t)(ntohs(iph->tot_len) + ret));
		uxt_csum_replace2(&iph->check, iph->tot_len, newlen);
		iph->tot_len = newlen;
	}
	return UXT_XT_CONTINUE;
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
	.target = TCPMSS_target,
};
