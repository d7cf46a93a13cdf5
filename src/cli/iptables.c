/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * iptables: the command line (do_parse and do_command4 of iptables 1.8.9).
 *
 * Parsing follows iptables step by step because its output on bad input is
 * part of the interface: getopt_long over a long-option table that grows as
 * -m, -j and -p load extensions (newest extension first, base options
 * always first), the implicit loading of the protocol's match when an
 * unknown option follows -p, "!" as a separate word, the checks after the
 * loop in the same order, and the libiptc error texts.
 *
 * The command then runs against the namespace's state: lock (as the xtables
 * lock), load, change the table in memory, verify it as the kernel would,
 * commit.  iptables-restore calls the same code with its own table handle.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ext.h"
#include "format.h"
#include "getopt.h"
#include "parse.h"

enum {
	CMD_NONE = 0,
	CMD_INSERT = 1 << 0,
	CMD_DELETE = 1 << 1,
	CMD_DELETE_NUM = 1 << 2,
	CMD_REPLACE = 1 << 3,
	CMD_APPEND = 1 << 4,
	CMD_LIST = 1 << 5,
	CMD_FLUSH = 1 << 6,
	CMD_ZERO = 1 << 7,
	CMD_NEW_CHAIN = 1 << 8,
	CMD_DELETE_CHAIN = 1 << 9,
	CMD_SET_POLICY = 1 << 10,
	CMD_RENAME_CHAIN = 1 << 11,
	CMD_LIST_RULES = 1 << 12,
	CMD_ZERO_NUM = 1 << 13,
	CMD_CHECK = 1 << 14,
};
#define NUMBER_OF_CMD 15

enum {
	OPT_NUMERIC = 1 << 0,
	OPT_SOURCE = 1 << 1,
	OPT_DESTINATION = 1 << 2,
	OPT_PROTOCOL = 1 << 3,
	OPT_JUMP = 1 << 4,
	OPT_VERBOSE = 1 << 5,
	OPT_EXPANDED = 1 << 6,
	OPT_VIANAMEIN = 1 << 7,
	OPT_VIANAMEOUT = 1 << 8,
	OPT_LINENUMBERS = 1 << 9,
	OPT_COUNTERS = 1 << 10,
	OPT_FRAGMENT = 1 << 11,
};
#define NUMBER_OF_OPT 12

static const char optflags[NUMBER_OF_OPT] = {'n', 's', 'd', 'p', 'j', 'v',
					     'x', 'i', 'o', '0', 'c', 'f'};

/* commands_v_options of xshared.c: x illegal, ' ' optional */
static const char commands_v_options[NUMBER_OF_CMD][NUMBER_OF_OPT] = {
	/*            -n  -s  -d  -p  -j  -v  -x  -i  -o --line -c -f */
	/*INSERT*/ {'x', ' ', ' ', ' ', ' ', ' ', 'x', ' ', ' ', 'x', ' ', ' '},
	/*DELETE*/ {'x', ' ', ' ', ' ', ' ', ' ', 'x', ' ', ' ', 'x', 'x', ' '},
	/*DELETE_NUM*/ {'x', 'x', 'x', 'x', 'x', ' ', 'x', 'x', 'x', 'x', 'x', 'x'},
	/*REPLACE*/ {'x', ' ', ' ', ' ', ' ', ' ', 'x', ' ', ' ', 'x', ' ', ' '},
	/*APPEND*/ {'x', ' ', ' ', ' ', ' ', ' ', 'x', ' ', ' ', 'x', ' ', ' '},
	/*LIST*/ {' ', 'x', 'x', 'x', 'x', ' ', ' ', 'x', 'x', ' ', 'x', 'x'},
	/*FLUSH*/ {'x', 'x', 'x', 'x', 'x', ' ', 'x', 'x', 'x', 'x', 'x', 'x'},
	/*ZERO*/ {'x', 'x', 'x', 'x', 'x', ' ', 'x', 'x', 'x', 'x', 'x', 'x'},
	/*NEW_CHAIN*/ {'x', 'x', 'x', 'x', 'x', ' ', 'x', 'x', 'x', 'x', 'x', 'x'},
	/*DEL_CHAIN*/ {'x', 'x', 'x', 'x', 'x', ' ', 'x', 'x', 'x', 'x', 'x', 'x'},
	/*SET_POLICY*/ {'x', 'x', 'x', 'x', 'x', ' ', 'x', 'x', 'x', 'x', ' ', 'x'},
	/*RENAME*/ {'x', 'x', 'x', 'x', 'x', ' ', 'x', 'x', 'x', 'x', 'x', 'x'},
	/*LIST_RULES*/ {'x', 'x', 'x', 'x', 'x', ' ', 'x', 'x', 'x', 'x', 'x', 'x'},
	/*ZERO_NUM*/ {'x', 'x', 'x', 'x', 'x', ' ', 'x', 'x', 'x', 'x', 'x', 'x'},
	/*CHECK*/ {'x', ' ', ' ', ' ', ' ', ' ', 'x', ' ', ' ', 'x', 'x', ' '},
};

static const int inverse_for_options[NUMBER_OF_OPT] = {
	0, UXT_INV_SRCIP, UXT_INV_DSTIP, UXT_INV_PROTO, 0, 0,
	0, UXT_INV_VIA_IN, UXT_INV_VIA_OUT, 0, 0, UXT_INV_FRAG,
};

static const struct uxt_option base_opts[] = {
	{"append", 1, 'A'},
	{"delete", 1, 'D'},
	{"check", 1, 'C'},
	{"insert", 1, 'I'},
	{"replace", 1, 'R'},
	{"list", 2, 'L'},
	{"list-rules", 2, 'S'},
	{"flush", 2, 'F'},
	{"zero", 2, 'Z'},
	{"new-chain", 1, 'N'},
	{"delete-chain", 2, 'X'},
	{"rename-chain", 1, 'E'},
	{"policy", 1, 'P'},
	{"source", 1, 's'},
	{"destination", 1, 'd'},
	{"src", 1, 's'},
	{"dst", 1, 'd'},
	{"protocol", 1, 'p'},
	{"in-interface", 1, 'i'},
	{"jump", 1, 'j'},
	{"table", 1, 't'},
	{"match", 1, 'm'},
	{"numeric", 0, 'n'},
	{"out-interface", 1, 'o'},
	{"verbose", 0, 'v'},
	{"wait", 2, 'w'},
	{"wait-interval", 2, 'W'},
	{"exact", 0, 'x'},
	{"fragments", 0, 'f'},
	{"version", 0, 'V'},
	{"help", 2, 'h'},
	{"line-numbers", 0, '0'},
	{"modprobe", 1, 'M'},
	{"set-counters", 1, 'c'},
	{"goto", 1, 'g'},
	{"ipv4", 0, '4'},
	{"ipv6", 0, '6'},
	{NULL, 0, 0},
};
#define N_BASE_OPTS (sizeof(base_opts) / sizeof(base_opts[0]) - 1)

#define OPTSTRING "-:A:C:D:E:F::I:L::M:N:P:VX::Z::c:d:i:j:o:p:s:t:R:S::W::46bfg:h::m:nvw::x"
#define OPTION_OFFSET_SCALE 256

/* A loaded match or the target of the rule being parsed. */
struct inst {
	const struct uxt_ext *ext;	/* as named on the command line */
	const struct uxt_ext *stored;	/* what the rule stores */
	unsigned char *data;
	void *udata;
	unsigned int xflags;
	unsigned int offset;		/* of its options in the merged table */
	bool completed;
};

/* An extension whose options are in the merged table, at offset. */
struct merged {
	const struct uxt_ext *ext;
	unsigned int offset;
};

/* Zeroed memory for the extension data of one command. */
struct cmd_mem_block {
	struct cmd_mem_block *next;
	size_t used, cap;
	_Alignas(8) unsigned char mem[];
};

struct cmd {
	/*
	 * Buffers kept from one command to the next: iptables-restore runs
	 * one command per line and would otherwise spend its time in malloc.
	 */
	struct uxt_option *optbuf[2];
	int optcap;
	struct inst *matches;
	int cap_matches;
	struct merged *merged;
	int cap_merged;
	struct cmd_mem_block *mem;
	struct uxt_getopt g;	/* reinitialised per command, keeps its cache */

	/* everything from here on is reset for each command (cmd_reset) */
	struct cli_io *io;
	struct uxt_err *e;
	int argc;
	char **argv;
	bool restore;

	/* xt_cmd_parse */
	unsigned int command;
	const char *chain;
	const char *table;
	unsigned int rulenum;
	const char *policy;
	const char *newname;
	int verbose;

	/* iptables_command_state */
	unsigned int options;
	struct uxt_ip ip;
	const char *jumpto;
	const char *protocol;
	bool proto_used;
	struct inst *target;
	int nmatches;

	/* xtables_args */
	const char *shostnetworkmask, *dhostnetworkmask;
	uint32_t *saddrs, *smasks, *daddrs, *dmasks;
	unsigned int nsaddrs, ndaddrs;
	/* the usual single address, kept here instead of allocated */
	uint32_t one_saddr, one_smask, one_daddr, one_dmask;
	uint64_t pcnt, bcnt;
	bool goto_set;
	int wait;
	bool wait_interval_set;

	/* getopt over base + extension options */
	struct uxt_option *opts;
	int nopts;
	unsigned int option_offset;
	int nmerged;
	struct inst target_inst;
};

static int perr(struct cmd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int perr(struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	c->e->status = UXT_PARAMETER_PROBLEM;
	c->e->flags = 0;
	vsnprintf(c->e->msg, sizeof(c->e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		fputs("uxtables: out of memory\n", stderr);
		exit(4);
	}
	return p;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p) {
		fputs("uxtables: out of memory\n", stderr);
		exit(4);
	}
	return p;
}

/* Zeroed, 8-aligned memory that lasts until the next cmd_reset(). */
static void *cmd_alloc(struct cmd *c, size_t size)
{
	struct cmd_mem_block *b = c->mem;
	void *p;

	size = UXT_ALIGN(size ? size : 1);
	if (!b || b->cap - b->used < size) {
		size_t cap = size > 16384 ? size : 16384;

		b = xcalloc(1, sizeof(*b) + cap);
		b->cap = cap;
		b->next = c->mem;
		c->mem = b;
	}
	p = b->mem + b->used;
	b->used += size;
	return p;
}

static void cmd_reset(struct cmd *c)
{
	struct cmd_mem_block *b = c->mem;

	/* keep one block, cleared for reuse */
	while (b && b->next) {
		struct cmd_mem_block *n = b->next;

		free(b);
		b = n;
	}
	if (b) {
		memset(b->mem, 0, b->used);
		b->used = 0;
		b->next = NULL;
	}
	c->mem = b;
	if (c->saddrs != &c->one_saddr) {
		free(c->saddrs);
		free(c->smasks);
	}
	if (c->daddrs != &c->one_daddr) {
		free(c->daddrs);
		free(c->dmasks);
	}
	memset(&c->io, 0, sizeof(*c) - offsetof(struct cmd, io));
}

static void cmd_destroy(struct cmd *c)
{
	cmd_reset(c);
	free(c->mem);
	free(c->optbuf[0]);
	free(c->optbuf[1]);
	free(c->matches);
	free(c->merged);
	free(c);
}

/* Adds ext's options in front of those of earlier extensions
 * (xtables_options_xfrm / xtables_merge_options). */
static void merge_options(struct cmd *c, const struct uxt_ext *ext,
			  unsigned int *offset)
{
	int n_new = 0, n_old = c->nopts - (int)N_BASE_OPTS;
	struct uxt_option *merged;

	for (const struct uxt_opt *o = ext->opts; o && o->name; o++)
		n_new++;
	c->option_offset += OPTION_OFFSET_SCALE;
	*offset = c->option_offset;
	if (n_new == 0)
		goto record;	/* the table stays as it is (-j ACCEPT) */
	if (c->nopts + n_new + 1 > c->optcap) {
		int cur = c->opts == c->optbuf[0] ? 0 : c->opts == c->optbuf[1] ? 1 : -1;

		int old = c->optcap;

		c->optcap = (c->nopts + n_new + 1) * 2;
		c->optbuf[0] = xrealloc(c->optbuf[0], (size_t)c->optcap * sizeof(*merged));
		c->optbuf[1] = xrealloc(c->optbuf[1], (size_t)c->optcap * sizeof(*merged));
		if (old == 0) {
			c->optbuf[0][0].name = NULL;
			c->optbuf[1][0].name = NULL;
		}
		if (cur >= 0)
			c->opts = c->optbuf[cur];
	}
	/* build in the buffer that does not hold the current table; the base
	 * options at its start never change once copied */
	merged = c->opts == c->optbuf[0] ? c->optbuf[1] : c->optbuf[0];
	if (merged[0].name != base_opts[0].name)
		memcpy(merged, base_opts, N_BASE_OPTS * sizeof(*merged));
	for (int i = 0; i < n_new; i++) {
		merged[N_BASE_OPTS + (size_t)i].name = ext->opts[i].name;
		merged[N_BASE_OPTS + (size_t)i].has_arg = ext->opts[i].has_arg;
		merged[N_BASE_OPTS + (size_t)i].val =
			(int)(ext->opts[i].id + *offset);
	}
	if (n_old > 0)
		memcpy(merged + N_BASE_OPTS + n_new, c->opts + N_BASE_OPTS,
		       (size_t)n_old * sizeof(*merged));
	memset(&merged[c->nopts + n_new], 0, sizeof(*merged));
	c->opts = merged;
	c->nopts += n_new;
record:
	if (c->nmerged == c->cap_merged) {
		c->cap_merged = c->cap_merged ? c->cap_merged * 2 : 8;
		c->merged = xrealloc(c->merged, (size_t)c->cap_merged * sizeof(*c->merged));
	}
	c->merged[c->nmerged].ext = ext;
	c->merged[c->nmerged++].offset = *offset;
}

static const struct uxt_ext *stored_ext(const struct uxt_ext *ext)
{
	return ext->stored_as ? ext->stored_as : ext;
}

static void inst_init(struct cmd *c, struct inst *in, const struct uxt_ext *ext)
{
	in->ext = ext;
	in->stored = stored_ext(ext);
	in->data = cmd_alloc(c, in->stored->size);
	in->udata = ext->udata_size ? cmd_alloc(c, ext->udata_size) : NULL;
	in->xflags = 0;
	in->completed = false;
	if (ext->init)
		ext->init(in->data);
}

/*
 * xtables_find_match with a rule's match list: a second instance of a match
 * marks earlier ones completed and shares their option range.  Returns the
 * new instance, or NULL with an error for too many matches.
 */
static struct inst *add_match(struct cmd *c, const struct uxt_ext *ext,
			      bool *first)
{
	struct inst *in;

	*first = true;
	for (int i = 0; i < c->nmatches; i++)
		if (c->matches[i].ext == ext) {
			c->matches[i].completed = true;
			*first = false;
		}
	if (c->nmatches == c->cap_matches) {
		c->cap_matches = c->cap_matches ? c->cap_matches * 2 : 8;
		c->matches = xrealloc(c->matches,
				      (size_t)c->cap_matches * sizeof(*c->matches));
	}
	in = &c->matches[c->nmatches++];
	inst_init(c, in, ext);
	return in;
}

static const struct uxt_ext *find_match_ext(const char *name)
{
	if (strcmp(name, "icmpv6") == 0 || strcmp(name, "ipv6-icmp") == 0)
		name = "icmp6";
	return uxt_ext_find(name, UXT_MATCH);
}

/* proto_to_name() of xshared.c, used to map "-p 6" to the tcp match */
static const struct uxt_ext *find_proto(const char *pname, bool nolookup)
{
	unsigned int proto;

	if (uxt_strtoui(pname, NULL, &proto, 0, UINT8_MAX)) {
		const char *protoname = uxt_proto_to_name((uint16_t)proto, nolookup);

		return protoname ? find_match_ext(protoname) : NULL;
	}
	return find_match_ext(pname);
}

static bool ext_loaded(struct cmd *c, const struct uxt_ext *ext)
{
	for (int i = 0; i < c->nmatches; i++)
		if (c->matches[i].ext == ext)
			return true;
	return false;
}

/* should_load_proto() */
static const struct uxt_ext *load_proto(struct cmd *c)
{
	const struct uxt_ext *ext;

	if (c->protocol == NULL)
		return NULL;
	ext = find_proto(c->protocol, c->options & OPT_NUMERIC);
	if (!ext)
		return NULL;
	if (ext_loaded(c, ext) && c->proto_used)
		return NULL;
	return ext;
}

/* Where an extension option's text goes: the call parse() is given. */
struct opt_place {
	const char *arg;
	struct uxt_ip *ip;
	int argc;
	char **argv;
	int *optind;
	struct uxt_err *err;
	struct uxt_buf *warn;
};

/* Option id of in's extension with its argument (xtables_option_parse):
 * 0, or -1 with at->err set. */
static int ext_parse_opt(struct inst *in, int id, bool invert,
			 const struct opt_place *at)
{
	const struct uxt_opt *o;
	struct uxt_opt_call call;

	for (o = in->ext->opts; o->name; o++)
		if (o->id == id)
			break;
	if (!o->name) {
		at->err->status = UXT_OTHER_PROBLEM;
		at->err->flags = 0;
		snprintf(at->err->msg, sizeof(at->err->msg),
			 "Extension does not know id %u", id);
		return -1;
	}
	memset(&call, 0, sizeof(call));
	call.ext = in->ext;
	call.opt = o;
	call.arg = at->arg;
	call.invert = invert;
	call.data = in->data;
	call.xflags = &in->xflags;
	call.udata = in->udata;
	call.ip = at->ip;
	call.argc = at->argc;
	call.argv = at->argv;
	call.optind = at->optind;
	call.err = at->err;
	call.warn = at->warn;
	if (in->ext->parse)
		return in->ext->parse(&call);
	if (in->ext->x6)
		return uxt_opt_parse(&call);
	return 0;
}

static int call_parse(struct cmd *c, struct inst *in, int id, bool invert)
{
	struct opt_place at = {
		.arg = c->g.optarg, .ip = &c->ip, .argc = c->argc,
		.argv = c->argv, .optind = &c->g.optind, .err = c->e,
		.warn = &c->io->err,
	};

	return ext_parse_opt(in, id, invert, &at);
}

/* command_default(): returns 1 to rescan the same argument, 0, or -1 */
static int command_default(struct cmd *c, int opt, bool invert)
{
	const struct uxt_ext *ext;

	if (c->target && opt >= (int)c->target->offset &&
	    opt < (int)(c->target->offset + OPTION_OFFSET_SCALE) &&
	    (c->target->ext->parse || c->target->ext->x6))
		return call_parse(c, c->target, opt - (int)c->target->offset,
				  invert);
	for (int i = 0; i < c->nmatches; i++) {
		struct inst *m = &c->matches[i];

		if (m->completed || (!m->ext->parse && !m->ext->x6))
			continue;
		if (opt < (int)m->offset ||
		    opt >= (int)(m->offset + OPTION_OFFSET_SCALE))
			continue;
		return call_parse(c, m, opt - (int)m->offset, invert);
	}
	ext = load_proto(c);
	if (ext) {
		bool first;
		struct inst *in;

		c->proto_used = true;
		in = add_match(c, ext, &first);
		if (!in)
			return -1;
		merge_options(c, ext, &in->offset);
		c->g.optind--;
		return 1;
	}
	if (opt == ':')
		return perr(c, "option \"%s\" requires an argument",
			    c->argv[c->g.optind - 1]);
	if (opt == '?')
		return perr(c, "unknown option \"%s\"", c->argv[c->g.optind - 1]);
	return perr(c, "Unknown arg \"%s\"", c->g.optarg);
}

static bool has_arg(struct cmd *c)
{
	return c->g.optind < c->argc && c->argv[c->g.optind][0] != '-' &&
	       c->argv[c->g.optind][0] != '!';
}

static char cmd2char(unsigned int option)
{
	static const char cmdflags[] = {'I', 'D', 'D', 'R', 'A', 'L', 'F', 'Z',
					'N', 'X', 'P', 'E', 'S', 'Z', 'C'};
	int i;

	for (i = 0; option > 1; option >>= 1, i++)
		;
	return cmdflags[i];
}

static int add_command(struct cmd *c, unsigned int newcmd,
		       unsigned int othercmds, bool invert)
{
	if (invert)
		return perr(c, "unexpected '!' flag");
	if (c->command & ~othercmds)
		return perr(c, "Cannot use -%c with -%c", cmd2char(newcmd),
			    cmd2char(c->command & ~othercmds));
	c->command |= newcmd;
	return 0;
}

static int parse_rulenumber(struct cmd *c, const char *rule, unsigned int *out)
{
	unsigned int rulenum;

	if (!uxt_strtoui(rule, NULL, &rulenum, 1, INT_MAX))
		return perr(c, "Invalid rule number `%s'", rule);
	*out = rulenum;
	return 0;
}

static char opt2char(unsigned int option)
{
	const char *ptr;

	for (ptr = optflags; option > 1; option >>= 1, ptr++)
		;
	return *ptr;
}

static int set_option(struct cmd *c, unsigned int option, bool invert)
{
	unsigned int i;

	if (c->options & option)
		return perr(c, "multiple -%c flags not allowed", opt2char(option));
	c->options |= option;
	if (invert) {
		for (i = 0; 1u << i != option; i++)
			;
		if (!inverse_for_options[i])
			return perr(c, "cannot have ! before -%c", opt2char(option));
		c->ip.invflags |= (uint8_t)inverse_for_options[i];
	}
	return 0;
}

/*
 * generic_opt_check(): an option given is illegal if none of the commands
 * given allows it (no entry of the table is "compulsory" for IPv4).
 */
static int generic_opt_check(struct cmd *c)
{
	unsigned int allowed = 0, illegal;

	for (int j = 0; j < NUMBER_OF_CMD; j++) {
		if (!(c->command & (1u << j)))
			continue;
		for (int i = 0; i < NUMBER_OF_OPT; i++)
			if (commands_v_options[j][i] != 'x')
				allowed |= 1u << i;
	}
	illegal = c->options & ~allowed & ((1u << NUMBER_OF_OPT) - 1);
	if (illegal)
		return perr(c, "Illegal option `-%c' with this command",
			    optflags[__builtin_ctz(illegal)]);
	return 0;
}

static bool is_target_ext(const char *name, const char *const *announced)
{
	if (announced)
		for (const char *const *a = announced; *a; a++)
			if (strcmp(*a, name) == 0)
				return false;
	return true;
}

static int parse_policy_verdict(const char *name);

static const struct uxt_ext *find_target_ext(const char *name,
					     const char *const *announced)
{
	if (name[0] == '\0' || parse_policy_verdict(name) != UXT_V_CONTINUE)
		return &uxt_ext_standard;
	if (!is_target_ext(name, announced))
		return NULL;
	return uxt_ext_find(name, UXT_TARGET);
}

static int parse_target_name(struct cmd *c, const char *name)
{
	size_t len = strlen(name);

	if (len < 1)
		return perr(c, "Invalid target name (too short)");
	if (len >= UXT_NAME_MAX)
		return perr(c, "Invalid target name `%s' (%u chars max)", name,
			    UXT_NAME_MAX - 1);
	for (const char *p = name; *p; p++)
		if (isspace((unsigned char)*p))
			return perr(c, "Invalid target name `%s'", name);
	c->jumpto = name;
	return 0;
}

static int command_jump(struct cmd *c, const char *name,
			const char *const *announced)
{
	const struct uxt_ext *ext;

	if (parse_target_name(c, name))
		return -1;
	ext = find_target_ext(c->jumpto, announced);
	if (!ext)
		return 0;
	c->target = &c->target_inst;
	inst_init(c, c->target, ext);
	merge_options(c, ext, &c->target->offset);
	return 0;
}

static int command_match(struct cmd *c, bool invert)
{
	const struct uxt_ext *ext;
	struct inst *in;
	bool first;
	const char *name = c->g.optarg;

	if (invert)
		return perr(c, "unexpected ! flag before --match");
	if (strlen(name) >= UXT_NAME_MAX)
		return perr(c, "Invalid match name \"%s\" (%u chars max)", name,
			    UXT_NAME_MAX - 1);
	ext = find_match_ext(name);
	if (!ext)
		return perr(c, "Couldn't load match `%s':No such file or directory\n",
			    strcmp(name, "icmpv6") == 0 || strcmp(name, "ipv6-icmp") == 0
				    ? "icmp6" : name);
	in = add_match(c, ext, &first);
	if (!in)
		return -1;
	if (first) {
		merge_options(c, ext, &in->offset);
	} else {
		/* a clone shares the option range of the first instance */
		for (int i = 0; i < c->nmerged; i++)
			if (c->merged[i].ext == ext)
				in->offset = c->merged[i].offset;
	}
	return 0;
}

static int assert_valid_chain_name(struct cmd *c, const char *chainname,
				   const char *const *announced)
{
	if (strlen(chainname) >= UXT_NAME_MAX)
		return perr(c, "chain name `%s' too long (must be under %u chars)",
			    chainname, UXT_NAME_MAX);
	if (*chainname == '-' || *chainname == '!')
		return perr(c, "chain name not allowed to start with `%c'",
			    *chainname);
	if (find_target_ext(chainname, announced))
		return perr(c, "chain name may not clash with target name");
	for (const char *p = chainname; *p; p++)
		if (isspace((unsigned char)*p))
			return perr(c, "Invalid chain name `%s'", chainname);
	return 0;
}

static int parse_wait_time(struct cmd *c, int *wait)
{
	*wait = -1;
	if (c->g.optarg) {
		if (sscanf(c->g.optarg, "%i", wait) != 1)
			return perr(c, "wait seconds not numeric");
	} else if (has_arg(c)) {
		if (sscanf(c->argv[c->g.optind++], "%i", wait) != 1)
			return perr(c, "wait seconds not numeric");
	}
	return 0;
}

static int parse_wait_interval(struct cmd *c)
{
	const char *arg;
	unsigned int usec;

	if (c->g.optarg)
		arg = c->g.optarg;
	else if (has_arg(c))
		arg = c->argv[c->g.optind++];
	else
		return perr(c, "wait interval value required");
	if (sscanf(arg, "%u", &usec) == 1) {
		if (usec > 999999)
			return perr(c, "too long usec wait %u > 999999 usec", usec);
		uxt_buf_puts(&c->io->err,
			     "Ignoring deprecated --wait-interval option.\n");
		return 0;
	}
	return perr(c, "wait interval not numeric");
}

static int parse_counters_opt(struct cmd *c)
{
	const char *pcnt = c->g.optarg, *bcnt;
	unsigned long long v;

	/* iptables looks for "p,b" from the second character on; for an
	 * empty argument that would read past its end */
	bcnt = pcnt[0] ? strchr(pcnt + 1, ',') : NULL;
	if (bcnt)
		bcnt++;
	if (!bcnt && has_arg(c))
		bcnt = c->argv[c->g.optind++];
	if (!bcnt)
		return perr(c, "-%c requires packet and byte counter",
			    opt2char(OPT_COUNTERS));
	if (sscanf(pcnt, "%llu", &v) != 1)
		return perr(c, "-%c packet counter not numeric",
			    opt2char(OPT_COUNTERS));
	c->pcnt = v;
	if (sscanf(bcnt, "%llu", &v) != 1)
		return perr(c, "-%c byte counter not numeric",
			    opt2char(OPT_COUNTERS));
	c->bcnt = v;
	return 0;
}

/* Parsing ends the program (-h, -V) or, in iptables-restore, skips the
 * line (-6) instead of running a command. */
enum { PARSE_OK = 0, PARSE_ERR = -1, PARSE_EXIT = 1, PARSE_SKIP = 2 };

/* The end of one instance's options: its final check. */
static int ext_fcheck(struct inst *in, const struct uxt_ip *ip,
		      struct uxt_err *err, struct uxt_buf *warn)
{
	struct uxt_fcheck_call call = {
		.ext = in->ext,
		.data = in->data,
		.udata = in->udata,
		.xflags = in->xflags,
		.ip = ip,
		.err = err,
		.warn = warn,
	};

	if (in->ext->fcheck && in->ext->fcheck(&call))
		return -1;
	if (in->ext->x6 && in->ext->opts &&
	    uxt_opt_fcheck(in->ext->name, in->xflags, in->ext->opts, err))
		return -1;
	return 0;
}

static int fcheck(struct cmd *c, struct inst *in)
{
	return ext_fcheck(in, &c->ip, c->e, &c->io->err);
}

static void print_help(struct cmd *c)
{
	struct uxt_buf *out = &c->io->out;

	cli_print_help(out, c->io->prog);
	/* print_extension_helps(): the target, then each match */
	if (c->target) {
		uxt_buf_putc(out, '\n');
		if (c->target->ext->help)
			c->target->ext->help(out);
		else
			uxt_buf_printf(out, "%s does not take any options\n",
				       c->target->ext->name);
	}
	for (int i = 0; i < c->nmatches; i++) {
		uxt_buf_putc(out, '\n');
		if (c->matches[i].ext->help)
			c->matches[i].ext->help(out);
		else
			uxt_buf_printf(out, "%s does not take any options\n",
				       c->matches[i].ext->name);
	}
}

static int do_parse(struct cmd *c, const char *const *announced)
{
	bool invert = false, table_set = false;
	int opt;

	uxt_getopt_restart(&c->g, NULL, 0);
	c->opts = (struct uxt_option *)base_opts;
	c->nopts = (int)N_BASE_OPTS;
	while ((opt = uxt_getopt_long(&c->g, c->argc, c->argv, OPTSTRING,
				      c->opts, NULL)) != -1) {
		char *optarg = c->g.optarg;

		switch (opt) {
		case 'A':
			if (add_command(c, CMD_APPEND, CMD_NONE, invert))
				return PARSE_ERR;
			c->chain = optarg;
			break;
		case 'C':
			if (add_command(c, CMD_CHECK, CMD_NONE, invert))
				return PARSE_ERR;
			c->chain = optarg;
			break;
		case 'D':
			if (add_command(c, CMD_DELETE, CMD_NONE, invert))
				return PARSE_ERR;
			c->chain = optarg;
			if (has_arg(c)) {
				if (parse_rulenumber(c, c->argv[c->g.optind++],
						     &c->rulenum))
					return PARSE_ERR;
				c->command = CMD_DELETE_NUM;
			}
			break;
		case 'R':
			if (add_command(c, CMD_REPLACE, CMD_NONE, invert))
				return PARSE_ERR;
			c->chain = optarg;
			if (!has_arg(c))
				return perr(c, "-%c requires a rule number",
					    cmd2char(CMD_REPLACE));
			if (parse_rulenumber(c, c->argv[c->g.optind++], &c->rulenum))
				return PARSE_ERR;
			break;
		case 'I':
			if (add_command(c, CMD_INSERT, CMD_NONE, invert))
				return PARSE_ERR;
			c->chain = optarg;
			if (has_arg(c)) {
				if (parse_rulenumber(c, c->argv[c->g.optind++],
						     &c->rulenum))
					return PARSE_ERR;
			} else {
				c->rulenum = 1;
			}
			break;
		case 'L':
		case 'S':
			if (add_command(c, opt == 'L' ? CMD_LIST : CMD_LIST_RULES,
					CMD_ZERO | CMD_ZERO_NUM, invert))
				return PARSE_ERR;
			if (optarg)
				c->chain = optarg;
			else if (has_arg(c))
				c->chain = c->argv[c->g.optind++];
			if (has_arg(c) &&
			    parse_rulenumber(c, c->argv[c->g.optind++], &c->rulenum))
				return PARSE_ERR;
			break;
		case 'F':
			if (add_command(c, CMD_FLUSH, CMD_NONE, invert))
				return PARSE_ERR;
			if (optarg)
				c->chain = optarg;
			else if (has_arg(c))
				c->chain = c->argv[c->g.optind++];
			break;
		case 'Z':
			if (add_command(c, CMD_ZERO, CMD_LIST | CMD_LIST_RULES, invert))
				return PARSE_ERR;
			if (optarg)
				c->chain = optarg;
			else if (has_arg(c))
				c->chain = c->argv[c->g.optind++];
			if (has_arg(c)) {
				if (parse_rulenumber(c, c->argv[c->g.optind++],
						     &c->rulenum))
					return PARSE_ERR;
				c->command = CMD_ZERO_NUM;
			}
			break;
		case 'N':
			if (assert_valid_chain_name(c, optarg, announced) ||
			    add_command(c, CMD_NEW_CHAIN, CMD_NONE, invert))
				return PARSE_ERR;
			c->chain = optarg;
			break;
		case 'X':
			if (add_command(c, CMD_DELETE_CHAIN, CMD_NONE, invert))
				return PARSE_ERR;
			if (optarg)
				c->chain = optarg;
			else if (has_arg(c))
				c->chain = c->argv[c->g.optind++];
			break;
		case 'E':
			if (add_command(c, CMD_RENAME_CHAIN, CMD_NONE, invert))
				return PARSE_ERR;
			c->chain = optarg;
			if (!has_arg(c))
				return perr(c, "-%c requires old-chain-name and new-chain-name",
					    cmd2char(CMD_RENAME_CHAIN));
			c->newname = c->argv[c->g.optind++];
			break;
		case 'P':
			if (add_command(c, CMD_SET_POLICY, CMD_NONE, invert))
				return PARSE_ERR;
			c->chain = optarg;
			if (!has_arg(c))
				return perr(c, "-%c requires a chain and a policy",
					    cmd2char(CMD_SET_POLICY));
			c->policy = c->argv[c->g.optind++];
			break;
		case 'h':
			/* iptables -p icmp -h shows the protocol's help */
			if (c->nmatches == 0 && c->protocol) {
				const struct uxt_ext *ext = find_match_ext(c->protocol);
				bool first;

				if (ext && !add_match(c, ext, &first))
					return PARSE_ERR;
			}
			print_help(c);
			return PARSE_EXIT;
		case 'p': {
			uint16_t proto;

			if (set_option(c, OPT_PROTOCOL, invert))
				return PARSE_ERR;
			for (char *p = c->argv[c->g.optind - 1]; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			c->protocol = c->argv[c->g.optind - 1];
			if (uxt_parse_protocol(c->protocol, &proto, c->e))
				return PARSE_ERR;
			c->ip.proto = proto;
			if (proto == 0 && (c->ip.invflags & UXT_INV_PROTO))
				return perr(c, "rule would never match protocol");
			break;
		}
		case 's':
			if (set_option(c, OPT_SOURCE, invert))
				return PARSE_ERR;
			c->shostnetworkmask = c->argv[c->g.optind - 1];
			break;
		case 'd':
			if (set_option(c, OPT_DESTINATION, invert))
				return PARSE_ERR;
			c->dhostnetworkmask = c->argv[c->g.optind - 1];
			break;
		case 'g':
			if (set_option(c, OPT_JUMP, invert))
				return PARSE_ERR;
			c->goto_set = true;
			if (parse_target_name(c, optarg))
				return PARSE_ERR;
			break;
		case 'j':
			if (set_option(c, OPT_JUMP, invert) ||
			    command_jump(c, c->argv[c->g.optind - 1], announced))
				return PARSE_ERR;
			break;
		case 'i':
		case 'o':
			if (*optarg == '\0')
				return perr(c, "Empty interface is likely to be undesired");
			if (set_option(c, opt == 'i' ? OPT_VIANAMEIN : OPT_VIANAMEOUT,
				       invert))
				return PARSE_ERR;
			if (opt == 'i' ?
			    uxt_parse_interface(c->argv[c->g.optind - 1], c->ip.iniface,
						c->ip.iniface_mask, c->e, &c->io->err) :
			    uxt_parse_interface(c->argv[c->g.optind - 1], c->ip.outiface,
						c->ip.outiface_mask, c->e, &c->io->err))
				return PARSE_ERR;
			break;
		case 'f':
			if (set_option(c, OPT_FRAGMENT, invert))
				return PARSE_ERR;
			c->ip.flags |= UXT_F_FRAG;
			break;
		case 'v':
			if (!c->verbose && set_option(c, OPT_VERBOSE, invert))
				return PARSE_ERR;
			c->verbose++;
			break;
		case 'm':
			if (command_match(c, invert))
				return PARSE_ERR;
			break;
		case 'n':
			if (set_option(c, OPT_NUMERIC, invert))
				return PARSE_ERR;
			break;
		case 't':
			if (invert)
				return perr(c, "unexpected ! flag before --table");
			if (c->restore && table_set)
				return perr(c, "The -t option cannot be used in %s.\n",
					    c->io->prog);
			c->table = optarg;
			table_set = true;
			break;
		case 'x':
			if (set_option(c, OPT_EXPANDED, invert))
				return PARSE_ERR;
			break;
		case 'V':
			if (invert)
				uxt_buf_printf(&c->io->out, "Not %s ;-)\n",
					       UXT_IPTABLES_VERSION " (" UXT_BACKEND ")");
			else
				uxt_buf_printf(&c->io->out, "%s v%s\n", c->io->prog,
					       UXT_IPTABLES_VERSION " (" UXT_BACKEND ")");
			return PARSE_EXIT;
		case 'w':
			if (c->restore)
				return perr(c, "You cannot use `-w' from iptables-restore");
			if (parse_wait_time(c, &c->wait))
				return PARSE_ERR;
			break;
		case 'W':
			if (c->restore)
				return perr(c, "You cannot use `-W' from iptables-restore");
			if (parse_wait_interval(c))
				return PARSE_ERR;
			c->wait_interval_set = true;
			break;
		case '0':
			if (set_option(c, OPT_LINENUMBERS, invert))
				return PARSE_ERR;
			break;
		case 'M':
			break;
		case 'c':
			if (set_option(c, OPT_COUNTERS, invert) ||
			    parse_counters_opt(c))
				return PARSE_ERR;
			break;
		case '4':
			break;
		case '6':
			if (c->restore)
				return PARSE_SKIP;
			c->e->status = UXT_PARAMETER_PROBLEM;
			c->e->flags = UXT_ERR_BARE;
			c->e->msg[0] = '\0';
			return PARSE_ERR;
		case 1:
			if (optarg[0] == '!' && optarg[1] == '\0') {
				if (invert)
					return perr(c, "multiple consecutive ! not allowed");
				invert = true;
				optarg[0] = '\0';
				continue;
			}
			c->e->status = UXT_PARAMETER_PROBLEM;
			c->e->flags = UXT_ERR_BARE;
			snprintf(c->e->msg, sizeof(c->e->msg), "Bad argument `%s'",
				 optarg);
			return PARSE_ERR;
		default: {
			int r = command_default(c, opt, invert);

			if (r < 0)
				return PARSE_ERR;
			if (r == 1)
				continue;
			break;
		}
		}
		invert = false;
	}

	if (strcmp(c->table, "nat") == 0 &&
	    ((c->policy && strcmp(c->policy, "DROP") == 0) ||
	     (c->jumpto && strcmp(c->jumpto, "DROP") == 0)))
		return perr(c, "\nThe \"nat\" table is not intended for filtering, "
			       "the use of DROP is therefore inhibited.\n\n");
	if (!c->wait && c->wait_interval_set)
		return perr(c, "--wait-interval only makes sense with --wait\n");
	for (int i = 0; i < c->nmatches; i++)
		if (fcheck(c, &c->matches[i]))
			return PARSE_ERR;
	if (c->target && fcheck(c, c->target))
		return PARSE_ERR;
	if (c->g.optind < c->argc)
		return perr(c, "unknown arguments found on commandline");
	if (!c->command)
		return perr(c, "no command specified");
	if (invert)
		return perr(c, "nothing appropriate following !");

	/* ipv4_post_parse() */
	if (c->goto_set)
		c->ip.flags |= UXT_F_GOTO;
	if (c->command & (CMD_REPLACE | CMD_INSERT | CMD_DELETE | CMD_APPEND |
			  CMD_CHECK)) {
		if (!(c->options & OPT_DESTINATION))
			c->dhostnetworkmask = "0.0.0.0/0";
		if (!(c->options & OPT_SOURCE))
			c->shostnetworkmask = "0.0.0.0/0";
	}
	if (c->shostnetworkmask) {
		if (uxt_ipparse_simple(c->shostnetworkmask, &c->one_saddr,
				       &c->one_smask)) {
			c->saddrs = &c->one_saddr;
			c->smasks = &c->one_smask;
			c->nsaddrs = 1;
		} else if (uxt_ipparse_multiple(c->shostnetworkmask, &c->saddrs,
						&c->smasks, &c->nsaddrs, c->e)) {
			return PARSE_ERR;
		}
	}
	if (c->dhostnetworkmask) {
		if (uxt_ipparse_simple(c->dhostnetworkmask, &c->one_daddr,
				       &c->one_dmask)) {
			c->daddrs = &c->one_daddr;
			c->dmasks = &c->one_dmask;
			c->ndaddrs = 1;
		} else if (uxt_ipparse_multiple(c->dhostnetworkmask, &c->daddrs,
						&c->dmasks, &c->ndaddrs, c->e)) {
			return PARSE_ERR;
		}
	}
	if ((c->nsaddrs > 1 || c->ndaddrs > 1) &&
	    (c->ip.invflags & (UXT_INV_SRCIP | UXT_INV_DSTIP)))
		return perr(c, "! not allowed with multiple source or destination IP addresses");
	if (c->command == CMD_REPLACE && (c->nsaddrs != 1 || c->ndaddrs != 1))
		return perr(c, "Replacement rule does not specify a unique address");
	if (generic_opt_check(c))
		return PARSE_ERR;
	if (c->chain && strlen(c->chain) >= UXT_NAME_MAX)
		return perr(c, "chain name `%s' too long (must be under %u chars)",
			    c->chain, UXT_NAME_MAX);
	if (c->command & (CMD_APPEND | CMD_DELETE | CMD_DELETE_NUM | CMD_CHECK |
			  CMD_INSERT | CMD_REPLACE)) {
		if ((c->options & OPT_VIANAMEOUT) &&
		    (strcmp(c->chain, "PREROUTING") == 0 ||
		     strcmp(c->chain, "INPUT") == 0))
			return perr(c, "Can't use -%c with %s\n",
				    opt2char(OPT_VIANAMEOUT), c->chain);
		if ((c->options & OPT_VIANAMEIN) &&
		    (strcmp(c->chain, "POSTROUTING") == 0 ||
		     strcmp(c->chain, "OUTPUT") == 0))
			return perr(c, "Can't use -%c with %s\n",
				    opt2char(OPT_VIANAMEIN), c->chain);
	}
	return PARSE_OK;
}

/* Builds a rule from its parts (generate_entry). */
static struct uxt_rule *make_rule(struct uxt_ruleset *rs, const struct uxt_ip *ip,
				  uint64_t pcnt, uint64_t bcnt,
				  const struct inst *matches, int nmatches,
				  const struct uxt_ext *target,
				  const void *target_data)
{
	size_t size = sizeof(struct uxt_rule), off;
	struct uxt_rule *r;
	struct uxt_xrec *x;

	for (int i = 0; i < nmatches; i++)
		size += UXT_ALIGN(sizeof(struct uxt_xrec) + matches[i].stored->size);
	size += UXT_ALIGN(sizeof(struct uxt_xrec) + target->size);
	r = uxt_arena_alloc(&rs->arena, size);
	memset(r, 0, size);
	r->size = (uint32_t)size;
	r->nmatches = (uint16_t)nmatches;
	r->ip = *ip;
	r->counters.pcnt = pcnt;
	r->counters.bcnt = bcnt;
	off = sizeof(*r);
	for (int i = 0; i < nmatches; i++) {
		x = (struct uxt_xrec *)((char *)r + off);
		x->size = (uint16_t)UXT_ALIGN(sizeof(*x) + matches[i].stored->size);
		x->ext = (uint16_t)uxt_ext_id(matches[i].stored);
		memcpy(x->data, matches[i].data, matches[i].stored->size);
		off += x->size;
	}
	r->target_offset = (uint16_t)off;
	x = (struct uxt_xrec *)((char *)r + off);
	x->size = (uint16_t)UXT_ALIGN(sizeof(*x) + target->size);
	x->ext = (uint16_t)uxt_ext_id(target);
	memcpy(x->data, target_data, target->size);
	return r;
}

/* The rule of the parsed command, addresses aside. */
static struct uxt_rule *build_rule(struct cmd *c, struct uxt_ruleset *rs,
				   const struct uxt_ext *target,
				   const void *target_data)
{
	return make_rule(rs, &c->ip, c->pcnt, c->bcnt, c->matches, c->nmatches,
			 target, target_data);
}

static int parse_policy_verdict(const char *name)
{
	/* by the first letter: this runs for every rule restored */
	switch (name[0]) {
	case 'A':
		return strcmp(name, "ACCEPT") == 0 ? UXT_V_ACCEPT : UXT_V_CONTINUE;
	case 'D':
		return strcmp(name, "DROP") == 0 ? UXT_V_DROP : UXT_V_CONTINUE;
	case 'Q':
		return strcmp(name, "QUEUE") == 0 ? UXT_V_QUEUE : UXT_V_CONTINUE;
	case 'R':
		return strcmp(name, "RETURN") == 0 ? UXT_V_RETURN : UXT_V_CONTINUE;
	default:
		return UXT_V_CONTINUE;
	}
}

static void list_entries(struct cmd *c, const struct uxt_table *t, bool *found)
{
	unsigned int format = UXT_FMT_OPTIONS;
	struct uxt_buf *out = &c->io->out;

	if (!(c->options & OPT_VERBOSE))
		format |= UXT_FMT_NOCOUNTS;
	else
		format |= UXT_FMT_VIA;
	if (c->options & OPT_NUMERIC)
		format |= UXT_FMT_NUMERIC;
	if (!(c->options & OPT_EXPANDED))
		format |= UXT_FMT_KILOMEGAGIGA;
	if (c->options & OPT_LINENUMBERS)
		format |= UXT_FMT_LINENUMBERS;
	unsigned int *refcounts = NULL;

	*found = false;
	for (uint32_t i = 0; i < t->nchains; i++) {
		const struct uxt_chain *ch = t->chains[i];

		if (c->chain && strcmp(c->chain, ch->name) != 0)
			continue;
		if (*found)
			uxt_buf_putc(out, '\n');
		if (!c->rulenum) {
			int refs = -1;

			/* counted for all user chains in one walk, not one
			 * walk of the table per chain */
			if (!uxt_chain_builtin(ch) && !c->chain && !refcounts)
				refcounts = uxt_table_reference_counts(t);
			if (!uxt_chain_builtin(ch))
				refs = refcounts ? (int)refcounts[i] :
					(int)uxt_table_references(t, ch->name);

			uxt_fmt_header(out, format, ch->name,
				       uxt_chain_builtin(ch) ? uxt_verdict_name(ch->policy)
							     : NULL,
				       &ch->policy_counters, refs);
		}
		for (uint32_t j = 0; j < ch->nrules; j++)
			if (!c->rulenum || j + 1 == c->rulenum)
				uxt_fmt_rule(out, ch->rules[j], j + 1, format);
		*found = true;
	}
	free(refcounts);
}

static void list_rules(struct cmd *c, const struct uxt_table *t, bool *found)
{
	int counters = (c->options & OPT_VERBOSE) ? -1 : 0;
	struct uxt_buf *out = &c->io->out;

	*found = false;
	if (!c->rulenum)
		for (uint32_t i = 0; i < t->nchains; i++) {
			const struct uxt_chain *ch = t->chains[i];

			if (c->chain && strcmp(ch->name, c->chain) != 0)
				continue;
			if (uxt_chain_builtin(ch)) {
				uxt_buf_printf(out, "-P %s %s", ch->name,
					       uxt_verdict_name(ch->policy));
				if (counters)
					uxt_buf_printf(out, " -c %llu %llu",
						       (unsigned long long)ch->policy_counters.pcnt,
						       (unsigned long long)ch->policy_counters.bcnt);
				uxt_buf_putc(out, '\n');
			} else {
				uxt_buf_printf(out, "-N %s\n", ch->name);
			}
		}
	for (uint32_t i = 0; i < t->nchains; i++) {
		const struct uxt_chain *ch = t->chains[i];

		if (c->chain && strcmp(ch->name, c->chain) != 0)
			continue;
		for (uint32_t j = 0; j < ch->nrules; j++)
			if (!c->rulenum || j + 1 == c->rulenum)
				uxt_fmt_rule_save(out, ch->rules[j], ch->name, counters);
		*found = true;
	}
}

/* for_each_chain4(): every chain's name first, since fn may change the list */
typedef int (*chain_fn)(struct cmd *c, struct uxt_ruleset *rs,
			struct uxt_table *t, const char *chain, int *error);

static int for_each_chain(struct cmd *c, struct uxt_ruleset *rs,
			  struct uxt_table *t, bool builtinstoo, chain_fn fn,
			  int *error)
{
	char (*names)[UXT_CHAIN_NAMESZ];
	uint32_t n = t->nchains;
	int ret = 1;

	names = xcalloc(n, sizeof(*names));
	for (uint32_t i = 0; i < n; i++)
		memcpy(names[i], t->chains[i]->name, UXT_CHAIN_NAMESZ);
	for (uint32_t i = 0; i < n; i++) {
		const struct uxt_chain *ch = uxt_table_chain(t, names[i]);

		if (!builtinstoo && ch && uxt_chain_builtin(ch))
			continue;
		ret &= fn(c, rs, t, names[i], error);
	}
	free(names);
	return ret;
}

static int flush_one(struct cmd *c, struct uxt_ruleset *rs, struct uxt_table *t,
		     const char *chain, int *error)
{
	int r;

	(void)rs;
	if (c->options & OPT_VERBOSE)
		uxt_buf_printf(&c->io->out, "Flushing chain `%s'\n", chain);
	r = uxt_table_flush(t, chain);
	if (r)
		*error = r;
	return r == 0;
}

static int zero_one(struct cmd *c, struct uxt_ruleset *rs, struct uxt_table *t,
		    const char *chain, int *error)
{
	int r;

	if (c->options & OPT_VERBOSE)
		uxt_buf_printf(&c->io->out, "Zeroing chain `%s'\n", chain);
	r = uxt_table_zero(rs, t, chain);
	if (r)
		*error = r;
	return r == 0;
}

static int delete_chain_one(struct cmd *c, struct uxt_ruleset *rs,
			    struct uxt_table *t, const char *chain, int *error)
{
	int r;

	(void)rs;
	if (c->options & OPT_VERBOSE)
		uxt_buf_printf(&c->io->out, "Deleting chain `%s'\n", chain);
	r = uxt_table_delete_chain(t, chain);
	if (r)
		*error = r;
	return r == 0;
}

/*
 * libiptc reports failures through errno and a "function" that selects the
 * text; for -X, -Z and -F over all chains, the last failure wins.
 */
struct outcome {
	int ok;
	int error;
	enum cli_op op;
};

static void for_addresses(struct cmd *c, struct uxt_ruleset *rs,
			  struct uxt_table *t, const struct uxt_ext *target,
			  const void *tdata, struct outcome *o)
{
	for (unsigned int i = 0; i < c->nsaddrs; i++) {
		for (unsigned int j = 0; j < c->ndaddrs; j++) {
			struct uxt_rule *r;
			int err = 0;

			c->ip.src = c->saddrs[i];
			c->ip.smsk = c->smasks[i];
			c->ip.dst = c->daddrs[j];
			c->ip.dmsk = c->dmasks[j];
			r = build_rule(c, rs, target, tdata);
			if (c->options & OPT_VERBOSE)
				uxt_fmt_rule(&c->io->out, r, 0, UXT_FMT_PRINT_RULE);
			switch (c->command) {
			case CMD_APPEND:
				err = uxt_table_append(t, c->chain, r);
				o->op = OP_APPEND;
				break;
			case CMD_INSERT:
				err = uxt_table_insert(t, c->chain, r, c->rulenum - 1);
				o->op = OP_INSERT;
				break;
			case CMD_REPLACE:
				err = uxt_table_replace_rule(t, c->chain, r,
							     c->rulenum - 1);
				o->op = OP_REPLACE;
				break;
			case CMD_DELETE:
				err = uxt_table_delete_rule(t, c->chain, r);
				o->op = OP_DELETE;
				break;
			case CMD_CHECK:
				err = uxt_table_check_rule(t, c->chain, r);
				o->op = OP_CHECK;
				break;
			}
			if (err) {
				o->ok = 0;
				o->error = err;
				/*
				 * libiptc maps the target of the rule to find
				 * before searching, and for any name but a
				 * verdict that calls TC_BUILTIN, which replaces
				 * the function its error text depends on.
				 */
				if ((o->op == OP_DELETE || o->op == OP_CHECK) &&
				    uxt_table_chain(t, c->chain) &&
				    parse_policy_verdict(uxt_rule_target_name(r)) ==
					    UXT_V_CONTINUE &&
				    uxt_rule_target_name(r)[0])
					o->op = OP_OTHER;
			}
		}
	}
}

/* The part of do_command4 after parsing; t is the table, already created. */
static int run(struct cmd *c, struct uxt_ruleset *rs, struct uxt_table *t,
	       const char *const *announced, bool *changed)
{
	struct outcome o = {.ok = 1, .error = 0, .op = OP_OTHER};
	bool found;

	*changed = false;
	if (c->command & (CMD_APPEND | CMD_DELETE | CMD_CHECK | CMD_INSERT |
			  CMD_REPLACE)) {
		const struct uxt_chain *jc;
		struct uxt_std_target std;
		const struct uxt_ext *target_ext;
		const void *tdata;
		int verdict;

		if (!c->jumpto)
			c->jumpto = "";
		/* no chain is named as a verdict (uxt_table_create_chain) */
		verdict = parse_policy_verdict(c->jumpto);
		jc = verdict == UXT_V_CONTINUE ? uxt_table_chain(t, c->jumpto) : NULL;
		if (c->target && jc) {
			uxt_buf_printf(&c->io->err,
				       "Warning: using chain %s, not extension\n",
				       c->jumpto);
			c->target = NULL;
		}
		if (c->target && c->target->ext == &uxt_ext_standard)
			;	/* a verdict named with -j */
		else if (!c->target && (c->jumpto[0] == '\0' || jc))
			;	/* no target, or a chain */
		else if (!c->target) {
			if (c->ip.flags & UXT_F_GOTO)
				return perr(c, "goto '%s' is not a chain", c->jumpto);
			(void)announced;
			return perr(c, "Couldn't load target `%s':No such file or directory\n",
				    c->jumpto);
		}
		if (!c->target || c->target->ext == &uxt_ext_standard) {
			memset(&std, 0, sizeof(std));
			std.verdict = verdict;
			if (std.verdict == UXT_V_CONTINUE && c->jumpto[0]) {
				std.verdict = UXT_V_JUMP;
				snprintf(std.chain, sizeof(std.chain), "%s", c->jumpto);
			}
			target_ext = &uxt_ext_standard;
			tdata = &std;
		} else {
			target_ext = c->target->stored;
			tdata = c->target->data;
		}
		for_addresses(c, rs, t, target_ext, tdata, &o);
		*changed = o.ok && !(c->command & CMD_CHECK);
	} else {
		switch (c->command) {
		case CMD_DELETE_NUM:
			o.op = OP_DELETE_NUM;
			o.error = uxt_table_delete_num(t, c->chain, c->rulenum - 1);
			break;
		case CMD_FLUSH:
			if (!c->chain)
				o.ok = for_each_chain(c, rs, t, true, flush_one, &o.error);
			else
				o.ok = flush_one(c, rs, t, c->chain, &o.error);
			break;
		case CMD_ZERO:
			if (!c->chain)
				o.ok = for_each_chain(c, rs, t, true, zero_one, &o.error);
			else
				o.ok = zero_one(c, rs, t, c->chain, &o.error);
			break;
		case CMD_ZERO_NUM:
			o.op = OP_ZERO_NUM;
			o.error = uxt_table_zero_num(rs, t, c->chain, c->rulenum);
			break;
		case CMD_LIST:
		case CMD_LIST | CMD_ZERO:
		case CMD_LIST | CMD_ZERO_NUM:
		case CMD_LIST_RULES:
		case CMD_LIST_RULES | CMD_ZERO:
		case CMD_LIST_RULES | CMD_ZERO_NUM:
			if (c->command & CMD_LIST)
				list_entries(c, t, &found);
			else
				list_rules(c, t, &found);
			if (!found) {
				o.ok = 0;
				o.error = -ENOENT;
				break;
			}
			if (c->command & CMD_ZERO) {
				if (!c->chain)
					o.ok = for_each_chain(c, rs, t, true, zero_one,
							      &o.error);
				else
					o.ok = zero_one(c, rs, t, c->chain, &o.error);
			} else if (c->command & CMD_ZERO_NUM) {
				o.op = OP_ZERO_NUM;
				o.error = uxt_table_zero_num(rs, t, c->chain,
							     c->rulenum);
			}
			break;
		case CMD_NEW_CHAIN:
			o.op = OP_CREATE_CHAIN;
			o.error = uxt_table_create_chain(t, c->chain);
			break;
		case CMD_DELETE_CHAIN:
			if (!c->chain)
				o.ok = for_each_chain(c, rs, t, false, delete_chain_one,
						      &o.error);
			else
				o.ok = delete_chain_one(c, rs, t, c->chain, &o.error);
			break;
		case CMD_RENAME_CHAIN:
			o.op = OP_RENAME_CHAIN;
			o.error = uxt_table_rename_chain(rs, t, c->chain, c->newname);
			break;
		case CMD_SET_POLICY: {
			struct uxt_counters ctr = {c->pcnt, c->bcnt};

			o.op = OP_SET_POLICY;
			o.error = uxt_table_set_policy(t, c->chain, c->policy,
						       (c->options & OPT_COUNTERS) ?
							       &ctr : NULL);
			break;
		}
		}
		if (o.error)
			o.ok = 0;
		*changed = o.ok && !(c->command & (CMD_LIST | CMD_LIST_RULES) &&
				      !(c->command & (CMD_ZERO | CMD_ZERO_NUM)));
	}
	if (!o.ok) {
		cli_iptc_error(c->e, o.op, -o.error);
		*changed = false;
		return -2;
	}
	return 0;
}

struct cli_cmd_scratch *cli_cmd_scratch_new(void)
{
	return (struct cli_cmd_scratch *)xcalloc(1, sizeof(struct cmd));
}

void cli_cmd_scratch_free(struct cli_cmd_scratch *s)
{
	if (s)
		cmd_destroy((struct cmd *)s);
}

static void cmd_done(struct cmd *c, const struct cli_cmd_opts *opts)
{
	/* scratch is reset when the next command starts with it */
	if (!opts || !opts->scratch)
		cmd_destroy(c);
}

int cli_do_command(struct cli_io *io, struct cli_state *st, int argc,
		   char **argv, const struct cli_cmd_opts *opts, bool *changed,
		   struct uxt_err *e)
{
	struct cmd *c = opts && opts->scratch ? (struct cmd *)opts->scratch
					    : xcalloc(1, sizeof(*c));
	struct uxt_ruleset *rs;
	struct uxt_table *t;
	const char *const *announced = opts ? opts->announced : NULL;
	bool restore = opts && opts->restore;
	bool created = false, tchanged = false;
	int ret, error = 0;

	*changed = false;
	cmd_reset(c);
	c->io = io;
	c->e = e;
	c->argc = argc;
	c->argv = argv;
	c->restore = restore;
	c->table = "filter";
	ret = do_parse(c, announced);
	if (ret != PARSE_OK) {
		cmd_done(c, opts);
		if (ret == PARSE_ERR)
			return -1;
		uxt_err_clear(e);
		return ret == PARSE_EXIT ? 2 : 1;
	}

	if (restore) {
		rs = opts->restore_rs;
		t = opts->restore_table;
	} else {
		if (cli_state_lock_load(st, c->wait, e)) {
			cmd_done(c, opts);
			return -1;
		}
		rs = &st->rs;
		t = uxt_ruleset_table(rs, c->table);
		if (!t) {
			t = uxt_ruleset_instantiate(rs, c->table, &error);
			created = t != NULL;
		}
		if (!t) {
			uxt_error(e, UXT_VERSION_PROBLEM,
				  "can't initialize iptables table `%s': %s",
				  c->table, cli_iptc_strerror(OP_INIT, ENOENT));
			cmd_done(c, opts);
			return -1;
		}
	}

	if (restore) {
		ret = run(c, rs, t, announced, &tchanged);
	} else {
		/* work on a copy so that a failed command changes nothing */
		struct uxt_table *work = uxt_table_clone(rs, t);

		ret = run(c, rs, work, announced, &tchanged);
		if (ret == 0 && tchanged) {
			const struct uxt_rule *bad;
			int v = uxt_table_verify_reset(rs, work, &bad);

			if (v) {
				cli_iptc_error(e, OP_COMMIT, -v);
				ret = -1;
			}
		}
		if (ret == 0 && tchanged) {
			uxt_ruleset_replace(rs, work);
		} else {
			uxt_table_free(work);
		}
		/* a table the command created stays, as in the kernel */
		if ((ret == 0 && tchanged) || created) {
			struct uxt_err ce;

			if (cli_state_commit(st, &ce) && ret == 0) {
				*e = ce;
				ret = -1;
			}
		}
	}
	*changed = tchanged;
	cmd_done(c, opts);
	return ret;
}

/* argv[i] is the option opt with an argument after it */
static bool option_at(int argc, char **argv, int i, const char *opt)
{
	/* two-letter options compared inline: this runs for every word */
	if (i + 1 >= argc || argv[i][0] != '-' || argv[i][1] != opt[1])
		return false;
	return opt[2] == '\0' ? argv[i][2] == '\0' : strcmp(argv[i], opt) == 0;
}

/* The id of the option called name of ext, or -1. */
static int ext_opt_id(const struct uxt_ext *ext, const char *name)
{
	for (const struct uxt_opt *o = ext->opts; o && o->name; o++)
		if (o->name[0] == name[0] && strcmp(o->name, name) == 0)
			return o->id;
	return -1;
}

/* "tcp" or "udp", the protocols whose match the fast path takes */
static bool tcp_or_udp(const char *p)
{
	return ((p[0] == 't' && p[1] == 'c') || (p[0] == 'u' && p[1] == 'd')) &&
	       p[2] == 'p' && p[3] == '\0';
}

/*
 * The line iptables-save writes most, in its order and nothing else:
 *
 *   -A CHAIN [-s ADDR] [-d ADDR] [-p tcp|udp [-m tcp|udp [--sport PORTS]
 *   [--dport PORTS]]] -j ACCEPT|DROP|QUEUE|RETURN
 *
 * with plain addresses, into an existing chain.  Everything do_parse() and
 * run() would do for it is done with the same parts (uxt_parse_protocol,
 * the match's init, parser and final check, uxt_ipparse_simple,
 * make_rule, uxt_table_append), without getopt, the option tables and
 * the rest of the command's machinery, which cost more than the rule.
 * Any other line, any failure or warning: nothing is changed and 0
 * returned, and cli_do_command() runs the line (and reports what it says).
 */
int cli_restore_append(struct uxt_ruleset *rs, struct uxt_table *t,
		       const char *table, int argc, char **argv)
{
	static const char *const port_opts[2] = {"--sport", "--dport"};
	const char *chain, *src = "0.0.0.0/0", *dst = "0.0.0.0/0";
	const char *pname = NULL, *mname = NULL, *ports[2] = {NULL, NULL};
	_Alignas(8) unsigned char mdata[256], udata[256];
	struct uxt_std_target std;
	struct uxt_err err;
	struct uxt_buf warn;
	struct uxt_rule *r;
	struct inst m = {0};
	struct uxt_ip ip;
	int i = 2, verdict;

	/* the shape, in iptables-save's order */
	if (!option_at(argc, argv, 0, "-A"))
		return 0;
	chain = argv[1];
	if (option_at(argc, argv, i, "-s"))
		src = argv[i + 1], i += 2;
	if (option_at(argc, argv, i, "-d"))
		dst = argv[i + 1], i += 2;
	if (option_at(argc, argv, i, "-p")) {
		pname = argv[i + 1], i += 2;
		if (!tcp_or_udp(pname))
			return 0;
		if (option_at(argc, argv, i, "-m")) {
			mname = argv[i + 1], i += 2;
			if (!tcp_or_udp(mname) || mname[0] != pname[0])
				return 0;
			for (int k = 0; k < 2; k++)
				if (option_at(argc, argv, i, port_opts[k]))
					ports[k] = argv[i + 1], i += 2;
		}
	}
	if (i + 2 != argc || strcmp(argv[i], "-j") != 0)
		return 0;
	verdict = parse_policy_verdict(argv[i + 1]);
	if (verdict == UXT_V_CONTINUE ||
	    (verdict == UXT_V_DROP && strcmp(table, "nat") == 0))
		return 0;

	/* as do_parse: the protocol, the match and its options, its final
	 * check, then the addresses */
	memset(&ip, 0, sizeof(ip));
	if (pname && uxt_parse_protocol(pname, &ip.proto, &err) != 0)
		return 0;
	if (mname) {
		m.ext = uxt_ext_find(mname, UXT_MATCH);
		if (!m.ext)
			return 0;
		m.stored = stored_ext(m.ext);
		if (m.stored->size > sizeof(mdata) || m.ext->udata_size > sizeof(udata))
			return 0;
		memset(mdata, 0, m.stored->size);
		m.data = mdata;
		if (m.ext->udata_size) {
			memset(udata, 0, m.ext->udata_size);
			m.udata = udata;
		}
		if (m.ext->init)
			m.ext->init(m.data);
	}
	uxt_buf_init(&warn, -1);
	for (int k = 0; k < 2; k++) {
		int optind = i, id;
		struct opt_place at = {
			.arg = ports[k], .ip = &ip, .argc = argc, .argv = argv,
			.optind = &optind, .err = &err, .warn = &warn,
		};

		if (!ports[k])
			continue;
		id = ext_opt_id(m.ext, port_opts[k] + 2);
		if (id < 0 || ext_parse_opt(&m, id, false, &at) != 0 || warn.len) {
			uxt_buf_free(&warn);
			return 0;
		}
	}
	if (mname && (ext_fcheck(&m, &ip, &err, &warn) != 0 || warn.len)) {
		uxt_buf_free(&warn);
		return 0;
	}
	uxt_buf_free(&warn);
	if (!uxt_ipparse_simple(src, &ip.src, &ip.smsk) ||
	    !uxt_ipparse_simple(dst, &ip.dst, &ip.dmsk))
		return 0;

	/* as run(): a verdict, the rule, appended */
	memset(&std, 0, sizeof(std));
	std.verdict = verdict;
	r = make_rule(rs, &ip, 0, 0, &m, mname ? 1 : 0, &uxt_ext_standard, &std);
	/* no such chain: the general path says so (the rule is left unused) */
	return uxt_table_append(t, chain, r) == 0;
}

int iptables_main(int argc, char **argv)
{
	struct cli_io io;
	struct cli_state st;
	struct uxt_err e;
	bool changed;
	int ret, status = 0;

	cli_io_init(&io, "iptables");
	uxt_err_clear(&e);
	memset(&st, 0, sizeof(st));
	if (cli_state_open(&st, &e)) {
		status = cli_report(&io, &e);
		cli_io_close(&io);
		return status;
	}
	ret = cli_do_command(&io, &st, argc, argv, NULL, &changed, &e);
	if (ret < 0)
		status = cli_report(&io, &e);
	cli_state_close(&st);
	cli_io_close(&io);
	return status;
}
