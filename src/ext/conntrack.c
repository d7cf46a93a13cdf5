/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conntrack match: state, status, tuple and lifetime of the packet's
 * connection (-m conntrack), and the state match (-m state).
 *
 * Command line as libxt_conntrack revision 3 (x6 style), the highest
 * revision both iptables 1.8.9 and current kernels know.  "-m state" is, as
 * in libxt_conntrack, an alias: its own option table and help, but the rule
 * stores a conntrack revision 3 record with XT_CONNTRACK_STATE_ALIAS set,
 * which makes the conntrack listing say "state" and -S say "-m state".
 *
 * Kernel side as xt_conntrack: its checkentry only enables conntrack in the
 * namespace, so there is nothing to reject and no table, hook or protocol
 * restriction.  The match is conntrack_mt() for revision 3: the state of a
 * packet without an entry is INVALID (UNTRACKED when untracked), and then
 * only --ctstate can match; SNAT and DNAT are the entry's NAT status bits;
 * ports compare in host order; --ctexpire counts whole seconds left (0 for
 * an entry not yet confirmed).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "ct.h"
#include "engine.h"
#include "ext.h"
#include "parse.h"

/* union nf_inet_addr */
union uxt_inet_addr {
	uint32_t all[4];
	uint32_t ip;	/* network byte order */
	uint32_t ip6[4];
};

/* struct xt_conntrack_mtinfo3 */
struct uxt_conntrack_mtinfo3 {
	union uxt_inet_addr origsrc_addr, origsrc_mask;
	union uxt_inet_addr origdst_addr, origdst_mask;
	union uxt_inet_addr replsrc_addr, replsrc_mask;
	union uxt_inet_addr repldst_addr, repldst_mask;
	uint32_t expires_min, expires_max;
	uint16_t l4proto;
	uint16_t origsrc_port, origdst_port;	/* host byte order in rev 3 */
	uint16_t replsrc_port, repldst_port;
	uint16_t match_flags, invert_flags;	/* UXT_CT_* */
	uint16_t state_mask, status_mask;
	uint16_t origsrc_port_high, origdst_port_high;
	uint16_t replsrc_port_high, repldst_port_high;
};

_Static_assert(sizeof(struct uxt_conntrack_mtinfo3) == 164,
	       "struct xt_conntrack_mtinfo3 layout");

/* match_flags / invert_flags */
#define UXT_CT_STATE 0x0001
#define UXT_CT_PROTO 0x0002
#define UXT_CT_ORIGSRC 0x0004
#define UXT_CT_ORIGDST 0x0008
#define UXT_CT_REPLSRC 0x0010
#define UXT_CT_REPLDST 0x0020
#define UXT_CT_STATUS 0x0040
#define UXT_CT_EXPIRES 0x0080
#define UXT_CT_ORIGSRC_PORT 0x0100
#define UXT_CT_ORIGDST_PORT 0x0200
#define UXT_CT_REPLSRC_PORT 0x0400
#define UXT_CT_REPLDST_PORT 0x0800
#define UXT_CT_DIRECTION 0x1000
#define UXT_CT_STATE_ALIAS 0x2000

/* XT_INV_PROTO, which libxt_conntrack tests in invert_flags (where that
 * bit is UXT_CT_STATUS) */
#define UXT_XT_INV_PROTO 0x40

/* state_mask: XT_CONNTRACK_STATE_* (bit 0 invalid, then 1 << (ctinfo + 1)
 * for ESTABLISHED 0, RELATED 1, NEW 2, then SNAT, DNAT, UNTRACKED) */
#define UXT_CTS_INVALID 0x0001
#define UXT_CTS_ESTABLISHED 0x0002
#define UXT_CTS_RELATED 0x0004
#define UXT_CTS_NEW 0x0008
#define UXT_CTS_SNAT 0x0040
#define UXT_CTS_DNAT 0x0080
#define UXT_CTS_UNTRACKED 0x0100

/* status_mask: IPS_* (ct.h) */

enum {
	O_CTSTATE = 0,
	O_CTPROTO,
	O_CTORIGSRC,
	O_CTORIGDST,
	O_CTREPLSRC,
	O_CTREPLDST,
	O_CTORIGSRCPORT,
	O_CTORIGDSTPORT,
	O_CTREPLSRCPORT,
	O_CTREPLDSTPORT,
	O_CTSTATUS,
	O_CTEXPIRE,
	O_CTDIR,
};

static void conntrack_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "conntrack match options:\n"
		     "[!] --ctstate {INVALID|ESTABLISHED|NEW|RELATED|UNTRACKED|SNAT|DNAT}[,...]\n"
		     "                               State(s) to match\n"
		     "[!] --ctproto proto            Protocol to match; by number or name, e.g. \"tcp\"\n"
		     "[!] --ctorigsrc address[/mask]\n"
		     "[!] --ctorigdst address[/mask]\n"
		     "[!] --ctreplsrc address[/mask]\n"
		     "[!] --ctrepldst address[/mask]\n"
		     "                               Original/Reply source/destination address\n"
		     "[!] --ctorigsrcport port\n"
		     "[!] --ctorigdstport port\n"
		     "[!] --ctreplsrcport port\n"
		     "[!] --ctrepldstport port\n"
		     "                               TCP/UDP/SCTP orig./reply source/destination port\n"
		     "[!] --ctstatus {NONE|EXPECTED|SEEN_REPLY|ASSURED|CONFIRMED}[,...]\n"
		     "                               Status(es) to match\n"
		     "[!] --ctexpire time[:time]     Match remaining lifetime in seconds against\n"
		     "                               value or range of values (inclusive)\n"
		     "    --ctdir {ORIGINAL|REPLY}   Flow direction of packet\n");
}

#define CT_OPT(n, i, t, f)                                                  \
	{.name = (n), .has_arg = 1, .type = (t), .id = (i), .flags = (f)}

static const struct uxt_opt conntrack_opts[] = {
	CT_OPT("ctstate", O_CTSTATE, UXT_OT_STRING, UXT_OPT_INVERT),
	CT_OPT("ctproto", O_CTPROTO, UXT_OT_PROTOCOL, UXT_OPT_INVERT),
	CT_OPT("ctorigsrc", O_CTORIGSRC, UXT_OT_HOSTMASK, UXT_OPT_INVERT),
	CT_OPT("ctorigdst", O_CTORIGDST, UXT_OT_HOSTMASK, UXT_OPT_INVERT),
	CT_OPT("ctreplsrc", O_CTREPLSRC, UXT_OT_HOSTMASK, UXT_OPT_INVERT),
	CT_OPT("ctrepldst", O_CTREPLDST, UXT_OT_HOSTMASK, UXT_OPT_INVERT),
	CT_OPT("ctstatus", O_CTSTATUS, UXT_OT_STRING, UXT_OPT_INVERT),
	CT_OPT("ctexpire", O_CTEXPIRE, UXT_OT_UINT32RC, UXT_OPT_INVERT),
	CT_OPT("ctorigsrcport", O_CTORIGSRCPORT, UXT_OT_PORTRC, UXT_OPT_INVERT),
	CT_OPT("ctorigdstport", O_CTORIGDSTPORT, UXT_OT_PORTRC, UXT_OPT_INVERT),
	CT_OPT("ctreplsrcport", O_CTREPLSRCPORT, UXT_OT_PORTRC, UXT_OPT_INVERT),
	CT_OPT("ctrepldstport", O_CTREPLDSTPORT, UXT_OT_PORTRC, UXT_OPT_INVERT),
	CT_OPT("ctdir", O_CTDIR, UXT_OT_STRING, 0),
	{.name = NULL},
};

struct name_bit {
	const char *name;
	uint16_t bit;
};

/* Accepted names, in libxt_conntrack's order of trial: a word matches the
 * first name it is a case-insensitive prefix of ("E" is ESTABLISHED). */
static const struct name_bit ctstate_names[] = {
	{"INVALID", UXT_CTS_INVALID},	  {"NEW", UXT_CTS_NEW},
	{"ESTABLISHED", UXT_CTS_ESTABLISHED}, {"RELATED", UXT_CTS_RELATED},
	{"UNTRACKED", UXT_CTS_UNTRACKED}, {"SNAT", UXT_CTS_SNAT},
	{"DNAT", UXT_CTS_DNAT},		  {NULL, 0},
};

/* the state match knows the first five only */
#define N_STATE_MATCH_NAMES 5

static const struct name_bit ctstatus_names[] = {
	{"NONE", 0},
	{"EXPECTED", UXT_IPS_EXPECTED},
	{"SEEN_REPLY", UXT_IPS_SEEN_REPLY},
	{"ASSURED", UXT_IPS_ASSURED},
	{"CONFIRMED", UXT_IPS_CONFIRMED},
	{NULL, 0},
};

/* The first of names[0..n) that word[0..len) (len > 0) is a prefix of. */
static const struct name_bit *find_name(const struct name_bit *names,
					size_t n, const char *word, size_t len)
{
	for (size_t i = 0; i < n && names[i].name != NULL; i++)
		if (strncasecmp(word, names[i].name, len) == 0)
			return &names[i];
	return NULL;
}

/*
 * A comma-separated list of names (conntrack_ps_states/_statuses): an
 * empty word, including a trailing comma, is an error, reported with the
 * rest of the list from the bad word on.
 */
static int parse_name_list(const char *arg, const struct name_bit *names,
			   const char *what, uint16_t *mask,
			   struct uxt_err *err)
{
	const struct name_bit *nb;
	const char *comma;

	while ((comma = strchr(arg, ',')) != NULL) {
		if (comma == arg ||
		    (nb = find_name(names, SIZE_MAX, arg,
				    (size_t)(comma - arg))) == NULL)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "Bad %s \"%s\"", what, arg);
		*mask |= nb->bit;
		arg = comma + 1;
	}
	if (*arg == '\0' ||
	    (nb = find_name(names, SIZE_MAX, arg, strlen(arg))) == NULL)
		return uxt_error(err, UXT_PARAMETER_PROBLEM, "Bad %s \"%s\"",
				 what, arg);
	*mask |= nb->bit;
	return 0;
}

static void put_addr(union uxt_inet_addr *addr, union uxt_inet_addr *mask,
		     const struct uxt_opt_call *c)
{
	memcpy(addr->all, c->val.haddr, sizeof(addr->all));
	memcpy(mask->all, c->val.hmask, sizeof(mask->all));
}

static void put_ports(uint16_t *low, uint16_t *high,
		      const struct uxt_opt_call *c)
{
	*low = c->val.port_range[0];
	*high = c->val.port_range[c->nvals >= 2 ? 1 : 0];
}

static int conntrack_parse(struct uxt_opt_call *c)
{
	struct uxt_conntrack_mtinfo3 *info = c->data;
	uint16_t flag = 0;

	if (uxt_opt_parse(c))
		return -1;
	switch (c->opt->id) {
	case O_CTSTATE:
		if (parse_name_list(c->arg, ctstate_names, "ctstate",
				    &info->state_mask, c->err))
			return -1;
		flag = UXT_CT_STATE;
		break;
	case O_CTPROTO:
		info->l4proto = c->val.protocol;
		/* libxt_conntrack's test, on the wrong flag word bit */
		if (info->l4proto == 0 &&
		    (info->invert_flags & UXT_XT_INV_PROTO))
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "conntrack: rule would never match protocol");
		flag = UXT_CT_PROTO;
		break;
	case O_CTORIGSRC:
		put_addr(&info->origsrc_addr, &info->origsrc_mask, c);
		flag = UXT_CT_ORIGSRC;
		break;
	case O_CTORIGDST:
		put_addr(&info->origdst_addr, &info->origdst_mask, c);
		flag = UXT_CT_ORIGDST;
		break;
	case O_CTREPLSRC:
		put_addr(&info->replsrc_addr, &info->replsrc_mask, c);
		flag = UXT_CT_REPLSRC;
		break;
	case O_CTREPLDST:
		put_addr(&info->repldst_addr, &info->repldst_mask, c);
		flag = UXT_CT_REPLDST;
		break;
	case O_CTSTATUS:
		if (parse_name_list(c->arg, ctstatus_names, "ctstatus",
				    &info->status_mask, c->err))
			return -1;
		flag = UXT_CT_STATUS;
		break;
	case O_CTEXPIRE:
		info->expires_min = c->val.u32_range[0];
		info->expires_max = c->val.u32_range[0];
		if (c->nvals >= 2)
			info->expires_max = c->val.u32_range[1];
		flag = UXT_CT_EXPIRES;
		break;
	case O_CTORIGSRCPORT:
		put_ports(&info->origsrc_port, &info->origsrc_port_high, c);
		flag = UXT_CT_ORIGSRC_PORT;
		break;
	case O_CTORIGDSTPORT:
		put_ports(&info->origdst_port, &info->origdst_port_high, c);
		flag = UXT_CT_ORIGDST_PORT;
		break;
	case O_CTREPLSRCPORT:
		put_ports(&info->replsrc_port, &info->replsrc_port_high, c);
		flag = UXT_CT_REPLSRC_PORT;
		break;
	case O_CTREPLDSTPORT:
		put_ports(&info->repldst_port, &info->repldst_port_high, c);
		flag = UXT_CT_REPLDST_PORT;
		break;
	case O_CTDIR:
		/* REPLY is the direction bit inverted; not an inversion
		 * the user can write */
		if (strcasecmp(c->arg, "ORIGINAL") == 0)
			info->invert_flags &= (uint16_t)~UXT_CT_DIRECTION;
		else if (strcasecmp(c->arg, "REPLY") == 0)
			info->invert_flags |= UXT_CT_DIRECTION;
		else
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "conntrack: Bad value for \"--ctdir\" option: \"%s\"",
					 c->arg);
		info->match_flags |= UXT_CT_DIRECTION;
		return 0;
	}
	info->match_flags |= flag;
	if (c->invert)
		info->invert_flags |= flag;
	return 0;
}

static int conntrack_fcheck(struct uxt_fcheck_call *c)
{
	if (c->xflags == 0)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "conntrack: At least one option is required");
	return 0;
}

static void print_names(struct uxt_buf *b, uint16_t mask,
			const struct name_bit *order, size_t n)
{
	char sep = ' ';

	for (size_t i = 0; i < n; i++)
		if (mask & order[i].bit) {
			uxt_buf_putc(b, sep);
			uxt_buf_puts(b, order[i].name);
			sep = ',';
		}
}

/* print_state(): listing order, not parsing order */
static const struct name_bit state_print_order[] = {
	{"INVALID", UXT_CTS_INVALID},	  {"NEW", UXT_CTS_NEW},
	{"RELATED", UXT_CTS_RELATED},	  {"ESTABLISHED", UXT_CTS_ESTABLISHED},
	{"UNTRACKED", UXT_CTS_UNTRACKED}, {"SNAT", UXT_CTS_SNAT},
	{"DNAT", UXT_CTS_DNAT},
};

static void print_status(struct uxt_buf *b, uint16_t mask)
{
	print_names(b, mask, ctstatus_names + 1, 4);
	if (mask == 0)
		uxt_buf_puts(b, " NONE");
}

static void dump_addr(struct uxt_buf *b, const union uxt_inet_addr *addr,
		      const union uxt_inet_addr *mask, bool numeric)
{
	if (!numeric && addr->ip == 0) {
		uxt_buf_puts(b, " anywhere");
		return;
	}
	uxt_buf_putc(b, ' ');
	if (numeric)
		uxt_buf_ipv4(b, addr->ip);
	else
		uxt_buf_ipaddr_anyname(b, addr->ip);
	uxt_buf_ipmask(b, mask->ip);
}

static void dump_ports(struct uxt_buf *b, const char *prefix, const char *opt,
		       uint16_t low, uint16_t high)
{
	uxt_buf_printf(b, " %s%s %u", prefix, opt, low);
	if (high != 0 && low != high)
		uxt_buf_printf(b, ":%u", high);
}

static void inv(struct uxt_buf *b, const struct uxt_conntrack_mtinfo3 *info,
		uint16_t flag)
{
	if (info->invert_flags & flag)
		uxt_buf_puts(b, " !");
}

/* conntrack_dump() for IPv4, revision 3 */
static void conntrack_dump(struct uxt_buf *b,
			   const struct uxt_conntrack_mtinfo3 *info,
			   const char *prefix, bool numeric)
{
	static const struct {
		uint16_t flag;
		const char *name;
		size_t addr_off, mask_off;
	} addrs[] = {
		{UXT_CT_ORIGSRC, "ctorigsrc",
		 offsetof(struct uxt_conntrack_mtinfo3, origsrc_addr),
		 offsetof(struct uxt_conntrack_mtinfo3, origsrc_mask)},
		{UXT_CT_ORIGDST, "ctorigdst",
		 offsetof(struct uxt_conntrack_mtinfo3, origdst_addr),
		 offsetof(struct uxt_conntrack_mtinfo3, origdst_mask)},
		{UXT_CT_REPLSRC, "ctreplsrc",
		 offsetof(struct uxt_conntrack_mtinfo3, replsrc_addr),
		 offsetof(struct uxt_conntrack_mtinfo3, replsrc_mask)},
		{UXT_CT_REPLDST, "ctrepldst",
		 offsetof(struct uxt_conntrack_mtinfo3, repldst_addr),
		 offsetof(struct uxt_conntrack_mtinfo3, repldst_mask)},
	};
	const struct {
		uint16_t flag;
		const char *name;
		uint16_t low, high;
	} ports[] = {
		{UXT_CT_ORIGSRC_PORT, "ctorigsrcport", info->origsrc_port,
		 info->origsrc_port_high},
		{UXT_CT_ORIGDST_PORT, "ctorigdstport", info->origdst_port,
		 info->origdst_port_high},
		{UXT_CT_REPLSRC_PORT, "ctreplsrcport", info->replsrc_port,
		 info->replsrc_port_high},
		{UXT_CT_REPLDST_PORT, "ctrepldstport", info->repldst_port,
		 info->repldst_port_high},
	};
	const char *base = (const char *)info;

	if (info->match_flags & UXT_CT_STATE) {
		inv(b, info, UXT_CT_STATE);
		uxt_buf_printf(b, " %s%s", prefix,
			       info->match_flags & UXT_CT_STATE_ALIAS ?
				       "state" : "ctstate");
		print_names(b, info->state_mask, state_print_order,
			    sizeof(state_print_order) /
				    sizeof(state_print_order[0]));
	}
	if (info->match_flags & UXT_CT_PROTO) {
		inv(b, info, UXT_CT_PROTO);
		uxt_buf_printf(b, " %sctproto %u", prefix, info->l4proto);
	}
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		if (!(info->match_flags & addrs[i].flag))
			continue;
		inv(b, info, addrs[i].flag);
		uxt_buf_printf(b, " %s%s", prefix, addrs[i].name);
		dump_addr(b, (const void *)(base + addrs[i].addr_off),
			  (const void *)(base + addrs[i].mask_off), numeric);
	}
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		if (!(info->match_flags & ports[i].flag))
			continue;
		inv(b, info, ports[i].flag);
		dump_ports(b, prefix, ports[i].name, ports[i].low,
			   ports[i].high);
	}
	if (info->match_flags & UXT_CT_STATUS) {
		inv(b, info, UXT_CT_STATUS);
		uxt_buf_printf(b, " %sctstatus", prefix);
		print_status(b, info->status_mask);
	}
	if (info->match_flags & UXT_CT_EXPIRES) {
		inv(b, info, UXT_CT_EXPIRES);
		uxt_buf_printf(b, " %sctexpire %u", prefix, info->expires_min);
		if (info->expires_max != info->expires_min)
			uxt_buf_printf(b, ":%u", info->expires_max);
	}
	if (info->match_flags & UXT_CT_DIRECTION)
		uxt_buf_printf(b, " %sctdir %s", prefix,
			       info->invert_flags & UXT_CT_DIRECTION ?
				       "REPLY" : "ORIGINAL");
}

static void conntrack_print(struct uxt_buf *b, const struct uxt_ip *ip,
			    const void *data, bool numeric)
{
	(void)ip;
	conntrack_dump(b, data, "", numeric);
}

static void conntrack_save(struct uxt_buf *b, const struct uxt_ip *ip,
			   const void *data)
{
	(void)ip;
	conntrack_dump(b, data, "--", true);
}

static const char *conntrack_alias(const void *data)
{
	const struct uxt_conntrack_mtinfo3 *info = data;

	return info->match_flags & UXT_CT_STATE_ALIAS ? "state" : "conntrack";
}

/* Packet side */

static bool addr_ok(uint32_t addr, const union uxt_inet_addr *want,
		    const union uxt_inet_addr *mask, uint16_t flag,
		    const struct uxt_conntrack_mtinfo3 *info)
{
	bool eq = ((addr ^ want->ip) & mask->ip) == 0;

	return eq ^ ((info->invert_flags & flag) != 0);
}

static bool port_ok(uint16_t port_be, uint16_t low, uint16_t high,
		    uint16_t flag, const struct uxt_conntrack_mtinfo3 *info)
{
	uint16_t port = ntohs(port_be);

	return (port >= low && port <= high) ^ ((info->invert_flags & flag) != 0);
}

/* conntrack_mt() with ct_proto_port_check_v3() */
static bool conntrack_mt(const struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_conntrack_mtinfo3 *info = par->info;
	const struct uxt_ct *ct = pkt->ct;
	const struct uxt_ct_tuple *o, *r;
	uint16_t f = info->match_flags;
	unsigned int statebit;

	if (ct)
		statebit = 1u << (pkt->ctinfo % UXT_CT_IS_REPLY + 1);
	else if (pkt->ctinfo == UXT_CT_UNTRACKED)
		statebit = UXT_CTS_UNTRACKED;
	else
		statebit = UXT_CTS_INVALID;
	if (f & UXT_CT_STATE) {
		if (ct) {
			if (ct->status & UXT_IPS_SRC_NAT)
				statebit |= UXT_CTS_SNAT;
			if (ct->status & UXT_IPS_DST_NAT)
				statebit |= UXT_CTS_DNAT;
		}
		if (((info->state_mask & statebit) != 0) ^
		    !(info->invert_flags & UXT_CT_STATE))
			return false;
	}
	if (!ct)
		return (f & UXT_CT_STATE) != 0;
	if ((f & UXT_CT_DIRECTION) &&
	    (uxt_ctinfo_dir(pkt->ctinfo) == UXT_CT_DIR_ORIGINAL) ^
		    !(info->invert_flags & UXT_CT_DIRECTION))
		return false;
	o = &ct->tuple[UXT_CT_DIR_ORIGINAL];
	r = &ct->tuple[UXT_CT_DIR_REPLY];
	if ((f & UXT_CT_ORIGSRC) &&
	    !addr_ok(o->src, &info->origsrc_addr, &info->origsrc_mask,
		     UXT_CT_ORIGSRC, info))
		return false;
	if ((f & UXT_CT_ORIGDST) &&
	    !addr_ok(o->dst, &info->origdst_addr, &info->origdst_mask,
		     UXT_CT_ORIGDST, info))
		return false;
	if ((f & UXT_CT_REPLSRC) &&
	    !addr_ok(r->src, &info->replsrc_addr, &info->replsrc_mask,
		     UXT_CT_REPLSRC, info))
		return false;
	if ((f & UXT_CT_REPLDST) &&
	    !addr_ok(r->dst, &info->repldst_addr, &info->repldst_mask,
		     UXT_CT_REPLDST, info))
		return false;
	if ((f & UXT_CT_PROTO) &&
	    (o->proto == info->l4proto) ^ !(info->invert_flags & UXT_CT_PROTO))
		return false;
	if ((f & UXT_CT_ORIGSRC_PORT) &&
	    !port_ok(o->sport, info->origsrc_port, info->origsrc_port_high,
		     UXT_CT_ORIGSRC_PORT, info))
		return false;
	if ((f & UXT_CT_ORIGDST_PORT) &&
	    !port_ok(o->dport, info->origdst_port, info->origdst_port_high,
		     UXT_CT_ORIGDST_PORT, info))
		return false;
	if ((f & UXT_CT_REPLSRC_PORT) &&
	    !port_ok(r->sport, info->replsrc_port, info->replsrc_port_high,
		     UXT_CT_REPLSRC_PORT, info))
		return false;
	if ((f & UXT_CT_REPLDST_PORT) &&
	    !port_ok(r->dport, info->repldst_port, info->repldst_port_high,
		     UXT_CT_REPLDST_PORT, info))
		return false;
	if ((f & UXT_CT_STATUS) &&
	    ((info->status_mask & ct->status) != 0) ^
		    !(info->invert_flags & UXT_CT_STATUS))
		return false;
	if (f & UXT_CT_EXPIRES) {
		uint32_t expires = uxt_ct_expire_secs(ct, par->now_ns);

		if ((expires >= info->expires_min && expires <= info->expires_max) ^
		    !(info->invert_flags & UXT_CT_EXPIRES))
			return false;
	}
	return true;
}

const struct uxt_ext uxt_ext_conntrack = {
	.name = "conntrack",
	.revision = 3,
	.kind = UXT_MATCH,
	.x6 = true,
	.size = sizeof(struct uxt_conntrack_mtinfo3),
	.usersize = UXT_ALIGN(sizeof(struct uxt_conntrack_mtinfo3)),
	.opts = conntrack_opts,
	.help = conntrack_help,
	.parse = conntrack_parse,
	.fcheck = conntrack_fcheck,
	.print = conntrack_print,
	.save = conntrack_save,
	.alias = conntrack_alias,
	.needs_conntrack = true,
	.match = conntrack_mt,
};

/* ---- state: the alias ---- */

static void state_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "state match options:\n"
		     " [!] --state [INVALID|ESTABLISHED|NEW|RELATED|UNTRACKED][,...]\n"
		     "\t\t\t\tState(s) to match\n");
}

static const struct uxt_opt state_opts[] = {
	{.name = "state", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_CTSTATE, .flags = UXT_OPT_MAND | UXT_OPT_INVERT},
	{.name = NULL},
};

/* state_parse_states(): a trailing comma has its own message */
static int state_parse_states(const char *arg, uint16_t *mask,
			      struct uxt_err *err)
{
	const struct name_bit *nb;
	const char *comma;

	while ((comma = strchr(arg, ',')) != NULL) {
		if (comma == arg ||
		    (nb = find_name(ctstate_names, N_STATE_MATCH_NAMES, arg,
				    (size_t)(comma - arg))) == NULL)
			goto bad;
		*mask |= nb->bit;
		arg = comma + 1;
	}
	if (*arg == '\0')
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "\"--state\" requires a list of states with no spaces, e.g. ESTABLISHED,RELATED");
	nb = find_name(ctstate_names, N_STATE_MATCH_NAMES, arg, strlen(arg));
	if (nb == NULL)
		goto bad;
	*mask |= nb->bit;
	return 0;
bad:
	return uxt_error(err, UXT_PARAMETER_PROBLEM, "Bad state \"%s\"", arg);
}

static int state_parse(struct uxt_opt_call *c)
{
	struct uxt_conntrack_mtinfo3 *info = c->data;
	uint16_t mask = 0;

	if (uxt_opt_parse(c))
		return -1;
	info->match_flags = UXT_CT_STATE | UXT_CT_STATE_ALIAS;
	if (state_parse_states(c->arg, &mask, c->err))
		return -1;
	info->state_mask = mask;
	if (c->invert)
		info->invert_flags |= UXT_CT_STATE;
	return 0;
}

const struct uxt_ext uxt_ext_state = {
	.name = "state",
	.stored_as = &uxt_ext_conntrack,
	.revision = 3,
	.kind = UXT_MATCH,
	.x6 = true,
	.size = sizeof(struct uxt_conntrack_mtinfo3),
	.usersize = UXT_ALIGN(sizeof(struct uxt_conntrack_mtinfo3)),
	.opts = state_opts,
	.help = state_help,
	.parse = state_parse,
	.print = conntrack_print,
	.save = conntrack_save,
	.needs_conntrack = true,
	.match = conntrack_mt,
};
