/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * iprange match, revision 1: source and/or destination address within an
 * inclusive range, each test invertible.
 *
 * Command line as libxt_iprange's IPv4 revision 1 (x6 style): "A-B" or a
 * single address "A" (meaning A-A), dotted quads only (with the short forms
 * libxtables accepts, "10.1" = 10.1.0.0), no names.  A reversed range is
 * accepted with a warning.  At least one of the two options is required.
 *
 * Data as xt_iprange_mtinfo: the addresses are union nf_inet_addr (16
 * bytes), IPv4 in the first word, network byte order.  The kernel module
 * checks nothing.
 *
 * Packet side as iprange_mt4: each address given is compared in host
 * order with its inclusive range, the source first; a reversed range
 * holds no address (and so matches everything when inverted).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stddef.h>

#include "engine.h"
#include "ext.h"
#include "parse.h"
#include "pkt.h"

#define UXT_IPRANGE_SRC 0x01
#define UXT_IPRANGE_DST 0x02
#define UXT_IPRANGE_SRC_INV 0x10
#define UXT_IPRANGE_DST_INV 0x20

/* union nf_inet_addr */
union uxt_inet_addr {
	uint32_t all[4];
	uint32_t ip;		/* IPv4, network byte order */
	uint32_t ip6[4];
};

/* xt_iprange_mtinfo */
struct uxt_iprange_mtinfo {
	union uxt_inet_addr src_min, src_max;
	union uxt_inet_addr dst_min, dst_max;
	uint8_t flags;
};
_Static_assert(sizeof(struct uxt_iprange_mtinfo) == 68 &&
	       offsetof(struct uxt_iprange_mtinfo, flags) == 64,
	       "xt_iprange_mtinfo layout");

enum { O_SRC_RANGE = 0, O_DST_RANGE };

static const struct uxt_opt iprange_opts[] = {
	{.name = "src-range", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_SRC_RANGE, .flags = UXT_OPT_INVERT},
	{.name = "dst-range", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_DST_RANGE, .flags = UXT_OPT_INVERT},
	{.name = NULL},
};

static void iprange_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "iprange match options:\n"
		     "[!] --src-range ip[-ip]    Match source IP in the specified range\n"
		     "[!] --dst-range ip[-ip]    Match destination IP in the specified range\n");
}

/* Parses "from" and "to" into range[0..1] (zeroed first). */
static int parse_spec(const char *from, const char *to,
		      union uxt_inet_addr *range, const char *optname,
		      struct uxt_err *err)
{
	const char *spec[2] = {from, to};

	memset(range, 0, sizeof(*range) * 2);
	for (unsigned int i = 0; i < 2; i++)
		if (!uxt_numeric_to_ipaddr(spec[i], &range[i].ip))
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "iprange: Bad value for \"%s\" option: \"%s\"",
					 optname, spec[i]);
	return 0;
}

static int parse_range(const char *oarg, union uxt_inet_addr *range,
		       const char *optname, struct uxt_err *err,
		       struct uxt_buf *warn)
{
	char *arg = strdup(oarg), *dash;
	int ret;

	if (!arg)
		abort();
	dash = strchr(arg, '-');
	if (dash == NULL) {
		ret = parse_spec(arg, arg, range, optname, err);
		free(arg);
		return ret;
	}
	*dash = '\0';
	ret = parse_spec(arg, dash + 1, range, optname, err);
	if (ret == 0 && memcmp(&range[0], &range[1], sizeof(*range)) > 0)
		uxt_buf_printf(warn,
			       "xt_iprange: range %s-%s is reversed and will never match\n",
			       arg, dash + 1);
	free(arg);
	return ret;
}

static int iprange_parse(struct uxt_opt_call *c)
{
	struct uxt_iprange_mtinfo *info = c->data;
	union uxt_inet_addr range[2];

	if (uxt_opt_parse(c))
		return -1;
	switch (c->opt->id) {
	case O_SRC_RANGE:
		if (parse_range(c->arg, range, "--src-range", c->err, c->warn))
			return -1;
		info->src_min = range[0];
		info->src_max = range[1];
		info->flags |= UXT_IPRANGE_SRC;
		if (c->invert)
			info->flags |= UXT_IPRANGE_SRC_INV;
		break;
	case O_DST_RANGE:
		if (parse_range(c->arg, range, "--dst-range", c->err, c->warn))
			return -1;
		info->dst_min = range[0];
		info->dst_max = range[1];
		info->flags |= UXT_IPRANGE_DST;
		if (c->invert)
			info->flags |= UXT_IPRANGE_DST_INV;
		break;
	}
	return 0;
}

static int iprange_fcheck(struct uxt_fcheck_call *c)
{
	if (c->xflags == 0)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "iprange match: You must specify `--src-range' or `--dst-range'");
	return 0;
}

static void put_range(struct uxt_buf *b, const union uxt_inet_addr *min,
		      const union uxt_inet_addr *max)
{
	uxt_buf_putc(b, ' ');
	uxt_buf_ipv4(b, min->ip);
	uxt_buf_putc(b, '-');
	uxt_buf_ipv4(b, max->ip);
}

static void iprange_print(struct uxt_buf *b, const struct uxt_ip *ip,
			  const void *data, bool numeric)
{
	const struct uxt_iprange_mtinfo *info = data;

	(void)ip;
	(void)numeric;
	if (info->flags & UXT_IPRANGE_SRC) {
		uxt_buf_puts(b, " source IP range");
		if (info->flags & UXT_IPRANGE_SRC_INV)
			uxt_buf_puts(b, " !");
		put_range(b, &info->src_min, &info->src_max);
	}
	if (info->flags & UXT_IPRANGE_DST) {
		uxt_buf_puts(b, " destination IP range");
		if (info->flags & UXT_IPRANGE_DST_INV)
			uxt_buf_puts(b, " !");
		put_range(b, &info->dst_min, &info->dst_max);
	}
}

static void iprange_save(struct uxt_buf *b, const struct uxt_ip *ip,
			 const void *data)
{
	const struct uxt_iprange_mtinfo *info = data;

	(void)ip;
	if (info->flags & UXT_IPRANGE_SRC) {
		if (info->flags & UXT_IPRANGE_SRC_INV)
			uxt_buf_puts(b, " !");
		uxt_buf_puts(b, " --src-range");
		put_range(b, &info->src_min, &info->src_max);
	}
	if (info->flags & UXT_IPRANGE_DST) {
		if (info->flags & UXT_IPRANGE_DST_INV)
			uxt_buf_puts(b, " !");
		uxt_buf_puts(b, " --dst-range");
		put_range(b, &info->dst_min, &info->dst_max);
	}
}

/* The address (network order) is outside [min, max], or inside when
 * inverted: the rule fails. */
static bool addr_fails(uint32_t addr, const union uxt_inet_addr *min,
		       const union uxt_inet_addr *max, bool invert)
{
	uint32_t a = ntohl(addr);

	return (a < ntohl(min->ip) || a > ntohl(max->ip)) ^ invert;
}

static bool iprange_match(const struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_iprange_mtinfo *info = par->info;
	const struct uxt_iphdr *iph = uxt_iph(pkt);

	if ((info->flags & UXT_IPRANGE_SRC) &&
	    addr_fails(iph->saddr, &info->src_min, &info->src_max,
		       info->flags & UXT_IPRANGE_SRC_INV))
		return false;
	if ((info->flags & UXT_IPRANGE_DST) &&
	    addr_fails(iph->daddr, &info->dst_min, &info->dst_max,
		       info->flags & UXT_IPRANGE_DST_INV))
		return false;
	return true;
}

const struct uxt_ext uxt_ext_iprange = {
	.name = "iprange",
	.revision = 1,
	.kind = UXT_MATCH,
	.x6 = true,
	.size = sizeof(struct uxt_iprange_mtinfo),
	.usersize = UXT_ALIGN(sizeof(struct uxt_iprange_mtinfo)),
	.opts = iprange_opts,
	.help = iprange_help,
	.parse = iprange_parse,
	.fcheck = iprange_fcheck,
	.print = iprange_print,
	.save = iprange_save,
	.match = iprange_match,
};
