/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * icmp match: ICMP type and code range (-p icmp).
 *
 * Command line as libipt_icmp: --icmp-type is mandatory and takes a type
 * name (any unambiguous case-insensitive prefix of one), a number or
 * number/code with optional ":" code ranges; "any" is type 255.  Kernel
 * side as ip_tables' icmp_checkentry: the rule must say "-p icmp" without
 * "!" and no unknown inversion bits may be set.
 *
 * Packet side as ip_tables' icmp_match: type 255 ("any") matches every
 * type and code, else the type must be equal and the code within the
 * range; "!" inverts the whole test.  A non-first fragment never matches,
 * and a datagram too short for the 8 bytes of struct icmphdr (not merely
 * the 2 bytes the test reads) is dropped (hotdrop).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "engine.h"
#include "ext.h"
#include "parse.h"

/* struct ipt_icmp */
struct uxt_icmp_info {
	uint8_t type;		/* 0xFF: any */
	uint8_t code[2];	/* code range */
	uint8_t invflags;	/* UXT_ICMP_INV */
};

#define UXT_ICMP_INV 0x01

enum { O_ICMP_TYPE = 0 };

static const struct icmp_name {
	const char *name;
	uint8_t type, code_min, code_max;
} icmp_names[] = {
	{"any", 0xFF, 0, 0xFF},
	{"echo-reply", 0, 0, 0xFF},
	{"pong", 0, 0, 0xFF},
	{"destination-unreachable", 3, 0, 0xFF},
	{"network-unreachable", 3, 0, 0},
	{"host-unreachable", 3, 1, 1},
	{"protocol-unreachable", 3, 2, 2},
	{"port-unreachable", 3, 3, 3},
	{"fragmentation-needed", 3, 4, 4},
	{"source-route-failed", 3, 5, 5},
	{"network-unknown", 3, 6, 6},
	{"host-unknown", 3, 7, 7},
	{"network-prohibited", 3, 9, 9},
	{"host-prohibited", 3, 10, 10},
	{"TOS-network-unreachable", 3, 11, 11},
	{"TOS-host-unreachable", 3, 12, 12},
	{"communication-prohibited", 3, 13, 13},
	{"host-precedence-violation", 3, 14, 14},
	{"precedence-cutoff", 3, 15, 15},
	{"source-quench", 4, 0, 0xFF},
	{"redirect", 5, 0, 0xFF},
	{"network-redirect", 5, 0, 0},
	{"host-redirect", 5, 1, 1},
	{"TOS-network-redirect", 5, 2, 2},
	{"TOS-host-redirect", 5, 3, 3},
	{"echo-request", 8, 0, 0xFF},
	{"ping", 8, 0, 0xFF},
	{"router-advertisement", 9, 0, 0xFF},
	{"router-solicitation", 10, 0, 0xFF},
	{"time-exceeded", 11, 0, 0xFF},
	{"ttl-exceeded", 11, 0, 0xFF},
	{"ttl-zero-during-transit", 11, 0, 0},
	{"ttl-zero-during-reassembly", 11, 1, 1},
	{"parameter-problem", 12, 0, 0xFF},
	{"ip-header-bad", 12, 0, 0},
	{"required-option-missing", 12, 1, 1},
	{"timestamp-request", 13, 0, 0xFF},
	{"timestamp-reply", 14, 0, 0xFF},
	{"address-mask-request", 17, 0, 0xFF},
	{"address-mask-reply", 18, 0, 0xFF},
};
#define N_ICMP_NAMES (sizeof(icmp_names) / sizeof(icmp_names[0]))

static void icmp_help(struct uxt_buf *out)
{
	const struct icmp_name *n = icmp_names;

	uxt_buf_puts(out,
		     "icmp match options:\n"
		     "[!] --icmp-type typename\tmatch icmp type\n"
		     "[!] --icmp-type type[/code]\t(or numeric type or type/code)\n"
		     "Valid ICMP Types:");
	/* a name of the same type is an alias when its codes are equal to
	 * the previous one's, else a sub-type */
	for (size_t i = 0; i < N_ICMP_NAMES; i++) {
		if (i == 0 || n[i].type != n[i - 1].type)
			uxt_buf_printf(out, "\n%s", n[i].name);
		else if (n[i].code_min == n[i - 1].code_min &&
			 n[i].code_max == n[i - 1].code_max)
			uxt_buf_printf(out, " (%s)", n[i].name);
		else
			uxt_buf_printf(out, "\n   %s", n[i].name);
	}
	uxt_buf_putc(out, '\n');
}

static const struct uxt_opt icmp_opts[] = {
	{.name = "icmp-type", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_ICMP_TYPE, .flags = UXT_OPT_MAND | UXT_OPT_INVERT},
	{.name = NULL},
};

static void icmp_init(void *data)
{
	struct uxt_icmp_info *info = data;

	info->type = 0xFF;
	info->code[1] = 0xFF;
}

/* number[:number], each 0..255; the end of what was read, or NULL */
static const char *parse_range(const char *s, unsigned int res[2])
{
	char *next;

	if (!uxt_strtoui(s, &next, &res[0], 0, 255))
		return NULL;
	res[1] = res[0];
	if (*next == ':' && !uxt_strtoui(next + 1, &next, &res[1], 0, 255))
		return NULL;
	return next;
}

static int parse_icmp(const char *arg, uint8_t *type, uint8_t code[2],
		      struct uxt_err *err)
{
	size_t len = strlen(arg), match = N_ICMP_NAMES;
	unsigned int num[2];
	uint8_t types[2];
	const char *next;

	/* every name that starts with the argument; more than one is an
	 * error (an empty argument matches them all) */
	for (size_t i = 0; i < N_ICMP_NAMES; i++) {
		if (strncasecmp(icmp_names[i].name, arg, len) != 0)
			continue;
		if (match != N_ICMP_NAMES)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "Ambiguous ICMP type `%s': `%s' or `%s'?",
					 arg, icmp_names[match].name,
					 icmp_names[i].name);
		match = i;
	}
	if (match < N_ICMP_NAMES) {
		*type = icmp_names[match].type;
		code[0] = icmp_names[match].code_min;
		code[1] = icmp_names[match].code_max;
		return 0;
	}

	next = parse_range(arg, num);
	if (!next)
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "Unknown ICMP type `%s'", arg);
	types[0] = (uint8_t)num[0];
	types[1] = (uint8_t)num[1];
	if (*next == '\0') {
		code[0] = 0;
		code[1] = 0xFF;
	} else if (*next == '/') {
		next = parse_range(next + 1, num);
		if (!next)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "Unknown ICMP code `%s'", arg);
		code[0] = (uint8_t)num[0];
		code[1] = (uint8_t)num[1];
		if (*next != '\0')
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "unknown character %c", *next);
	} else {
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "unknown character %c", *next);
	}
	if (types[0] != types[1])
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "ICMP type range not supported");
	*type = types[0];
	return 0;
}

static int icmp_parse(struct uxt_opt_call *c)
{
	struct uxt_icmp_info *info = c->data;

	if (uxt_opt_parse(c))
		return -1;
	if (parse_icmp(c->arg, &info->type, info->code, c->err))
		return -1;
	if (c->invert)
		info->invflags |= UXT_ICMP_INV;
	return 0;
}

static void print_icmptype(struct uxt_buf *b, uint8_t type, uint8_t code_min,
			   uint8_t code_max, bool invert, bool numeric)
{
	if (!numeric) {
		for (size_t i = 0; i < N_ICMP_NAMES; i++) {
			if (icmp_names[i].type != type ||
			    icmp_names[i].code_min != code_min ||
			    icmp_names[i].code_max != code_max)
				continue;
			uxt_buf_printf(b, " %s%s", invert ? "!" : "",
				       icmp_names[i].name);
			return;
		}
	}
	/* no space before "type" unless inverted: "icmptype 8" */
	if (invert)
		uxt_buf_puts(b, " !");
	uxt_buf_printf(b, "type %u", type);
	if (code_min == code_max)
		uxt_buf_printf(b, " code %u", code_min);
	else if (code_min != 0 || code_max != 0xFF)
		uxt_buf_printf(b, " codes %u-%u", code_min, code_max);
}

static void icmp_print(struct uxt_buf *b, const struct uxt_ip *ip,
		       const void *data, bool numeric)
{
	const struct uxt_icmp_info *info = data;

	(void)ip;
	uxt_buf_puts(b, " icmp");
	print_icmptype(b, info->type, info->code[0], info->code[1],
		       info->invflags & UXT_ICMP_INV, numeric);
	if (info->invflags & ~UXT_ICMP_INV)
		uxt_buf_printf(b, " Unknown invflags: 0x%X",
			       info->invflags & ~UXT_ICMP_INV);
}

static void icmp_save(struct uxt_buf *b, const struct uxt_ip *ip,
		      const void *data)
{
	const struct uxt_icmp_info *info = data;

	(void)ip;
	if (info->invflags & UXT_ICMP_INV)
		uxt_buf_puts(b, " !");
	if (info->type == 0xFF) {
		uxt_buf_puts(b, " --icmp-type any");
		return;
	}
	uxt_buf_printf(b, " --icmp-type %u", info->type);
	/* only the lower end of a code range is saved */
	if (info->code[0] != 0 || info->code[1] != 0xFF)
		uxt_buf_printf(b, "/%u", info->code[0]);
}

static int icmp_check(const struct uxt_check_call *call)
{
	const struct uxt_icmp_info *info = call->data;

	return (info->invflags & ~UXT_ICMP_INV) ? -EINVAL : 0;
}

static bool icmp_match(const struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_icmp_info *info = par->info;
	const uint8_t *ic;

	if (par->fragoff != 0)
		return false;
	ic = uxt_pkt_header(pkt, par->thoff, 8);
	if (!ic) {
		par->hotdrop = true;
		return false;
	}
	return (info->type == 0xFF ||
		(ic[0] == info->type && ic[1] >= info->code[0] &&
		 ic[1] <= info->code[1])) ^
	       !!(info->invflags & UXT_ICMP_INV);
}

const struct uxt_ext uxt_ext_icmp = {
	.name = "icmp",
	.kind = UXT_MATCH,
	.x6 = true,
	.size = sizeof(struct uxt_icmp_info),
	.usersize = sizeof(struct uxt_icmp_info),
	.opts = icmp_opts,
	.help = icmp_help,
	.init = icmp_init,
	.parse = icmp_parse,
	.print = icmp_print,
	.save = icmp_save,
	.proto = IPPROTO_ICMP,
	.check = icmp_check,
	.match = icmp_match,
};
