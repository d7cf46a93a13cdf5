/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CT target, revision 2 (struct xt_ct_target_info_v1), and NOTRACK.
 *
 * As in iptables 1.8.9, NOTRACK is only a command-line name: its rules are
 * CT revision 2 rules with the NOTRACK and NOTRACK_ALIAS flags, which -L
 * shows as "NOTRACK" (target column "CT") and -S as "-j NOTRACK".
 *
 * Kernel side as xt_CT: raw table only.  A rule that does not say
 * --notrack gets a conntrack template: a --helper must exist for the rule's
 * protocol (given without "!"), and a --timeout names a timeout policy,
 * of which there are none here.  Only such a rule needs conntrack in the
 * namespace (NOTRACK alone does not enable it).
 *
 * Packet side (xt_ct_target): a packet that already has an entry (looped
 * back) or is untracked is left alone; --notrack makes it untracked; else
 * it carries the rule's template (its live state) until conntrack runs,
 * which gives the new entry the template's zone (--zone, --zone-orig,
 * --zone-reply; "mark" takes the packet's mark then) and reports only the
 * --ctevents events.  --helper is accepted and kept in the template, but
 * helpers and expectations are not modelled, so the entry gets none;
 * --expevents concerns expectations only.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ct.h"
#include "engine.h"
#include "ext.h"
#include "parse.h"

/* XT_CT_* */
#define UXT_CT_NOTRACK 0x01
#define UXT_CT_NOTRACK_ALIAS 0x02
#define UXT_CT_ZONE_DIR_ORIG 0x04
#define UXT_CT_ZONE_DIR_REPL 0x08
#define UXT_CT_ZONE_MARK 0x10
#define UXT_CT_MASK 0x1F

/* struct xt_ct_target_info_v1 */
struct uxt_ct_info {
	uint16_t flags;
	uint16_t zone;
	uint32_t ct_events;
	uint32_t exp_events;
	char helper[16];
	char timeout[32];
	/* the kernel's template pointer (struct nf_conn *) */
	uint64_t ct __attribute__((aligned(8)));
};

/* bytes of the timeout name below the kernel's usersize (see CT_parse) */
#define TIMEOUT_VISIBLE (32 - offsetof(struct uxt_ct_info, timeout))

enum {
	O_NOTRACK = 0,
	O_HELPER,
	O_TIMEOUT,
	O_CTEVENTS,
	O_EXPEVENTS,
	O_ZONE,
	O_ZONE_ORIG,
	O_ZONE_REPLY,
};

static void CT_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "CT target options:\n"
		     " --notrack\t\t\tDon't track connection\n"
		     " --helper name\t\t\tUse conntrack helper 'name' for connection\n"
		     " --timeout name \t\tUse timeout policy 'name' for connection\n"
		     " --ctevents event[,event...]\tGenerate specified conntrack events for connection\n"
		     " --expevents event[,event...]\tGenerate specified expectation events for connection\n"
		     " --zone {ID|mark}\t\tAssign/Lookup connection in zone ID/packet nfmark\n"
		     " --zone-orig {ID|mark}\t\tSame as 'zone' option, but only applies to ORIGINAL direction\n"
		     " --zone-reply {ID|mark} \tSame as 'zone' option, but only applies to REPLY direction\n");
}

static const struct uxt_opt CT_opts[] = {
	{.name = "notrack", .has_arg = 0, .type = UXT_OT_NONE, .id = O_NOTRACK},
	{.name = "helper", .has_arg = 1, .type = UXT_OT_STRING, .id = O_HELPER,
	 .flags = UXT_OPT_PUT, UXT_OPT_POINTER(struct uxt_ct_info, helper)},
	{.name = "timeout", .has_arg = 1, .type = UXT_OT_STRING, .id = O_TIMEOUT,
	 .flags = UXT_OPT_PUT, UXT_OPT_POINTER(struct uxt_ct_info, timeout)},
	{.name = "ctevents", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_CTEVENTS},
	{.name = "expevents", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_EXPEVENTS},
	{.name = "zone-orig", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_ZONE_ORIG},
	{.name = "zone-reply", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_ZONE_REPLY},
	{.name = "zone", .has_arg = 1, .type = UXT_OT_STRING, .id = O_ZONE},
	{.name = NULL},
};

struct event_name {
	const char *name;
	unsigned int bit;
};

/* enum ip_conntrack_events */
static const struct event_name ct_events[] = {
	{"new", 0},	  {"related", 1},   {"destroy", 2}, {"reply", 3},
	{"assured", 4},	  {"protoinfo", 5}, {"helper", 6},  {"mark", 7},
	{"natseqinfo", 8}, {"secmark", 9},
};

/* enum ip_conntrack_expect_events */
static const struct event_name exp_events[] = {
	{"new", 0},
};

#define N_CT_EVENTS (sizeof(ct_events) / sizeof(ct_events[0]))
#define N_EXP_EVENTS (sizeof(exp_events) / sizeof(exp_events[0]))

/* A comma-separated list (empty items included, as strsep gives them). */
static int parse_events(const struct event_name *tbl, size_t n,
			const char *events, uint32_t *mask,
			struct uxt_err *err)
{
	const char *p = events;
	uint32_t m = 0;

	for (;;) {
		size_t len = strcspn(p, ",");
		size_t i;

		for (i = 0; i < n; i++)
			if (strlen(tbl[i].name) == len &&
			    strncmp(tbl[i].name, p, len) == 0) {
				m |= 1u << tbl[i].bit;
				break;
			}
		if (i == n)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "Unknown event type \"%.*s\"", (int)len,
					 p);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*mask = m;
	return 0;
}

static int parse_zone(const char *arg, unsigned int id, uint16_t *zone,
		      uint16_t *flags, struct uxt_err *err)
{
	uintmax_t val;

	if (id == O_ZONE_ORIG)
		*flags |= UXT_CT_ZONE_DIR_ORIG;
	if (id == O_ZONE_REPLY)
		*flags |= UXT_CT_ZONE_DIR_REPL;
	*zone = 0;
	if (strcasecmp(arg, "mark") == 0) {
		*flags |= UXT_CT_ZONE_MARK;
		return 0;
	}
	if (!uxt_strtoul(arg, NULL, &val, 0, UINT16_MAX))
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "Cannot parse %s as a zone ID", arg);
	*zone = (uint16_t)val;
	return 0;
}

static int CT_parse(struct uxt_opt_call *call)
{
	struct uxt_ct_info *info = call->data;

	if (uxt_opt_parse(call))
		return -1;
	switch (call->opt->id) {
	case O_NOTRACK:
		info->flags |= UXT_CT_NOTRACK;
		break;
	case O_TIMEOUT:
		/*
		 * xt_CT revisions 1 and 2 declare the usersize of revision 0
		 * (offsetof(struct xt_ct_target_info, ct), 32 bytes), so the
		 * kernel gives back only the first 4 bytes of the timeout
		 * name and zeroes the rest: listings show "abcd" for
		 * "abcdefg".  The full name would only matter for a timeout
		 * policy, and there are none, so the rule keeps what a
		 * listing shows.
		 */
		memset(info->timeout + TIMEOUT_VISIBLE, 0,
		       sizeof(info->timeout) - TIMEOUT_VISIBLE);
		break;
	case O_ZONE_ORIG:
	case O_ZONE_REPLY:
	case O_ZONE:
		return parse_zone(call->arg, call->opt->id, &info->zone,
				  &info->flags, call->err);
	case O_CTEVENTS:
		return parse_events(ct_events, N_CT_EVENTS, call->arg,
				    &info->ct_events, call->err);
	case O_EXPEVENTS:
		return parse_events(exp_events, N_EXP_EVENTS, call->arg,
				    &info->exp_events, call->err);
	}
	return 0;
}

static void print_events(struct uxt_buf *out, const char *pfx,
			 const struct event_name *tbl, size_t n, uint32_t mask)
{
	const char *sep = "";

	uxt_buf_printf(out, " %s ", pfx);
	for (size_t i = 0; i < n; i++)
		if (mask & (1u << tbl[i].bit)) {
			uxt_buf_puts(out, sep);
			uxt_buf_puts(out, tbl[i].name);
			sep = ",";
		}
}

static void print_zone(struct uxt_buf *out, const char *pfx, uint16_t zone,
		       uint16_t flags)
{
	uint16_t dir = flags & (UXT_CT_ZONE_DIR_ORIG | UXT_CT_ZONE_DIR_REPL);

	uxt_buf_printf(out, " %s", pfx);
	if (dir == UXT_CT_ZONE_DIR_ORIG)
		uxt_buf_puts(out, "-orig");
	if (dir == UXT_CT_ZONE_DIR_REPL)
		uxt_buf_puts(out, "-reply");
	if (flags & UXT_CT_ZONE_MARK)
		uxt_buf_puts(out, " mark");
	else
		uxt_buf_printf(out, " %u", zone);
}

/* helper and timeout as printf("%s") of the kernel's fixed arrays */
static void print_name(struct uxt_buf *out, const char *pfx, const char *s,
		       size_t size)
{
	uxt_buf_printf(out, " %s %.*s", pfx, (int)strnlen(s, size), s);
}

static void CT_body(struct uxt_buf *out, const struct uxt_ct_info *info,
		    bool save)
{
	const char *dd = save ? "--" : "";
	char pfx[16];

	if (info->flags & UXT_CT_NOTRACK)
		uxt_buf_printf(out, " %snotrack", dd);
	if (info->helper[0]) {
		snprintf(pfx, sizeof(pfx), "%shelper", dd);
		print_name(out, pfx, info->helper, sizeof(info->helper));
	}
	if (info->timeout[0]) {
		snprintf(pfx, sizeof(pfx), "%stimeout", dd);
		print_name(out, pfx, info->timeout, sizeof(info->timeout));
	}
	if (info->ct_events) {
		snprintf(pfx, sizeof(pfx), "%sctevents", dd);
		print_events(out, pfx, ct_events, N_CT_EVENTS, info->ct_events);
	}
	if (info->exp_events) {
		snprintf(pfx, sizeof(pfx), "%sexpevents", dd);
		print_events(out, pfx, exp_events, N_EXP_EVENTS,
			     info->exp_events);
	}
	if ((info->flags & UXT_CT_ZONE_MARK) || info->zone) {
		snprintf(pfx, sizeof(pfx), "%szone", dd);
		print_zone(out, pfx, info->zone, info->flags);
	}
}

static void CT_print(struct uxt_buf *out, const struct uxt_ip *ip,
		     const void *data, bool numeric)
{
	const struct uxt_ct_info *info = data;

	(void)ip;
	(void)numeric;
	if (info->flags & UXT_CT_NOTRACK_ALIAS) {
		uxt_buf_puts(out, " NOTRACK");
		return;
	}
	uxt_buf_puts(out, " CT");
	CT_body(out, info, false);
}

static void CT_save(struct uxt_buf *out, const struct uxt_ip *ip,
		    const void *data)
{
	const struct uxt_ct_info *info = data;

	(void)ip;
	if (info->flags & UXT_CT_NOTRACK_ALIAS)
		return;
	CT_body(out, info, true);
}

static const char *CT_alias(const void *data)
{
	const struct uxt_ct_info *info = data;

	return (info->flags & UXT_CT_NOTRACK_ALIAS) ? "NOTRACK" : "CT";
}

/* The conntrack helpers of Linux for IPv4, by name and protocol. */
static const struct {
	const char *name;
	uint8_t proto;
} ct_helpers[] = {
	{"amanda", IPPROTO_UDP},  {"ftp", IPPROTO_TCP},
	{"H.245", IPPROTO_UDP},	  {"Q.931", IPPROTO_TCP},
	{"RAS", IPPROTO_UDP},	  {"irc", IPPROTO_TCP},
	{"netbios-ns", IPPROTO_UDP}, {"snmp", IPPROTO_UDP},
	{"snmp_trap", IPPROTO_UDP}, {"pptp", IPPROTO_TCP},
	{"sane", IPPROTO_TCP},	  {"sip", IPPROTO_UDP},
	{"sip", IPPROTO_TCP},	  {"tftp", IPPROTO_UDP},
};

static bool helper_exists(const char *name, uint16_t proto)
{
	for (size_t i = 0; i < sizeof(ct_helpers) / sizeof(ct_helpers[0]); i++)
		if (ct_helpers[i].proto == proto &&
		    strcmp(ct_helpers[i].name, name) == 0)
			return true;
	return false;
}

static int CT_check(const struct uxt_check_call *call)
{
	const struct uxt_ct_info *info = call->data;
	uint16_t proto = (call->ip->invflags & UXT_INV_PROTO) ? 0 :
			 call->ip->proto;

	if (info->flags & ~UXT_CT_MASK)
		return -EINVAL;
	if (info->flags & UXT_CT_NOTRACK)
		return 0;
	if (info->helper[0]) {
		if (strnlen(info->helper, sizeof(info->helper)) ==
		    sizeof(info->helper))
			return -ENAMETOOLONG;
		if (!proto)
			return -ENOENT;
		if (!helper_exists(info->helper, proto))
			return -ENOENT;
	}
	if (info->timeout[0]) {
		if (strnlen(info->timeout, sizeof(info->timeout)) ==
		    sizeof(info->timeout))
			return -ENAMETOOLONG;
		if (!proto)
			return -EINVAL;
		/* no timeout policy is ever defined */
		return -ENOENT;
	}
	return 0;
}

static bool CT_needs_conntrack(const void *data)
{
	const struct uxt_ct_info *info = data;

	return !(info->flags & UXT_CT_NOTRACK);
}

static void CT_priv_init(void *priv, const void *data, uint64_t now_ns)
{
	const struct uxt_ct_info *info = data;
	char helper[sizeof(info->helper) + 1];

	(void)now_ns;
	memcpy(helper, info->helper, sizeof(info->helper));
	helper[sizeof(info->helper)] = '\0';
	uxt_ct_template_init(priv, info->zone, info->flags, info->ct_events,
			     info->exp_events, helper);
}

static unsigned int CT_target(struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_ct_info *info = par->info;

	if (info->flags & UXT_CT_NOTRACK)
		uxt_ct_set_untracked(pkt);
	else if (par->priv)
		uxt_ct_set_template(pkt, par->priv);
	return UXT_XT_CONTINUE;
}

const struct uxt_ext uxt_ext_CT = {
	.name = "CT",
	.revision = 2,
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_ct_info),
	.usersize = offsetof(struct uxt_ct_info, ct),
	.opts = CT_opts,
	.help = CT_help,
	.parse = CT_parse,
	.print = CT_print,
	.save = CT_save,
	.alias = CT_alias,
	.table = "raw",
	.check = CT_check,
	.needs_conntrack_data = CT_needs_conntrack,
	.target = CT_target,
	.priv_size = sizeof(struct uxt_ct_template),
	.priv_init = CT_priv_init,
};

static const struct uxt_opt NOTRACK_opts[] = {
	{.name = NULL},
};

static void NOTRACK_init(void *data)
{
	struct uxt_ct_info *info = data;

	info->flags = UXT_CT_NOTRACK | UXT_CT_NOTRACK_ALIAS;
}

const struct uxt_ext uxt_ext_NOTRACK = {
	.name = "NOTRACK",
	.stored_as = &uxt_ext_CT,
	.revision = 2,
	.kind = UXT_TARGET,
	.size = sizeof(struct uxt_ct_info),
	.usersize = offsetof(struct uxt_ct_info, ct),
	.opts = NOTRACK_opts,
	.init = NOTRACK_init,
	.table = "raw",
};
