/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * udp match: source and destination port ranges of a UDP header (-p udp).
 *
 * Command line as libxt_udp (x6 style: both port options are PORTRC
 * options, so "1024:" is 1024:65535, ":" is the whole range, a service name
 * is looked up with getaddrinfo() and a range is not checked for min > max);
 * kernel side as xt_tcpudp's udp_mt_check: the rule must say "-p udp"
 * without "!" and no unknown inversion bits may be set.
 *
 * Packet side as xt_tcpudp's udp_mt: a non-first fragment never matches; a
 * datagram too short for the 8-byte UDP header is dropped (hotdrop).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>

#include "engine.h"
#include "ext.h"
#include "parse.h"

/* struct xt_udp */
struct uxt_udp_info {
	uint16_t spts[2];	/* source port range */
	uint16_t dpts[2];	/* destination port range */
	uint8_t invflags;	/* UXT_UDP_INV_* */
};

#define UXT_UDP_INV_SRCPT 0x01
#define UXT_UDP_INV_DSTPT 0x02
#define UXT_UDP_INV_MASK 0x03

enum { O_SOURCE_PORT = 0, O_DEST_PORT };

static void udp_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "udp match options:\n"
		     "[!] --source-port port[:port]\n"
		     " --sport ...\n"
		     "\t\t\t\tmatch source port(s)\n"
		     "[!] --destination-port port[:port]\n"
		     " --dport ...\n"
		     "\t\t\t\tmatch destination port(s)\n");
}

#define PORT_OPT(oname, oid, member)                                        \
	{.name = oname, .has_arg = 1, .type = UXT_OT_PORTRC, .id = oid,      \
	 .flags = UXT_OPT_INVERT | UXT_OPT_PUT,                              \
	 UXT_OPT_POINTER(struct uxt_udp_info, member)}

static const struct uxt_opt udp_opts[] = {
	PORT_OPT("source-port", O_SOURCE_PORT, spts),
	PORT_OPT("sport", O_SOURCE_PORT, spts),
	PORT_OPT("destination-port", O_DEST_PORT, dpts),
	PORT_OPT("dport", O_DEST_PORT, dpts),
	{.name = NULL},
};

static void udp_init(void *data)
{
	struct uxt_udp_info *info = data;

	info->spts[1] = info->dpts[1] = 0xFFFF;
}

static int udp_parse(struct uxt_opt_call *c)
{
	struct uxt_udp_info *info = c->data;

	if (uxt_opt_parse(c))
		return -1;
	if (!c->invert)
		return 0;
	if (c->opt->id == O_SOURCE_PORT)
		info->invflags |= UXT_UDP_INV_SRCPT;
	else if (c->opt->id == O_DEST_PORT)
		info->invflags |= UXT_UDP_INV_DSTPT;
	return 0;
}

static void udp_print(struct uxt_buf *b, const struct uxt_ip *ip,
		      const void *data, bool numeric)
{
	const struct uxt_udp_info *info = data;

	(void)ip;
	uxt_buf_puts(b, " udp");
	uxt_print_port_range(b, "spt", info->spts[0], info->spts[1],
			     info->invflags & UXT_UDP_INV_SRCPT, numeric, "udp");
	uxt_print_port_range(b, "dpt", info->dpts[0], info->dpts[1],
			     info->invflags & UXT_UDP_INV_DSTPT, numeric, "udp");
	if (info->invflags & ~UXT_UDP_INV_MASK)
		uxt_buf_printf(b, " Unknown invflags: 0x%X",
			       info->invflags & ~UXT_UDP_INV_MASK);
}

static void udp_save(struct uxt_buf *b, const struct uxt_ip *ip,
		     const void *data)
{
	const struct uxt_udp_info *info = data;

	(void)ip;
	uxt_save_port_range(b, "--sport", info->spts,
			    info->invflags & UXT_UDP_INV_SRCPT);
	uxt_save_port_range(b, "--dport", info->dpts,
			    info->invflags & UXT_UDP_INV_DSTPT);
}

static int udp_check(const struct uxt_check_call *call)
{
	const struct uxt_udp_info *info = call->data;

	return (info->invflags & ~UXT_UDP_INV_MASK) ? -EINVAL : 0;
}

/* A port within [lo, hi], or outside it when inverted. */
static bool port_in_range(uint16_t lo, uint16_t hi, uint16_t port,
			  bool invert)
{
	return (port >= lo && port <= hi) ^ invert;
}

static bool udp_match(const struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_udp_info *info = par->info;
	const uint8_t *uh;

	if (par->fragoff != 0)
		return false;
	uh = uxt_pkt_header(pkt, par->thoff, 8);
	if (!uh) {
		par->hotdrop = true;
		return false;
	}
	return port_in_range(info->spts[0], info->spts[1],
			     (uint16_t)(uh[0] << 8 | uh[1]),
			     info->invflags & UXT_UDP_INV_SRCPT) &&
	       port_in_range(info->dpts[0], info->dpts[1],
			     (uint16_t)(uh[2] << 8 | uh[3]),
			     info->invflags & UXT_UDP_INV_DSTPT);
}

/* For the classifier: udp_match() reads 8 bytes of header, then fails at
 * once on a port outside a range that is not inverted. */
static bool udp_cls_ports(const void *data, uint16_t sport[2],
			  uint16_t dport[2], unsigned int *hdrlen)
{
	const struct uxt_udp_info *info = data;
	bool any = false;

	*hdrlen = 8;
	if (!(info->invflags & UXT_UDP_INV_SRCPT)) {
		sport[0] = info->spts[0];
		sport[1] = info->spts[1];
		any = true;
	}
	if (!(info->invflags & UXT_UDP_INV_DSTPT)) {
		dport[0] = info->dpts[0];
		dport[1] = info->dpts[1];
		any = true;
	}
	return any;
}

const struct uxt_ext uxt_ext_udp = {
	.name = "udp",
	.kind = UXT_MATCH,
	.x6 = true,
	.size = sizeof(struct uxt_udp_info),
	.usersize = sizeof(struct uxt_udp_info),
	.opts = udp_opts,
	.help = udp_help,
	.init = udp_init,
	.parse = udp_parse,
	.print = udp_print,
	.save = udp_save,
	.proto = IPPROTO_UDP,
	.check = udp_check,
	.match = udp_match,
	.cls_ports = udp_cls_ports,
};
