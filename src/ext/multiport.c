/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * multiport match, revision 1: up to 15 source, destination or either
 * ports, a range "a:b" taking two of the 15 places.
 *
 * Command line as libxt_multiport's revision 1 (the one iptables picks on a
 * kernel with xt_multiport): the protocol must already be given with -p (tcp,
 * udp, udplite, sctp or dccp, not inverted) when the option is parsed, port
 * names are that protocol's services, and the three options exclude each
 * other.  Kernel side as multiport_mt_check: supported protocol without "!",
 * a known direction, at most 15 ports and well-formed ranges.
 *
 * Packet side as multiport_mt / ports_match_v1: the two ports are the first
 * four bytes of the transport header whatever the protocol (so a datagram
 * of 4 to 7 bytes of UDP still matches, where the udp match drops it); a
 * non-first fragment never matches; fewer than four bytes drops the packet
 * (hotdrop).  The list is walked in order and the first port or range that
 * holds gives the answer, "!" inverting it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ext.h"
#include "parse.h"

#define UXT_MULTI_PORTS 15

enum uxt_multiport_flags {
	UXT_MULTIPORT_SOURCE,
	UXT_MULTIPORT_DESTINATION,
	UXT_MULTIPORT_EITHER,
};

/* struct xt_multiport_v1 */
struct uxt_multiport_info {
	uint8_t flags;		/* enum uxt_multiport_flags */
	uint8_t count;		/* places used in ports */
	uint16_t ports[UXT_MULTI_PORTS];
	uint8_t pflags[UXT_MULTI_PORTS];	/* 1: ports[i]:ports[i+1] */
	uint8_t invert;
};

enum {
	O_SOURCE_PORTS = 0,
	O_DEST_PORTS,
	O_SD_PORTS,
	F_ANY = (1 << O_SOURCE_PORTS) | (1 << O_DEST_PORTS) | (1 << O_SD_PORTS),
};

static void multiport_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "multiport match options:\n"
		     "[!] --source-ports port[,port:port,port...]\n"
		     " --sports ...\n"
		     "\t\t\t\tmatch source port(s)\n"
		     "[!] --destination-ports port[,port:port,port...]\n"
		     " --dports ...\n"
		     "\t\t\t\tmatch destination port(s)\n"
		     "[!] --ports port[,port:port,port]\n"
		     "\t\t\t\tmatch both source and destination port(s)\n");
}

#define PORTS_OPT(oname, oid)                                               \
	{.name = oname, .has_arg = 1, .type = UXT_OT_STRING, .id = oid,      \
	 .flags = UXT_OPT_INVERT, .excl = F_ANY}

static const struct uxt_opt multiport_opts[] = {
	PORTS_OPT("source-ports", O_SOURCE_PORTS),
	PORTS_OPT("sports", O_SOURCE_PORTS),
	PORTS_OPT("destination-ports", O_DEST_PORTS),
	PORTS_OPT("dports", O_DEST_PORTS),
	PORTS_OPT("ports", O_SD_PORTS),
	{.name = NULL},
};

/* the protocols multiport knows, by the names it uses for services */
static const char *mp_proto_name(uint16_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_UDPLITE:
		return "udplite";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_DCCP:
		return "dccp";
	default:
		return NULL;
	}
}

static const char *check_proto(const struct uxt_ip *ip, struct uxt_err *err)
{
	const char *name;

	if (ip->invflags & UXT_INV_PROTO) {
		uxt_error(err, UXT_PARAMETER_PROBLEM,
			  "multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP");
		return NULL;
	}
	name = mp_proto_name(ip->proto);
	if (name)
		return name;
	if (ip->proto == 0)
		uxt_error(err, UXT_PARAMETER_PROBLEM,
			  "multiport needs `-p tcp', `-p udp', `-p udplite', "
			  "`-p sctp' or `-p dccp'");
	else
		uxt_error(err, UXT_PARAMETER_PROBLEM,
			  "multiport only works with TCP, UDP, UDPLITE, SCTP and DCCP");
	return NULL;
}

/*
 * Comma-separated ports and a:b ranges into info; the list is cut at 15
 * places and anything left over is an error.
 */
static int parse_ports(const char *arg, struct uxt_multiport_info *info,
		       const char *proto, struct uxt_err *err)
{
	char *buffer = strdup(arg), *cp, *next, *range;
	unsigned int i;
	int ret = -1;

	if (!buffer)
		abort();
	memset(info->pflags, 0, sizeof(info->pflags));
	for (cp = buffer, i = 0; cp && i < UXT_MULTI_PORTS; cp = next, i++) {
		next = strchr(cp, ',');
		if (next)
			*next++ = '\0';
		range = strchr(cp, ':');
		if (range) {
			if (i == UXT_MULTI_PORTS - 1) {
				uxt_error(err, UXT_PARAMETER_PROBLEM,
					  "too many ports specified");
				goto out;
			}
			*range++ = '\0';
		}
		if (uxt_parse_port(cp, proto, &info->ports[i], err))
			goto out;
		if (range) {
			info->pflags[i] = 1;
			if (uxt_parse_port(range, proto, &info->ports[++i], err))
				goto out;
			if (info->ports[i - 1] >= info->ports[i]) {
				uxt_error(err, UXT_PARAMETER_PROBLEM,
					  "invalid portrange specified");
				goto out;
			}
		}
	}
	info->count = (uint8_t)i;
	if (cp) {
		uxt_error(err, UXT_PARAMETER_PROBLEM, "too many ports specified");
		goto out;
	}
	ret = 0;
out:
	free(buffer);
	return ret;
}

static int multiport_parse(struct uxt_opt_call *c)
{
	struct uxt_multiport_info *info = c->data;
	const char *proto;

	if (uxt_opt_parse(c))
		return -1;
	proto = check_proto(c->ip, c->err);
	if (!proto || parse_ports(c->arg, info, proto, c->err))
		return -1;
	switch (c->opt->id) {
	case O_SOURCE_PORTS:
		info->flags = UXT_MULTIPORT_SOURCE;
		break;
	case O_DEST_PORTS:
		info->flags = UXT_MULTIPORT_DESTINATION;
		break;
	default:
		info->flags = UXT_MULTIPORT_EITHER;
		break;
	}
	if (c->invert)
		info->invert = 1;
	return 0;
}

static int multiport_fcheck(struct uxt_fcheck_call *c)
{
	if (c->xflags == 0)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "multiport expection an option");
	return 0;
}

static void print_port(struct uxt_buf *b, uint16_t port, uint16_t proto,
		       bool numeric)
{
	const char *service;

	if (numeric ||
	    (service = uxt_port_to_service(port, mp_proto_name(proto))) == NULL)
		uxt_buf_u64(b, port);
	else
		uxt_buf_puts(b, service);
}

static void print_list(struct uxt_buf *b, const struct uxt_multiport_info *info,
		       uint16_t proto, bool numeric)
{
	unsigned int count = info->count;

	/* a record is never longer than its 15 places */
	if (count > UXT_MULTI_PORTS)
		count = UXT_MULTI_PORTS;
	for (unsigned int i = 0; i < count; i++) {
		if (i)
			uxt_buf_putc(b, ',');
		print_port(b, info->ports[i], proto, numeric);
		if (info->pflags[i] && i + 1 < UXT_MULTI_PORTS) {
			uxt_buf_putc(b, ':');
			print_port(b, info->ports[++i], proto, numeric);
		}
	}
}

static void multiport_print(struct uxt_buf *b, const struct uxt_ip *ip,
			    const void *data, bool numeric)
{
	const struct uxt_multiport_info *info = data;

	uxt_buf_puts(b, " multiport ");
	switch (info->flags) {
	case UXT_MULTIPORT_SOURCE:
		uxt_buf_puts(b, "sports ");
		break;
	case UXT_MULTIPORT_DESTINATION:
		uxt_buf_puts(b, "dports ");
		break;
	case UXT_MULTIPORT_EITHER:
		uxt_buf_puts(b, "ports ");
		break;
	default:
		uxt_buf_puts(b, "ERROR ");
		break;
	}
	/* " !" after the trailing space: "dports  !22" */
	if (info->invert)
		uxt_buf_puts(b, " !");
	print_list(b, info, ip->proto, numeric);
}

static void multiport_save(struct uxt_buf *b, const struct uxt_ip *ip,
			   const void *data)
{
	const struct uxt_multiport_info *info = data;

	if (info->invert)
		uxt_buf_puts(b, " !");
	switch (info->flags) {
	case UXT_MULTIPORT_SOURCE:
		uxt_buf_puts(b, " --sports ");
		break;
	case UXT_MULTIPORT_DESTINATION:
		uxt_buf_puts(b, " --dports ");
		break;
	case UXT_MULTIPORT_EITHER:
		uxt_buf_puts(b, " --ports ");
		break;
	}
	print_list(b, info, ip->proto, true);
}

static bool valid_ranges(const struct uxt_multiport_info *info)
{
	for (unsigned int i = 0; i < info->count; i++) {
		if (!info->pflags[i])
			continue;
		if (++i >= info->count)
			return false;
		if (info->pflags[i])
			return false;
		if (info->ports[i - 1] > info->ports[i])
			return false;
	}
	return true;
}

static int multiport_check(const struct uxt_check_call *call)
{
	const struct uxt_multiport_info *info = call->data;

	if (!mp_proto_name(call->ip->proto) ||
	    (call->ip->invflags & UXT_INV_PROTO))
		return -EINVAL;
	if (info->flags != UXT_MULTIPORT_SOURCE &&
	    info->flags != UXT_MULTIPORT_DESTINATION &&
	    info->flags != UXT_MULTIPORT_EITHER)
		return -EINVAL;
	if (info->count > UXT_MULTI_PORTS)
		return -EINVAL;
	return valid_ranges(info) ? 0 : -EINVAL;
}

/*
 * ports_match_v1(): src and dst in host order.  The kernel answers
 * "true ^ invert" on a hit and "invert" otherwise with invert a whole
 * byte, so only invert == 1 turns a hit into a miss; a stored record with
 * another non-zero value matches every packet, and so it does here.
 */
static bool ports_match(const struct uxt_multiport_info *info, uint16_t src,
			uint16_t dst)
{
	const bool hit = (1 ^ info->invert) != 0, miss = info->invert != 0;
	/* check() holds count to 15; the bound keeps a damaged record safe */
	unsigned int count = info->count < UXT_MULTI_PORTS ? info->count
							  : UXT_MULTI_PORTS;

	for (unsigned int i = 0; i < count; i++) {
		uint16_t lo = info->ports[i], hi = lo;
		bool is_src, is_dst;

		/* check() makes a range's end one of the count places */
		if (info->pflags[i] && i + 1 < UXT_MULTI_PORTS)
			hi = info->ports[++i];
		is_src = src >= lo && src <= hi;
		is_dst = dst >= lo && dst <= hi;
		switch (info->flags) {
		case UXT_MULTIPORT_SOURCE:
			if (is_src)
				return hit;
			break;
		case UXT_MULTIPORT_DESTINATION:
			if (is_dst)
				return hit;
			break;
		case UXT_MULTIPORT_EITHER:
			if (is_src || is_dst)
				return hit;
			break;
		default:
			break;
		}
	}
	return miss;
}

static bool multiport_match(const struct uxt_pkt *pkt,
			    struct uxt_xt_param *par)
{
	const uint8_t *pp;

	if (par->fragoff != 0)
		return false;
	pp = uxt_pkt_header(pkt, par->thoff, 4);
	if (!pp) {
		par->hotdrop = true;
		return false;
	}
	return ports_match(par->info, (uint16_t)(pp[0] << 8 | pp[1]),
			   (uint16_t)(pp[2] << 8 | pp[3]));
}

const struct uxt_ext uxt_ext_multiport = {
	.name = "multiport",
	.revision = 1,
	.kind = UXT_MATCH,
	.x6 = true,
	.size = sizeof(struct uxt_multiport_info),
	.usersize = sizeof(struct uxt_multiport_info),
	.opts = multiport_opts,
	.help = multiport_help,
	.parse = multiport_parse,
	.fcheck = multiport_fcheck,
	.print = multiport_print,
	.save = multiport_save,
	.check = multiport_check,
	.match = multiport_match,
};
