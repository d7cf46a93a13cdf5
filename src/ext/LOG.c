/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * LOG target (revision 0): logs the packet's headers to the kernel log at a
 * syslog level, after a prefix of at most 29 characters.
 *
 * Command line as libxt_LOG of iptables 1.8.9 (x6 style): --log-level takes
 * a number 0-7 or a syslog name, --log-prefix is cut to 29 characters
 * without a word (but may not contain a newline), and the flag options set
 * the logflags bits.  -L without -n names the level as glibc's
 * prioritynames[] does (first entry wins: "err", "warn"); -S omits the
 * default level 4.
 *
 * Kernel side as xt_LOG's checkentry: level below 8 and a terminated
 * prefix.  The target (log_target) writes the packet's log line (logfmt.c) at
 * the rule's level with its flags and prefix, and lets the packet go on.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "engine.h"
#include "ext.h"
#include "logfmt.h"
#include "parse.h"

#define UXT_LOG_TCPSEQ 0x01
#define UXT_LOG_TCPOPT 0x02
#define UXT_LOG_IPOPT 0x04
#define UXT_LOG_UID 0x08
#define UXT_LOG_NFLOG 0x10	/* never supported */
#define UXT_LOG_MACDECODE 0x20
#define UXT_LOG_MASK 0x2f

#define LOG_DEFAULT_LEVEL 4	/* LOG_WARNING */

/* xt_log_info */
struct uxt_log_info {
	unsigned char level;
	unsigned char logflags;
	char prefix[30];
};
_Static_assert(sizeof(struct uxt_log_info) == 32, "xt_log_info layout");

/* the ids of the flag options are their bit numbers in logflags */
enum {
	O_LOG_TCPSEQ = 0,
	O_LOG_TCPOPTS,
	O_LOG_IPOPTS,
	O_LOG_UID,
	O_LOG_NFLOG_UNUSED,
	O_LOG_MAC,
	O_LOG_LEVEL,
	O_LOG_PREFIX,
};

static const struct uxt_opt log_opts[] = {
	{.name = "log-level", .has_arg = 1, .type = UXT_OT_SYSLOGLEVEL,
	 .id = O_LOG_LEVEL, .flags = UXT_OPT_PUT,
	 UXT_OPT_POINTER(struct uxt_log_info, level)},
	{.name = "log-prefix", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_LOG_PREFIX, .flags = UXT_OPT_PUT, .min = 1,
	 UXT_OPT_POINTER(struct uxt_log_info, prefix)},
	{.name = "log-tcp-sequence", .type = UXT_OT_NONE, .id = O_LOG_TCPSEQ},
	{.name = "log-tcp-options", .type = UXT_OT_NONE, .id = O_LOG_TCPOPTS},
	{.name = "log-ip-options", .type = UXT_OT_NONE, .id = O_LOG_IPOPTS},
	{.name = "log-uid", .type = UXT_OT_NONE, .id = O_LOG_UID},
	{.name = "log-macdecode", .type = UXT_OT_NONE, .id = O_LOG_MAC},
	{.name = NULL},
};

static void log_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "LOG target options:\n"
		     " --log-level level\t\tLevel of logging (numeric or see syslog.conf)\n"
		     " --log-prefix prefix\t\tPrefix log messages with this prefix.\n"
		     " --log-tcp-sequence\t\tLog TCP sequence numbers.\n"
		     " --log-tcp-options\t\tLog TCP options.\n"
		     " --log-ip-options\t\tLog IP options.\n"
		     " --log-uid\t\t\tLog UID owning the local socket.\n"
		     " --log-macdecode\t\tDecode MAC addresses and protocol.\n");
}

static void log_init(void *data)
{
	struct uxt_log_info *info = data;

	info->level = LOG_DEFAULT_LEVEL;
}

static int log_parse(struct uxt_opt_call *c)
{
	struct uxt_log_info *info = c->data;

	if (uxt_opt_parse(c))
		return -1;
	switch (c->opt->id) {
	case O_LOG_PREFIX:
		if (strchr(c->arg, '\n') != NULL)
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "Newlines not allowed in --log-prefix");
		break;
	case O_LOG_TCPSEQ:
	case O_LOG_TCPOPTS:
	case O_LOG_IPOPTS:
	case O_LOG_UID:
	case O_LOG_MAC:
		info->logflags |= (unsigned char)(1u << c->opt->id);
		break;
	}
	return 0;
}

/* glibc's prioritynames[] in its order: the first name of a value wins */
static const char *priority_name(unsigned int level)
{
	static const struct {
		const char *name;
		unsigned int value;
	} names[] = {
		{"alert", 1}, {"crit", 2},   {"debug", 7},  {"emerg", 0},
		{"err", 3},   {"error", 3},  {"info", 6},   {"none", 0x10},
		{"notice", 5}, {"panic", 0}, {"warn", 4},   {"warning", 4},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].value == level)
			return names[i].name;
	return NULL;
}

/* the prefix as a C string even if the data lacks its terminator */
static void put_prefix(struct uxt_buf *b, const struct uxt_log_info *info)
{
	uxt_buf_putn(b, info->prefix, strnlen(info->prefix, sizeof(info->prefix)));
}

static void log_print(struct uxt_buf *b, const struct uxt_ip *ip,
		      const void *data, bool numeric)
{
	const struct uxt_log_info *info = data;

	(void)ip;
	uxt_buf_puts(b, " LOG");
	if (numeric) {
		uxt_buf_printf(b, " flags %u level %u", info->logflags,
			       info->level);
	} else {
		const char *pname = priority_name(info->level);

		if (pname)
			uxt_buf_printf(b, " level %s", pname);
		else
			uxt_buf_printf(b, " UNKNOWN level %u", info->level);
		if (info->logflags & UXT_LOG_TCPSEQ)
			uxt_buf_puts(b, " tcp-sequence");
		if (info->logflags & UXT_LOG_TCPOPT)
			uxt_buf_puts(b, " tcp-options");
		if (info->logflags & UXT_LOG_IPOPT)
			uxt_buf_puts(b, " ip-options");
		if (info->logflags & UXT_LOG_UID)
			uxt_buf_puts(b, " uid");
		if (info->logflags & UXT_LOG_MACDECODE)
			uxt_buf_puts(b, " macdecode");
		if (info->logflags & ~UXT_LOG_MASK)
			uxt_buf_puts(b, " unknown-flags");
	}
	if (info->prefix[0] != '\0') {
		uxt_buf_puts(b, " prefix \"");
		put_prefix(b, info);
		uxt_buf_putc(b, '"');
	}
}

static void log_save(struct uxt_buf *b, const struct uxt_ip *ip,
		     const void *data)
{
	const struct uxt_log_info *info = data;

	(void)ip;
	if (info->prefix[0] != '\0') {
		char prefix[sizeof(info->prefix) + 1];

		memcpy(prefix, info->prefix, sizeof(info->prefix));
		prefix[sizeof(info->prefix)] = '\0';
		uxt_buf_puts(b, " --log-prefix");
		uxt_save_string(b, prefix);
	}
	if (info->level != LOG_DEFAULT_LEVEL)
		uxt_buf_printf(b, " --log-level %d", info->level);
	if (info->logflags & UXT_LOG_TCPSEQ)
		uxt_buf_puts(b, " --log-tcp-sequence");
	if (info->logflags & UXT_LOG_TCPOPT)
		uxt_buf_puts(b, " --log-tcp-options");
	if (info->logflags & UXT_LOG_IPOPT)
		uxt_buf_puts(b, " --log-ip-options");
	if (info->logflags & UXT_LOG_UID)
		uxt_buf_puts(b, " --log-uid");
	if (info->logflags & UXT_LOG_MACDECODE)
		uxt_buf_puts(b, " --log-macdecode");
}

static int log_check(const struct uxt_check_call *call)
{
	const struct uxt_log_info *info = call->data;

	if (info->level >= 8)
		return -EINVAL;
	if (info->prefix[sizeof(info->prefix) - 1] != '\0')
		return -EINVAL;
	return 0;
}

static unsigned int log_target(struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_log_info *info = par->info;
	char prefix[sizeof(info->prefix) + 1];
	struct uxt_buf line;

	/* checkentry guarantees the terminator; copying keeps a damaged
	 * record from being read past its end all the same */
	memcpy(prefix, info->prefix, sizeof(info->prefix));
	prefix[sizeof(info->prefix)] = '\0';
	uxt_buf_init(&line, -1);
	uxt_log_format(&line, pkt, par->hook, par->in, par->out, prefix,
		       info->logflags);
	uxt_ns_log(par->ns, info->level, uxt_buf_str(&line));
	uxt_buf_free(&line);
	return UXT_XT_CONTINUE;
}

const struct uxt_ext uxt_ext_LOG = {
	.name = "LOG",
	.kind = UXT_TARGET,
	.x6 = true,
	.size = sizeof(struct uxt_log_info),
	.usersize = UXT_ALIGN(sizeof(struct uxt_log_info)),
	.opts = log_opts,
	.help = log_help,
	.init = log_init,
	.parse = log_parse,
	.print = log_print,
	.save = log_save,
	.check = log_check,
	.target = log_target,
};
