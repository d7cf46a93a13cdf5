/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAT ranges: the command-line half of DNAT, SNAT, MASQUERADE and REDIRECT,
 * with the acceptance rules, messages and output texts of iptables 1.8.9.
 */
#include "nat_range.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nat.h"
#include "parse.h"

/* A port, or a port range with an optional /base, after "ip:" or as the
 * argument of --to-ports. */
static int parse_ports(const char *arg, bool portok,
		       struct uxt_nat_range2 *range, struct uxt_err *err)
{
	unsigned int port, maxport, baseport;
	char *end = NULL;
	int svc;

	if (!portok)
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "Need TCP, UDP, SCTP or DCCP with port specification");
	range->flags |= UXT_NAT_RANGE_PROTO_SPECIFIED;

	if (!uxt_strtoui(arg, &end, &port, 0, UINT16_MAX)) {
		svc = uxt_service_to_port(arg, NULL);
		if (svc < 0)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "Port `%s' not valid", arg);
		port = (unsigned int)svc;
		end = (char *)"";
	}
	switch (*end) {
	case '\0':
		range->min_proto.tcp.port = htons((uint16_t)port);
		range->max_proto.tcp.port = htons((uint16_t)port);
		return 0;
	case '-':
		arg = end + 1;
		break;
	case ':':
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "Invalid port:port syntax - use dash");
	default:
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "Garbage after port value: `%s'", end);
	}

	/* the end of a range is a number, never a service name */
	if (!uxt_strtoui(arg, &end, &maxport, 0, UINT16_MAX))
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "Port `%s' not valid", arg);
	if (maxport < port)
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "Port range `%s' funky", arg);
	range->min_proto.tcp.port = htons((uint16_t)port);
	range->max_proto.tcp.port = htons((uint16_t)maxport);

	switch (*end) {
	case '\0':
		return 0;
	case '/':
		arg = end + 1;
		break;
	default:
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "Garbage after port range: `%s'", end);
	}

	/* as iptables: what follows a numeric base is not looked at */
	if (!uxt_strtoui(arg, &end, &baseport, 1, UINT16_MAX)) {
		svc = uxt_service_to_port(arg, NULL);
		if (svc < 0)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "Port `%s' not valid", arg);
		baseport = (unsigned int)svc;
	}
	range->flags |= UXT_NAT_RANGE_PROTO_OFFSET;
	range->base_proto.tcp.port = htons((uint16_t)baseport);
	return 0;
}

/* "[ip[-ip]][:ports]" of --to-destination / --to-source. */
static int parse_to(const char *orig_arg, bool portok,
		    struct uxt_nat_range2 *range, struct uxt_err *err)
{
	char *arg, *start, *colon, *dash;
	int ret = -1;

	arg = strdup(orig_arg);
	if (!arg)
		abort();
	/* brackets are for IPv6 addresses only */
	if (strchr(arg, '[')) {
		uxt_error(err, UXT_PARAMETER_PROBLEM, "Invalid address format");
		goto out;
	}
	start = arg;
	/* one colon starts the ports; more than one would be IPv6 */
	colon = strchr(arg, ':');
	if (colon && strchr(colon + 1, ':'))
		colon = NULL;

	if (colon) {
		if (parse_ports(colon + 1, portok, range, err))
			goto out;
		/* no address before the colon (iptables also takes a colon
		 * at the third character, meant for "[]:port") */
		if (colon == arg || colon == arg + 2) {
			ret = 0;
			goto out;
		}
		*colon = '\0';
	}

	range->flags |= UXT_NAT_RANGE_MAP_IPS;
	dash = strchr(start, '-');
	if (dash)
		*dash = '\0';
	if (inet_pton(AF_INET, start, &range->min_addr) != 1) {
		uxt_error(err, UXT_PARAMETER_PROBLEM, "Bad IP address \"%s\"",
			  start);
		goto out;
	}
	if (dash) {
		if (inet_pton(AF_INET, dash + 1, &range->max_addr) != 1) {
			uxt_error(err, UXT_PARAMETER_PROBLEM,
				  "Bad IP address \"%s\"", dash + 1);
			goto out;
		}
	} else {
		range->max_addr = range->min_addr;
	}
	ret = 0;
out:
	free(arg);
	return ret;
}

/* __NAT_parse: the generic checks, then the option into range. */
static int nat_parse(struct uxt_opt_call *call, struct uxt_nat_range2 *range)
{
	uint16_t proto = call->ip ? call->ip->proto : 0;
	bool portok = proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
		      proto == IPPROTO_SCTP || proto == IPPROTO_DCCP ||
		      proto == IPPROTO_ICMP;

	if (uxt_opt_parse(call))
		return -1;
	switch (call->opt->id) {
	case UXT_NAT_O_TO_DEST:
	case UXT_NAT_O_TO_SRC:
		return parse_to(call->arg, portok, range, call->err);
	case UXT_NAT_O_TO_PORTS:
		return parse_ports(call->arg, portok, range, call->err);
	case UXT_NAT_O_PERSISTENT:
		range->flags |= UXT_NAT_RANGE_PERSISTENT;
		break;
	case UXT_NAT_O_RANDOM:
		range->flags |= UXT_NAT_RANGE_PROTO_RANDOM;
		break;
	case UXT_NAT_O_RANDOM_FULLY:
		range->flags |= UXT_NAT_RANGE_PROTO_RANDOM_FULLY;
		break;
	}
	return 0;
}

int uxt_nat_parse_range2(struct uxt_opt_call *call)
{
	return nat_parse(call, call->data);
}

int uxt_nat_parse_mrc(struct uxt_opt_call *call)
{
	struct uxt_nat_ipv4_mrc *mr = call->data;
	struct uxt_nat_range2 range;

	memset(&range, 0, sizeof(range));
	if (nat_parse(call, &range))
		return -1;
	switch (call->opt->id) {
	case UXT_NAT_O_TO_DEST:
	case UXT_NAT_O_TO_SRC:
		mr->range[0].min_ip = range.min_addr.ip;
		mr->range[0].max_ip = range.max_addr.ip;
		/* fall through */
	case UXT_NAT_O_TO_PORTS:
		mr->range[0].min = range.min_proto;
		mr->range[0].max = range.max_proto;
		/* fall through */
	default:
		mr->range[0].flags |= range.flags;
		break;
	}
	return 0;
}

int uxt_nat_fcheck_snat(struct uxt_fcheck_call *call)
{
	struct uxt_nat_ipv4_mrc *mr = call->data;

	mr->rangesize = 1;
	return 0;
}

int uxt_nat_fcheck_dnat(struct uxt_fcheck_call *call)
{
	struct uxt_nat_ipv4_mrc *mr = call->data;

	mr->rangesize = 1;
	if (mr->range[0].flags & UXT_NAT_RANGE_PROTO_OFFSET)
		return uxt_error(call->err, UXT_PARAMETER_PROBLEM,
				 "Shifted portmap ranges not supported with this kernel");
	return 0;
}

void uxt_nat_print_range2(struct uxt_buf *out, const struct uxt_nat_range2 *r,
			  const char *rangeopt, const char *flag_pfx,
			  bool skip_colon)
{
	bool have_ips = r->flags & UXT_NAT_RANGE_MAP_IPS;

	if (have_ips || (r->flags & UXT_NAT_RANGE_PROTO_SPECIFIED)) {
		uxt_buf_putc(out, ' ');
		uxt_buf_puts(out, rangeopt);
	}
	if (have_ips) {
		uxt_buf_ipv4(out, r->min_addr.ip);
		if (memcmp(&r->min_addr, &r->max_addr, sizeof(r->min_addr))) {
			uxt_buf_putc(out, '-');
			uxt_buf_ipv4(out, r->max_addr.ip);
		}
	}
	if (r->flags & UXT_NAT_RANGE_PROTO_SPECIFIED) {
		if (have_ips || !skip_colon)
			uxt_buf_putc(out, ':');
		uxt_buf_u64(out, ntohs(r->min_proto.tcp.port));
		if (r->max_proto.tcp.port != r->min_proto.tcp.port) {
			uxt_buf_putc(out, '-');
			uxt_buf_u64(out, ntohs(r->max_proto.tcp.port));
		}
		if (r->flags & UXT_NAT_RANGE_PROTO_OFFSET) {
			uxt_buf_putc(out, '/');
			uxt_buf_u64(out, ntohs(r->base_proto.tcp.port));
		}
	}
	if (r->flags & UXT_NAT_RANGE_PROTO_RANDOM)
		uxt_buf_printf(out, " %srandom", flag_pfx);
	if (r->flags & UXT_NAT_RANGE_PROTO_RANDOM_FULLY)
		uxt_buf_printf(out, " %srandom-fully", flag_pfx);
	if (r->flags & UXT_NAT_RANGE_PERSISTENT)
		uxt_buf_printf(out, " %spersistent", flag_pfx);
}

void uxt_nat_print_mrc(struct uxt_buf *out, const struct uxt_nat_ipv4_mrc *mr,
		       const char *rangeopt, const char *flag_pfx,
		       bool skip_colon)
{
	struct uxt_nat_range2 r;

	/* as the kernel converts a compat range: no base port */
	memset(&r, 0, sizeof(r));
	r.flags = mr->range[0].flags;
	r.min_addr.ip = mr->range[0].min_ip;
	r.max_addr.ip = mr->range[0].max_ip;
	r.min_proto = mr->range[0].min;
	r.max_proto = mr->range[0].max;
	uxt_nat_print_range2(out, &r, rangeopt, flag_pfx, skip_colon);
}

int uxt_nat_check_mrc(const struct uxt_check_call *call, bool no_map_ips)
{
	const struct uxt_nat_ipv4_mrc *mr = call->data;

	if (no_map_ips && (mr->range[0].flags & UXT_NAT_RANGE_MAP_IPS))
		return -EINVAL;
	if (mr->rangesize != 1)
		return -EINVAL;
	return 0;
}

void uxt_nat_range_from_compat(struct uxt_nat_range *dst,
			       const struct uxt_nat_ipv4_range *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->flags = src->flags;
	dst->min_addr = src->min_ip;
	dst->max_addr = src->max_ip;
	dst->min_proto = src->min.all;
	dst->max_proto = src->max.all;
}

void uxt_nat_range_from_range2(struct uxt_nat_range *dst,
			       const struct uxt_nat_range2 *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->flags = src->flags;
	dst->min_addr = src->min_addr.ip;
	dst->max_addr = src->max_addr.ip;
	dst->min_proto = src->min_proto.all;
	dst->max_proto = src->max_proto.all;
	dst->base_proto = src->base_proto.all;
}
