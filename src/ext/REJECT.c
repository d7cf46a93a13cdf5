/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * REJECT target (IPv4): --reject-with type, names and aliases matched as
 * prefixes without regard to case, as libipt_REJECT does.  Kernel side as
 * ipt_REJECT: filter table, INPUT/FORWARD/OUTPUT, tcp-reset only for a rule
 * that says "-p tcp" without "!".
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "ext.h"

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
};
