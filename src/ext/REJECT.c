/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * REJECT target (IPv4): --reject-with type, names and aliases matched as
 * prefixes without regard to case, as libipt_REJECT does.  Kernel side as
 * ipt_REJECT: filter table, INPUT/FORWARD/OUTPUT, tcp-reset only for a rule
 * that says "-p tcp" without "!".
 *
 * Packet side as ipt_REJECT.c and nf_reject_ipv4.c: the packet is always
 * dropped; the reply goes out as a locally generated packet first.
 *   - ICMP (nf_send_unreach): not for a non-first fragment, nor when the
 *     transport checksum is wrong (checked for every protocol whose
 *     checksum covers the whole payload, nf_reject_verify_csum), then
 *     icmp_send() with its own refusals and rate limits (icmp.c).
 *   - TCP RST (nf_send_reset): not for a non-first fragment, a non-TCP or
 *     truncated header, a RST, a bad TCP checksum, or a packet whose route
 *     is broadcast or multicast.  From the original destination to the
 *     original source, ports swapped, IP ID 0, DF, TOS 0, TTL 64 (the
 *     route's hop limit), no options, window 0; seq = the original ACK
 *     number if it had ACK, else 0 with ACK set and ack = its seq + SYN +
 *     FIN + payload length.  Mark 0 (IP4_REPLY_MARK without
 *     fwmark_reflect); the original's conntrack entry is attached.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "ct.h"
#include "engine.h"
#include "ext.h"
#include "icmp.h"
#include "pkt.h"

/* enum ipt_reject_with */
enum {
	UXT_REJ_NET_UNREACHABLE = 0,
	UXT_REJ_HOST_UNREACHABLE,
	UXT_REJ_PROT_UNREACHABLE,
	UXT_REJ_PORT_UNREACHABLE,
	UXT_REJ_ECHOREPLY,
	UXT_REJ_NET_PROHIBITED,
	UXT_REJ_HOST_PROHIBITED,
	UXT_REJ_TCP_RESET,
	UXT_REJ_ADMIN_PROHIBITED,
	UXT_REJ_NTYPES
};

/* struct ipt_reject_info */
struct uxt_reject_info {
	uint32_t with;		/* UXT_REJ_* */
};

enum { O_REJECT_WITH = 0 };

static const struct {
	const char *name, *alias, *desc;
} reject_types[UXT_REJ_NTYPES] = {
	[UXT_REJ_NET_UNREACHABLE] = {"icmp-net-unreachable", "net-unreach",
				     "ICMP network unreachable"},
	[UXT_REJ_HOST_UNREACHABLE] = {"icmp-host-unreachable", "host-unreach",
				      "ICMP host unreachable"},
	[UXT_REJ_PROT_UNREACHABLE] = {"icmp-proto-unreachable", "proto-unreach",
				      "ICMP protocol unreachable"},
	[UXT_REJ_PORT_UNREACHABLE] = {"icmp-port-unreachable", "port-unreach",
				      "ICMP port unreachable (default)"},
	/* echo-reply: no longer offered */
	[UXT_REJ_NET_PROHIBITED] = {"icmp-net-prohibited", "net-prohib",
				    "ICMP network prohibited"},
	[UXT_REJ_HOST_PROHIBITED] = {"icmp-host-prohibited", "host-prohib",
				     "ICMP host prohibited"},
	[UXT_REJ_TCP_RESET] = {"tcp-reset", "tcp-rst", "TCP RST packet"},
	[UXT_REJ_ADMIN_PROHIBITED] = {"icmp-admin-prohibited", "admin-prohib",
				      "ICMP administratively prohibited (*)"},
};

static void REJECT_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "REJECT target options:\n"
		     "--reject-with type              drop input packet and send back\n"
		     "                                a reply packet according to type:\n"
		     "Valid reject types:\n");
	for (unsigned int i = 0; i < UXT_REJ_NTYPES; i++) {
		if (!reject_types[i].name)
			continue;
		uxt_buf_printf(out, "    %-25s\t%s\n", reject_types[i].name,
			       reject_types[i].desc);
		uxt_buf_printf(out, "    %-25s\talias\n", reject_types[i].alias);
	}
	uxt_buf_puts(out,
		     "\n"
		     "(*) See man page or read the INCOMPATIBILITES file for compatibility issues.\n");
}

static const struct uxt_opt REJECT_opts[] = {
	{.name = "reject-with", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_REJECT_WITH},
	{.name = NULL},
};

static void REJECT_init(void *data)
{
	struct uxt_reject_info *info = data;

	info->with = UXT_REJ_PORT_UNREACHABLE;
}

static int REJECT_parse(struct uxt_opt_call *call)
{
	struct uxt_reject_info *info = call->data;
	size_t len;

	if (uxt_opt_parse(call))
		return -1;
	len = strlen(call->arg);
	/* the first name or alias the argument is a prefix of */
	for (unsigned int i = 0; i < UXT_REJ_NTYPES; i++) {
		if (!reject_types[i].name)
			continue;
		if (strncasecmp(reject_types[i].name, call->arg, len) == 0 ||
		    strncasecmp(reject_types[i].alias, call->arg, len) == 0) {
			info->with = i;
			return 0;
		}
	}
	if (strncasecmp("echo-reply", call->arg, len) == 0 ||
	    strncasecmp("echoreply", call->arg, len) == 0)
		uxt_buf_puts(call->warn,
			     "--reject-with echo-reply no longer supported\n");
	return uxt_error(call->err, UXT_PARAMETER_PROBLEM,
			 "unknown reject type \"%s\"", call->arg);
}

static const char *reject_name(const struct uxt_reject_info *info)
{
	/* iptables indexes its table blindly; never reached from a rule the
	 * command line built */
	if (info->with >= UXT_REJ_NTYPES || !reject_types[info->with].name)
		return "(null)";
	return reject_types[info->with].name;
}

static void REJECT_print(struct uxt_buf *out, const struct uxt_ip *ip,
			 const void *data, bool numeric)
{
	(void)ip;
	(void)numeric;
	uxt_buf_printf(out, " reject-with %s", reject_name(data));
}

static void REJECT_save(struct uxt_buf *out, const struct uxt_ip *ip,
			const void *data)
{
	(void)ip;
	uxt_buf_printf(out, " --reject-with %s", reject_name(data));
}

static int REJECT_check(const struct uxt_check_call *call)
{
	const struct uxt_reject_info *info = call->data;

	if (info->with == UXT_REJ_ECHOREPLY)
		return -EINVAL;
	if (info->with == UXT_REJ_TCP_RESET &&
	    (call->ip->proto != IPPROTO_TCP ||
	     (call->ip->invflags & UXT_INV_PROTO)))
		return -EINVAL;
	return 0;
}

/* The packet side */

#define TCP_HDR_LEN 20
#define TCPHDR_FIN 0x01
#define TCPHDR_SYN 0x02
#define TCPHDR_RST 0x04
#define TCPHDR_ACK 0x10
#define REJECT_TTL 64
#define IPPROTO_GRE_NUM 47
#define IPPROTO_DCCP_NUM 33
#define IPPROTO_UDPLITE_NUM 136

/*
 * nf_ip_checksum() for a packet the kernel has not verified
 * (CHECKSUM_NONE): the sum over the whole datagram, IP header included
 * (a valid header adds nothing), plus the pseudo-header for TCP and UDP.
 * True when it is right.
 */
static bool l4_csum_ok(const struct uxt_pkt *pkt, unsigned int dataoff,
		       uint8_t proto)
{
	const struct uxt_iphdr *iph = uxt_iph(pkt);
	uint32_t sum = 0;

	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
		sum = uxt_pseudo_sum(iph->saddr, iph->daddr, proto,
				     (uint16_t)(pkt->len - dataoff));
	return uxt_csum(pkt->data, pkt->len, sum) == 0;
}

/* nf_reject_verify_csum(): whether the protocol's checksum covers the
 * whole payload and is to be checked */
static bool reject_verify_csum(const struct uxt_pkt *pkt, unsigned int dataoff,
			       uint8_t proto)
{
	const unsigned char *udph;

	switch (proto) {
	case IPPROTO_UDP:
		/* optional: checked only when present (or unreadable) */
		udph = uxt_pkt_header(pkt, dataoff, 8);
		return !udph || udph[6] || udph[7];
	case IPPROTO_GRE_NUM:
	case IPPROTO_AH:
	case IPPROTO_ESP:
	case IPPROTO_SCTP:
	case IPPROTO_UDPLITE_NUM:
	case IPPROTO_DCCP_NUM:
		return false;
	default:
		return true;
	}
}

/* nf_send_unreach() */
static void send_unreach(struct uxt_ns *ns, const struct uxt_pkt *pkt,
			 uint8_t code)
{
	const struct uxt_iphdr *iph = uxt_iph(pkt);
	unsigned int dataoff = uxt_ip_hlen(pkt);

	if (iph->frag_off & htons(UXT_IP_OFFSET))
		return;
	/* skb_csum_unnecessary(): a checksum still to be completed counts
	 * as good */
	if (!pkt->csum_partial &&
	    reject_verify_csum(pkt, dataoff, iph->protocol) &&
	    !l4_csum_ok(pkt, dataoff, iph->protocol))
		return;
	uxt_icmp_send(ns, pkt, UXT_ICMP_DEST_UNREACH, code, 0);
}

/* nf_send_reset() */
static void send_reset(struct uxt_ns *ns, const struct uxt_pkt *pkt)
{
	const struct uxt_iphdr *oiph = uxt_iph(pkt);
	unsigned int ohl = uxt_ip_hlen(pkt);
	const unsigned char *oth;
	unsigned char *th;
	struct uxt_pkt rst;
	struct uxt_route_result rt;
	const char *reason;
	struct uxt_iphdr *niph;
	uint32_t seq, ack_seq;
	uint16_t sum;

	/* nf_reject_ip_tcphdr_get() */
	if (oiph->frag_off & htons(UXT_IP_OFFSET))
		return;
	if (oiph->protocol != IPPROTO_TCP)
		return;
	oth = uxt_pkt_header(pkt, ohl, TCP_HDR_LEN);
	if (!oth || (oth[13] & TCPHDR_RST))
		return;
	if (!pkt->csum_partial && !l4_csum_ok(pkt, ohl, IPPROTO_TCP))
		return;
	if (uxt_icmp_route_is_bcast(uxt_ns_host(ns), oiph->saddr, oiph->daddr))
		return;
	if (uxt_pkt_init_copy(&rst, NULL, 0, sizeof(struct uxt_iphdr) + TCP_HDR_LEN))
		return;
	rst.len = sizeof(struct uxt_iphdr) + TCP_HDR_LEN;
	memset(rst.data, 0, rst.len);
	/* nf_reject_iphdr_put() */
	niph = uxt_iph(&rst);
	niph->ver_ihl = 0x45;
	niph->tos = 0;
	niph->id = 0;
	niph->frag_off = htons(UXT_IP_DF);
	niph->ttl = REJECT_TTL;
	niph->protocol = IPPROTO_TCP;
	niph->saddr = oiph->daddr;
	niph->daddr = oiph->saddr;
	niph->tot_len = htons((uint16_t)rst.len);
	uxt_ip_send_check(&rst);
	/* nf_reject_ip_tcphdr_put() */
	th = rst.data + sizeof(struct uxt_iphdr);
	memcpy(th, oth + 2, 2);		/* source = the original destination */
	memcpy(th + 2, oth, 2);
	th[12] = (TCP_HDR_LEN / 4) << 4;
	if (oth[13] & TCPHDR_ACK) {
		memcpy(th + 4, oth + 8, 4);	/* seq = the original ack_seq */
		th[13] = TCPHDR_RST;
	} else {
		memcpy(&seq, oth + 4, 4);
		ack_seq = ntohl(seq) + !!(oth[13] & TCPHDR_SYN) +
			  !!(oth[13] & TCPHDR_FIN) + pkt->len - ohl -
			  (uint32_t)(oth[12] >> 4) * 4u;
		ack_seq = htonl(ack_seq);
		memcpy(th + 8, &ack_seq, 4);
		th[13] = TCPHDR_RST | TCPHDR_ACK;
	}
	/* CHECKSUM_PARTIAL: the pseudo-header sum, completed as it leaves
	 * (an NFLOG copy or an ICMP error quoting it shows the partial sum) */
	sum = (uint16_t)~uxt_csum(NULL, 0,
				  uxt_pseudo_sum(niph->saddr, niph->daddr,
						 IPPROTO_TCP, TCP_HDR_LEN));
	memcpy(th + 16, &sum, 2);
	rst.csum_partial = true;
	rst.csum_offset = sizeof(struct uxt_iphdr) + 16;
	/* IP4_REPLY_MARK without fwmark_reflect */
	rst.mark = 0;
	rst.tstamp_ns = uxt_ns_time(ns);
	/* ip_route_me_harder(): from the address the segment was sent to,
	 * which need not be this host's (FLOWI_FLAG_ANYSRC) */
	if (uxt_host_route_output_anysrc(uxt_ns_host(ns), niph->saddr,
					 niph->daddr, NULL, &rt, &reason) ||
	    rst.len > rt.mtu) {
		uxt_pkt_release(&rst);
		return;
	}
	/* nf_ct_attach(), and the connection is closing */
	uxt_ct_attach(&rst, pkt);
	uxt_ct_set_closing(pkt->ct);
	uxt_ns_local_out(ns, &rst, &rt);
}

static unsigned int REJECT_target(struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_reject_info *info = par->info;
	static const uint8_t icmp_code[UXT_REJ_NTYPES] = {
		[UXT_REJ_NET_UNREACHABLE] = UXT_ICMP_NET_UNREACH,
		[UXT_REJ_HOST_UNREACHABLE] = UXT_ICMP_HOST_UNREACH,
		[UXT_REJ_PROT_UNREACHABLE] = UXT_ICMP_PROT_UNREACH,
		[UXT_REJ_PORT_UNREACHABLE] = UXT_ICMP_PORT_UNREACH,
		[UXT_REJ_NET_PROHIBITED] = UXT_ICMP_NET_ANO,
		[UXT_REJ_HOST_PROHIBITED] = UXT_ICMP_HOST_ANO,
		[UXT_REJ_ADMIN_PROHIBITED] = UXT_ICMP_PKT_FILTERED,
	};

	switch (info->with) {
	case UXT_REJ_NET_UNREACHABLE:
	case UXT_REJ_HOST_UNREACHABLE:
	case UXT_REJ_PROT_UNREACHABLE:
	case UXT_REJ_PORT_UNREACHABLE:
	case UXT_REJ_NET_PROHIBITED:
	case UXT_REJ_HOST_PROHIBITED:
	case UXT_REJ_ADMIN_PROHIBITED:
		send_unreach(par->ns, pkt, icmp_code[info->with]);
		break;
	case UXT_REJ_TCP_RESET:
		send_reset(par->ns, pkt);
		break;
	default:
		/* echo-reply: refused by the check, never reached */
		break;
	}
	return UXT_NF_DROP;
}

const struct uxt_ext uxt_ext_REJECT = {
	.name = "REJECT",
	.revision = 0,
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_reject_info),
	/* iptables: XT_ALIGN(sizeof(struct ipt_reject_info)); the tail is
	 * padding, always zero */
	.usersize = sizeof(struct uxt_reject_info),
	.opts = REJECT_opts,
	.help = REJECT_help,
	.init = REJECT_init,
	.parse = REJECT_parse,
	.print = REJECT_print,
	.save = REJECT_save,
	.table = "filter",
	.hooks = (1u << UXT_HOOK_LOCAL_IN) | (1u << UXT_HOOK_FORWARD) |
		 (1u << UXT_HOOK_LOCAL_OUT),
	.check = REJECT_check,
	.target = REJECT_target,
};
