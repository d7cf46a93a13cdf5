/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * iptables-restore (iptables/iptables-restore.c of 1.8.9, legacy flavour).
 *
 * Each "*table ... COMMIT" section is one transaction: the table is taken
 * under the lock, changed in memory, verified as the kernel verifies a
 * table replacement, and committed at COMMIT.  An error stops the program;
 * sections committed before it stay, the failing one changes nothing.
 * Lines are read and split exactly as iptables does (fgets into a 10240-byte
 * buffer, add_param_to_argv quoting), so odd input fails the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "getopt.h"
#include "parse.h"

#define LINE_BUF 10240
#define MAX_ARGC 255
#define PARAM_BUF 1024
/* a line asked the program to stop with status 0 (-h, -V) */
#define EXIT_NOW 1000

struct restore {
	struct cli_io io;
	struct cli_state st;
	bool counters, noflush, testing;
	int verbose;
	int wait;
	const char *tablename;
	bool in_table;
	char curtable[33];
	struct uxt_table *handle;
	char **announced;
	size_t nannounced, capannounced;
	/* argv of the rule line being run, its words stored in argbuf */
	char *argv[MAX_ARGC + 1];
	int argc;
	char argbuf[2 * LINE_BUF + 64];
	size_t argused;
	struct cli_cmd_scratch *scratch;
	/* characters that end a run of plain parameter text */
	bool stop[256];
	/* input */
	char line[LINE_BUF];
	FILE *in;
	char inbuf[1 << 16];
	size_t inpos, inlen;
};

static const struct uxt_option restore_opts[] = {
	{"counters", 0, 'c'},
	{"verbose", 0, 'v'},
	{"version", 0, 'V'},
	{"test", 0, 't'},
	{"help", 0, 'h'},
	{"noflush", 0, 'n'},
	{"modprobe", 1, 'M'},
	{"table", 1, 'T'},
	{"wait", 2, 'w'},
	{"wait-interval", 2, 'W'},
	{NULL, 0, 0},
};

static int fail(struct restore *r, struct uxt_err *e)
{
	return cli_report(&r->io, e);
}

static int param_error(struct restore *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int param_error(struct restore *r, const char *fmt, ...)
{
	struct uxt_err e;
	va_list ap;

	e.status = UXT_PARAMETER_PROBLEM;
	e.flags = 0;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	return fail(r, &e);
}

static void free_argv(struct restore *r)
{
	r->argc = 0;
	r->argv[0] = NULL;
	r->argused = 0;
}

static int add_argv(struct restore *r, const char *what, size_t len)
{
	if (r->argc + 1 >= MAX_ARGC)
		return param_error(r, "Parser cannot handle more arguments");
	/* a line has fewer bytes than the buffer holds, with NULs added */
	memcpy(r->argbuf + r->argused, what, len);
	r->argbuf[r->argused + len] = '\0';
	r->argv[r->argc] = r->argbuf + r->argused;
	r->argused += len + 1;
	r->argv[++r->argc] = NULL;
	return 0;
}

/* Ends the parameter being built at the end of argbuf as the next word. */
static int end_param(struct restore *r, size_t len)
{
	if (r->argc + 1 >= MAX_ARGC)
		return param_error(r, "Parser cannot handle more arguments");
	r->argbuf[r->argused + len] = '\0';
	r->argv[r->argc] = r->argbuf + r->argused;
	r->argused += len + 1;
	r->argv[++r->argc] = NULL;
	return 0;
}

/*
 * add_param_to_argv(): split on blanks, double quotes group, \\ escapes
 * inside quotes; an unterminated quote runs to the end of the buffer.  A
 * parameter is built where it will stay, at the end of argbuf.
 */
static int add_params_quoted(struct restore *r, const char *p)
{
	char *param = r->argbuf + r->argused;
	size_t len = 0;
	bool quote_open = false, escaped = false;

	for (; *p; p++) {
		char ch = *p;

		if (!quote_open) {
			/* the common case: copy a run of plain characters */
			if (!r->stop[(unsigned char)ch]) {
				const char *q = p + 1;

				while (!r->stop[(unsigned char)*q])
					q++;
				if (len + (size_t)(q - p) >= PARAM_BUF)
					return param_error(r, "Parameter too long!");
				memcpy(param + len, p, (size_t)(q - p));
				len += (size_t)(q - p);
				p = q - 1;
				continue;
			}
			if (ch == '"') {
				quote_open = true;
				continue;
			}
			/* a blank ends the parameter, if there is one */
			if (!len)
				continue;
		} else {
			if (escaped) {
				escaped = false;
			} else if (ch == '\\') {
				escaped = true;
				continue;
			} else if (ch == '"') {
				quote_open = false;
				/* a closing quote ends the parameter (even "") */
				if (end_param(r, len))
					return -1;
				param = r->argbuf + r->argused;
				len = 0;
				continue;
			}
			param[len++] = ch;
			if (len >= PARAM_BUF)
				return param_error(r, "Parameter too long!");
			continue;
		}
		if (end_param(r, len))
			return -1;
		param = r->argbuf + r->argused;
		len = 0;
	}
	if (len && end_param(r, len))
		return -1;
	return 0;
}

/*
 * The same split, for lines without quotes (iptables-save never quotes
 * but comments): each word stays where it is in the line, ended by a NUL
 * written over the blank after it, instead of being copied to argbuf.
 * From the first word that holds a quote on, add_params_quoted() goes on.
 */
static int add_params(struct restore *r, char *p)
{
	for (;;) {
		char *word;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0')
			return 0;
		word = p;
		while (!r->stop[(unsigned char)*p])
			p++;
		if (*p == '"')
			return add_params_quoted(r, word);
		if ((size_t)(p - word) >= PARAM_BUF)
			return param_error(r, "Parameter too long!");
		if (r->argc + 1 >= MAX_ARGC)
			return param_error(r, "Parser cannot handle more arguments");
		r->argv[r->argc] = word;
		r->argv[++r->argc] = NULL;
		if (*p)
			*p++ = '\0';
	}
}

static void announce(struct restore *r, const char *chain)
{
	if (r->nannounced + 2 > r->capannounced) {
		r->capannounced = r->capannounced ? r->capannounced * 2 : 16;
		r->announced = realloc(r->announced,
				       r->capannounced * sizeof(char *));
		if (!r->announced)
			abort();
	}
	r->announced[r->nannounced++] = strdup(chain);
	r->announced[r->nannounced] = NULL;
}

static void release_table(struct restore *r)
{
	uxt_table_free(r->handle);
	r->handle = NULL;
	cli_state_close(&r->st);
	if (cli_state_open(&r->st, &(struct uxt_err){0}))
		r->st.store.lock_fd = -1;
}

/* "*table": returns 1 on success, 0 on failure, or -status to exit */
static int begin_table(struct restore *r, char *buffer)
{
	struct uxt_err e;
	struct uxt_table *t;
	char *table;
	int error = 0;

	uxt_err_clear(&e);
	table = strtok(buffer + 1, " \t\n");
	/* a table restored without --noflush is replaced whole: its old
	 * rules need not be read */
	if (table && !r->noflush &&
	    (!r->tablename || strcmp(r->tablename, table) == 0) ?
		    cli_state_lock_load_replacing(&r->st, r->wait, table, &e) :
		    cli_state_lock_load(&r->st, r->wait, &e))
		return -fail(r, &e);
	if (!table)
		return -param_error(r, "%s: line %u table name invalid",
				    r->io.prog, (unsigned)r->io.line);
	snprintf(r->curtable, sizeof(r->curtable), "%s", table);
	if (r->tablename && strcmp(r->tablename, table) != 0) {
		release_table(r);
		return 1;
	}
	t = uxt_ruleset_table(&r->st.rs, table);
	if (!t) {
		t = uxt_ruleset_instantiate(&r->st.rs, table, &error);
		if (!t)
			return -param_error(r, "%s: unable to initialize table '%s'",
					    r->io.prog, table);
		/* the kernel creates the table now, whatever happens next */
		if (cli_state_commit(&r->st, &e))
			return -fail(r, &e);
	}
	if (r->noflush) {
		r->handle = uxt_table_clone(&r->st.rs, t);
	} else {
		/* flush every chain, then delete the user chains (none can be
		 * referenced once all are empty) */
		for (uint32_t i = 0; r->verbose && i < t->nchains; i++)
			uxt_buf_printf(&r->io.out, "Flushing chain `%s'\n",
				       t->chains[i]->name);
		for (uint32_t i = t->nbuiltin; r->verbose && i < t->nchains; i++)
			uxt_buf_printf(&r->io.out, "Deleting chain `%s'\n",
				       t->chains[i]->name);
		r->handle = uxt_table_clone_flushed(t);
	}
	r->in_table = true;
	return 1;
}

static int parse_counters(const char *s, struct uxt_counters *ctr)
{
	unsigned long long p, b;

	if (!s || sscanf(s, "[%llu:%llu]", &p, &b) != 2)
		return 0;
	ctr->pcnt = p;
	ctr->bcnt = b;
	return 1;
}

/* ":CHAIN POLICY [p:b]" */
static int chain_line(struct restore *r, char *buffer)
{
	struct uxt_table *h = r->handle;
	struct uxt_chain *c;
	char *chain, *policy;
	unsigned int line = (unsigned)r->io.line;

	chain = strtok(buffer + 1, " \t\n");
	if (!chain)
		return -param_error(r, "%s: line %u chain name invalid", r->io.prog,
				    line);
	if (strlen(chain) >= UXT_NAME_MAX)
		return -param_error(r, "Invalid chain name `%s' (%u chars max)",
				    chain, UXT_NAME_MAX - 1);
	c = uxt_table_chain(h, chain);
	if (!c || !uxt_chain_builtin(c)) {
		int err;

		if (r->noflush && c) {
			uxt_table_flush(h, chain);
		} else if ((err = uxt_table_create_chain(h, chain)) != 0) {
			return -param_error(r, "error creating chain '%s':%s", chain,
					    strerror(-err));
		}
	}
	policy = strtok(NULL, " \t\n");
	if (!policy)
		return -param_error(r, "%s: line %u policy invalid", r->io.prog,
				    line);
	if (strcmp(policy, "-") != 0) {
		struct uxt_counters count = {0, 0};
		int err;

		if (r->counters) {
			char *ctrs = strtok(NULL, " \t\n");

			if (!ctrs || !parse_counters(ctrs, &count))
				return -param_error(r, "invalid policy counters for chain '%s'",
						    chain);
		}
		err = uxt_table_set_policy(h, chain, policy, &count);
		if (err) {
			struct uxt_err e;

			uxt_error(&e, UXT_OTHER_PROBLEM,
				  "Can't set policy `%s' on `%s' line %u: %s", policy,
				  chain, line, cli_iptc_strerror(OP_SET_POLICY, -err));
			return -fail(r, &e);
		}
	}
	announce(r, chain);
	return 1;
}

/* a rule line: run it as "iptables -t table ..." */
static int rule_line(struct restore *r, char *buffer)
{
	struct cli_cmd_opts opts = {
		.scratch = r->scratch,
		.restore = true,
		.restore_table = r->handle,
		.restore_rs = &r->st.rs,
		.announced = (const char *const *)r->announced,
	};
	struct uxt_err e;
	char *parsestart = buffer;
	char *pcnt = NULL, *bcnt = NULL;
	bool changed;
	int ret, argc_prefix;

	if (add_argv(r, "iptables", 8) || add_argv(r, "-t", 2) ||
	    add_argv(r, r->curtable, strlen(r->curtable)))
		return -2;
	for (int i = 0; !r->noflush && i < r->verbose; i++)
		if (add_argv(r, "-v", 2))
			return -2;
	argc_prefix = r->argc;
	if (buffer[0] == '[') {
		char *ptr = strchr(buffer, ']');

		if (!ptr)
			return -param_error(r, "Bad line %u: need ]", (unsigned)r->io.line);
		pcnt = strtok(buffer + 1, ":");
		if (!pcnt)
			return -param_error(r, "Bad line %u: need :", (unsigned)r->io.line);
		bcnt = strtok(NULL, "]");
		if (!bcnt)
			return -param_error(r, "Bad line %u: need ]", (unsigned)r->io.line);
		parsestart = ptr + 1;
	}
	if (r->counters && pcnt && bcnt &&
	    (add_argv(r, "--set-counters", 14) || add_argv(r, pcnt, strlen(pcnt)) ||
	     add_argv(r, bcnt, strlen(bcnt))))
		return -2;
	if (add_params(r, parsestart))
		return -2;
	/* the plain lines iptables-save writes: parsed without getopt */
	if (argc_prefix == 3 && !pcnt &&
	    cli_restore_append(&r->st.rs, r->handle, r->curtable, r->argc - 3,
			       r->argv + 3)) {
		free_argv(r);
		return 1;
	}
	uxt_err_clear(&e);
	ret = cli_do_command(&r->io, &r->st, r->argc, r->argv, &opts, &changed, &e);
	free_argv(r);
	if (ret == -2)
		return 0;
	if (ret < 0)
		return -fail(r, &e);
	if (ret == 2)
		return -EXIT_NOW;
	return 1;
}

static int commit_line(struct restore *r)
{
	const struct uxt_rule *bad;
	struct uxt_err e;
	int ret = 1;

	if (!r->testing) {
		if (uxt_table_verify_reset(&r->st.rs, r->handle, &bad) != 0) {
			ret = 0;
		} else {
			uxt_ruleset_replace(&r->st.rs, r->handle);
			r->handle = NULL;
			if (cli_state_commit(&r->st, &e))
				return -fail(r, &e);
		}
	}
	if (ret)
		release_table(r);
	r->in_table = false;
	return ret;
}

/* fgets(buffer, LINE_BUF, in), over a large read buffer */
static bool read_line(struct restore *r, char *buffer)
{
	size_t n = 0;

	while (n < LINE_BUF - 1) {
		const char *start, *nl;
		size_t take;

		if (r->inpos == r->inlen) {
			r->inlen = fread(r->inbuf, 1, sizeof(r->inbuf), r->in);
			r->inpos = 0;
			if (r->inlen == 0)
				break;
		}
		start = r->inbuf + r->inpos;
		take = r->inlen - r->inpos;
		if (take > LINE_BUF - 1 - n)
			take = LINE_BUF - 1 - n;
		nl = memchr(start, '\n', take);
		if (nl)
			take = (size_t)(nl - start) + 1;
		memcpy(buffer + n, start, take);
		n += take;
		r->inpos += take;
		if (nl)
			break;
	}
	buffer[n] = '\0';
	return n > 0;
}

static int restore_lines(struct restore *r)
{
	char *buffer = r->line;

	while (read_line(r, buffer)) {
		int ret = 0;

		r->io.line++;
		if (buffer[0] == '\n')
			continue;
		if (buffer[0] == '#') {
			if (r->verbose)
				uxt_buf_puts(&r->io.out, buffer);
			continue;
		}
		if (buffer[0] == 'C' && strcmp(buffer, "COMMIT\n") == 0 && r->in_table)
			ret = commit_line(r);
		else if (buffer[0] == '*' && !r->in_table)
			ret = begin_table(r, buffer);
		else if (buffer[0] == ':' && r->in_table)
			ret = chain_line(r, buffer);
		else if (r->in_table)
			ret = rule_line(r, buffer);
		if (ret == -EXIT_NOW)
			return 0;
		if (ret < 0)
			return ret == -2 ? 2 : -ret;
		if (r->tablename && strcmp(r->tablename, r->curtable) != 0)
			continue;
		if (!ret) {
			uxt_buf_printf(&r->io.err, "%s: line %u failed\n", r->io.prog,
				       (unsigned)r->io.line);
			return 1;
		}
	}
	if (r->in_table) {
		uxt_buf_printf(&r->io.err, "%s: COMMIT expected at line %u\n",
			       r->io.prog, (unsigned)r->io.line + 1);
		return 1;
	}
	return 0;
}

static int parse_wait(struct restore *r, struct uxt_getopt *g, int argc,
		      char **argv)
{
	r->wait = -1;
	if (g->optarg) {
		if (sscanf(g->optarg, "%i", &r->wait) != 1)
			return param_error(r, "wait seconds not numeric");
	} else if (g->optind < argc && argv[g->optind][0] != '-' &&
		   argv[g->optind][0] != '!') {
		if (sscanf(argv[g->optind++], "%i", &r->wait) != 1)
			return param_error(r, "wait seconds not numeric");
	}
	return 0;
}

static int parse_wait_interval(struct restore *r, struct uxt_getopt *g,
			       int argc, char **argv)
{
	const char *arg;
	unsigned int usec;

	if (g->optarg)
		arg = g->optarg;
	else if (g->optind < argc && argv[g->optind][0] != '-' &&
		 argv[g->optind][0] != '!')
		arg = argv[g->optind++];
	else
		return param_error(r, "wait interval value required");
	if (sscanf(arg, "%u", &usec) == 1) {
		if (usec > 999999)
			return param_error(r, "too long usec wait %u > 999999 usec",
					   usec);
		uxt_buf_puts(&r->io.err,
			     "Ignoring deprecated --wait-interval option.\n");
		return 0;
	}
	return param_error(r, "wait interval not numeric");
}

int iptables_restore_main(int argc, char **argv)
{
	return iptables_restore_run(argc, argv, stdin);
}

int iptables_restore_run(int argc, char **argv, FILE *input)
{
	struct restore *r = calloc(1, sizeof(*r));
	struct uxt_getopt g;
	struct uxt_err e;
	bool wait_interval_set = false;
	FILE *in = input;
	int c, status = 0;

	if (!r)
		abort();
	cli_io_init(&r->io, "iptables-restore");
	r->io.line = 0;
	uxt_getopt_init(&g, &r->io.err, 1);
	if (cli_state_open(&r->st, &e)) {
		status = fail(r, &e);
		goto out;
	}
	while ((c = uxt_getopt_long(&g, argc, argv, "bcvVthnwWM:T:",
				    restore_opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			uxt_buf_puts(&r->io.err,
				     "-b/--binary option is not implemented\n");
			break;
		case 'c':
			r->counters = true;
			break;
		case 'v':
			r->verbose++;
			break;
		case 'V':
			uxt_buf_printf(&r->io.out, "%s v%s\n", r->io.prog,
				       UXT_IPTABLES_VERSION " (" UXT_BACKEND ")");
			goto out;
		case 't':
			r->testing = true;
			break;
		case 'h':
			uxt_buf_printf(&r->io.err,
				       "Usage: %s [-c] [-v] [-V] [-t] [-h] [-n] [-w secs] [-W usecs] [-T table] [-M command] [file]\n"
				       "\t   [ --counters ]\n"
				       "\t   [ --verbose ]\n"
				       "\t   [ --version]\n"
				       "\t   [ --test ]\n"
				       "\t   [ --help ]\n"
				       "\t   [ --noflush ]\n"
				       "\t   [ --wait=<seconds>\n"
				       "\t   [ --table=<TABLE> ]\n"
				       "\t   [ --modprobe=<command> ]\n",
				       r->io.prog);
			goto out;
		case 'n':
			r->noflush = true;
			break;
		case 'w':
			if (parse_wait(r, &g, argc, argv)) {
				status = 2;
				goto out;
			}
			break;
		case 'W':
			if (parse_wait_interval(r, &g, argc, argv)) {
				status = 2;
				goto out;
			}
			wait_interval_set = true;
			break;
		case 'M':
			break;
		case 'T':
			r->tablename = g.optarg;
			break;
		default:
			uxt_buf_printf(&r->io.err,
				       "Try `%s -h' for more information.\n",
				       r->io.prog);
			status = 1;
			goto out;
		}
	}
	if (g.optind == argc - 1) {
		in = fopen(argv[g.optind], "re");
		if (!in) {
			uxt_buf_printf(&r->io.err, "Can't open %s: %s\n",
				       argv[g.optind], strerror(errno));
			status = 1;
			goto out;
		}
	} else if (g.optind < argc) {
		uxt_buf_puts(&r->io.err, "Unknown arguments found on commandline\n");
		status = 1;
		goto out;
	}
	if (wait_interval_set && !r->wait) {
		uxt_buf_puts(&r->io.err,
			     "Option --wait-interval requires option --wait\n");
		status = 1;
		goto out;
	}
	r->in = in;
	r->scratch = cli_cmd_scratch_new();
	r->stop['\0'] = r->stop['"'] = r->stop[' '] = true;
	r->stop['\t'] = r->stop['\n'] = true;
	status = restore_lines(r);
	if (in != input)
		fclose(in);
out:
	free_argv(r);
	cli_cmd_scratch_free(r->scratch);
	uxt_table_free(r->handle);
	cli_state_close(&r->st);
	cli_io_close(&r->io);
	for (size_t i = 0; i < r->nannounced; i++)
		free(r->announced[i]);
	free(r->announced);
	free(r);
	return status;
}
