/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uxt sysctl: the namespace's connection tracking settings by their
 * /proc/sys/net/netfilter names, read and written as sysctl(8) (procps-ng
 * 4.0) reads and writes them, with its output and messages.
 *
 *   uxt sysctl [-n] [-N] [-e] [-q] NAME...        read
 *   uxt sysctl [-q] -w NAME=VALUE...              write (also NAME=VALUE
 *                                                 without -w)
 *   uxt sysctl -a                                 every net.netfilter key
 *
 * NAME is net.netfilter.KEY (or net/netfilter/KEY), or a prefix of whole
 * components ("net", "net.netfilter") for all the keys under it.  The
 * settings live with the conntrack table in the state directory
 * (ct_state.h); a write takes the state lock.
 *
 * Values are read as the kernel's proc handlers read them: leading blanks,
 * a decimal, 0x-hexadecimal or 0-octal number, then the end or a blank;
 * anything else, or a value the setting does not take, is "Invalid
 * argument".  Unlike the kernel, negative timeouts are refused too.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ct.h"
#include "ct_state.h"
#include "getopt.h"

#define PREFIX "net.netfilter."

struct key {
	const char *name;	/* without the prefix */
	bool writable;
};

struct sysctl_opts {
	bool values_only;	/* -n */
	bool names_only;	/* -N */
	bool ignore;		/* -e */
	bool quiet;		/* -q */
	bool write;		/* -w */
	bool all;		/* -a */
};

static int key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct key *)a)->name, ((const struct key *)b)->name);
}

/* Every key, sorted as the kernel's directory lists them. */
static struct key *all_keys(size_t *n)
{
	struct key *k = calloc(uxt_ct_nsysctls + 1, sizeof(*k));

	if (!k)
		return NULL;
	for (unsigned int i = 0; i < uxt_ct_nsysctls; i++) {
		k[i].name = uxt_ct_sysctls[i].name;
		k[i].writable = uxt_ct_sysctls[i].writable;
	}
	qsort(k, uxt_ct_nsysctls, sizeof(*k), key_cmp);
	*n = uxt_ct_nsysctls;
	return k;
}

static int get_value(struct ct_state *st, const char *name, uint64_t *v)
{
	struct uxt_err e;

	return uxt_ct_table_sysctl_get(st->table, name, v, &e);
}

/* NAME with '/' as separators, as sysctl accepts it */
static void normalise(char *out, size_t n, const char *in)
{
	size_t i;

	for (i = 0; i + 1 < n && in[i]; i++)
		out[i] = in[i] == '/' ? '.' : in[i];
	out[i] = '\0';
}

static void print_key(struct uxt_buf *b, const struct sysctl_opts *o,
		      const char *name, uint64_t v)
{
	if (o->names_only)
		uxt_buf_printf(b, "%s%s\n", PREFIX, name);
	else if (o->values_only)
		uxt_buf_printf(b, "%llu\n", (unsigned long long)v);
	else
		uxt_buf_printf(b, "%s%s = %llu\n", PREFIX, name,
			       (unsigned long long)v);
}

/* Reads NAME (a key or a prefix of whole components). 0, or 1. */
static int read_name(struct cli_io *io, struct ct_state *st,
		     const struct sysctl_opts *o, const struct key *k,
		     size_t nk, const char *arg)
{
	char name[512];
	size_t len;
	int shown = 0;
	uint64_t v;

	normalise(name, sizeof(name), arg);
	len = strlen(name);
	while (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	for (size_t i = 0; i < nk; i++) {
		char full[512];

		snprintf(full, sizeof(full), "%s%s", PREFIX, k[i].name);
		if (strcmp(full, name) == 0) {
			if (get_value(st, k[i].name, &v) == 0)
				print_key(&io->out, o, k[i].name, v);
			return 0;
		}
		if (len < strlen(full) && strncmp(full, name, len) == 0 &&
		    full[len] == '.') {
			if (get_value(st, k[i].name, &v) == 0)
				print_key(&io->out, o, k[i].name, v);
			shown++;
		}
	}
	if (shown)
		return 0;
	if (o->ignore)
		return 0;
	{
		char path[600];

		snprintf(path, sizeof(path), "%s", name);
		for (char *p = path; *p; p++)
			if (*p == '.')
				*p = '/';
		uxt_buf_flush(&io->out);
		uxt_buf_printf(&io->err, "sysctl: cannot stat /proc/sys/%s: "
			       "No such file or directory\n", path);
	}
	return 1;
}

/* The kernel's reading of a number: 0 and *v, or -1 (EINVAL) */
static int parse_value(const char *s, uint64_t *v)
{
	unsigned long long n;
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 0);
	if (errno || end == s || n > INT_MAX)
		return -1;
	if (*end && !isspace((unsigned char)*end))
		return -1;
	*v = n;
	return 0;
}

/* Writes NAME=VALUE.  Returns the exit status it earns (0 or 1);
 * *changed when the settings changed. */
static int write_name(struct cli_io *io, struct ct_state *st,
		      const struct sysctl_opts *o, const struct key *k,
		      size_t nk, const char *arg, bool *changed)
{
	char name[512], shown[512];
	const char *eq = strchr(arg, '=');
	const char *value;
	const struct key *key = NULL;
	struct uxt_err e;
	uint64_t v;
	size_t len;

	if (!eq || eq == arg) {
		uxt_buf_flush(&io->out);
		uxt_buf_printf(&io->err, "sysctl: \"%s\" must be of the form "
			       "name=value\n", arg);
		return 1;
	}
	len = (size_t)(eq - arg);
	if (len >= sizeof(name))
		len = sizeof(name) - 1;
	memcpy(name, arg, len);
	name[len] = '\0';
	normalise(name, sizeof(name), name);
	/* sysctl trims blanks around the name and before the value */
	while (len > 0 && isspace((unsigned char)name[len - 1]))
		name[--len] = '\0';
	value = eq + 1;
	while (isspace((unsigned char)*value))
		value++;
	for (size_t i = 0; i < nk; i++) {
		char full[512];

		snprintf(full, sizeof(full), "%s%s", PREFIX, k[i].name);
		if (strcmp(full, name) == 0)
			key = &k[i];
	}
	if (!key) {
		if (o->ignore)
			return 0;
		for (char *p = name; *p; p++)
			if (*p == '.')
				*p = '/';
		uxt_buf_flush(&io->out);
		uxt_buf_printf(&io->err, "sysctl: cannot stat /proc/sys/%s: "
			       "No such file or directory\n", name);
		return 1;
	}
	snprintf(shown, sizeof(shown), "%s", name);
	if (!key->writable) {
		/* the kernel refuses it at write(); sysctl does not count it */
		uxt_buf_flush(&io->out);
		uxt_buf_printf(&io->err, "sysctl: setting key \"%s\": Invalid "
			       "argument\n", shown);
		return 0;
	}
	if (parse_value(value, &v) != 0 ||
	    uxt_ct_sysctl_set(uxt_ct_table_settings(st->table), key->name, v,
			      &e) != 0) {
		uxt_buf_flush(&io->out);
		uxt_buf_printf(&io->err, "sysctl: setting key \"%s\": Invalid "
			       "argument\n", shown);
		return 1;
	}
	*changed = true;
	if (!o->quiet) {
		if (o->values_only)
			uxt_buf_printf(&io->out, "%s\n", value);
		else
			uxt_buf_printf(&io->out, "%s = %s\n", shown, value);
	}
	return 0;
}

static const char usage_text[] =
	"\n"
	"Usage:\n"
	" uxt sysctl [options] [variable[=value] ...]\n"
	"\n"
	"The namespace's connection tracking settings (net.netfilter.*),\n"
	"kept with its conntrack table in the state directory.\n"
	"\n"
	"Options:\n"
	"  -a, --all            display all variables\n"
	"  -A                   alias of -a\n"
	"  -X                   alias of -a\n"
	"  -e, --ignore         ignore unknown variables errors\n"
	"  -N, --names          print variable names without values\n"
	"  -n, --values         print only values of the given variable(s)\n"
	"  -q, --quiet          do not echo variable set\n"
	"  -w, --write          enable writing a value to variable\n"
	"  -h, --help           display this help and exit\n";

int uxt_sysctl_main(int argc, char **argv)
{
	static const struct uxt_option longopts[] = {
		{"all", 0, 'a'}, {"ignore", 0, 'e'}, {"names", 0, 'N'},
		{"values", 0, 'n'}, {"quiet", 0, 'q'}, {"write", 0, 'w'},
		{"help", 0, 'h'}, {NULL, 0, 0},
	};
	struct sysctl_opts o;
	struct cli_io io;
	struct uxt_getopt g;
	struct ct_state st;
	struct uxt_err e;
	struct key *keys;
	size_t nk = 0;
	bool changed = false, writing = false;
	int opt, status = 0;

	memset(&o, 0, sizeof(o));
	cli_io_init(&io, "sysctl");
	uxt_getopt_init(&g, &io.err, 1);
	while ((opt = uxt_getopt_long(&g, argc, argv, "aAXeNnqwh", longopts,
				      NULL)) != -1) {
		switch (opt) {
		case 'a': case 'A': case 'X':
			o.all = true;
			break;
		case 'e':
			o.ignore = true;
			break;
		case 'N':
			o.names_only = true;
			break;
		case 'n':
			o.values_only = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'w':
			o.write = true;
			break;
		case 'h':
			uxt_buf_puts(&io.out, usage_text);
			cli_io_close(&io);
			return 0;
		default:
			uxt_buf_puts(&io.err, "Try `uxt sysctl --help' for more "
				     "information.\n");
			cli_io_close(&io);
			return 1;
		}
	}
	if (!o.all && g.optind >= argc) {
		uxt_buf_puts(&io.err, "sysctl: no variables specified\n"
			     "Try `uxt sysctl --help' for more information.\n");
		cli_io_close(&io);
		return 1;
	}
	for (int i = g.optind; i < argc; i++)
		if (o.write || strchr(argv[i], '='))
			writing = true;
	keys = all_keys(&nk);
	if (!keys || ct_state_open(&st, &e)) {
		if (!keys)
			uxt_error_bare(&e, UXT_RESOURCE_PROBLEM, "out of memory");
		uxt_buf_printf(&io.err, "sysctl: %s\n", e.msg);
		ct_state_close(&st);
		free(keys);
		cli_io_close(&io);
		return 1;
	}
	if (o.all) {
		for (size_t i = 0; i < nk; i++) {
			uint64_t v;

			if (get_value(&st, keys[i].name, &v) == 0)
				print_key(&io.out, &o, keys[i].name, v);
		}
	} else {
		for (int i = g.optind; i < argc; i++) {
			if (o.write && !strchr(argv[i], '=')) {
				uxt_buf_flush(&io.out);
				uxt_buf_printf(&io.err, "sysctl: command line(0): "
					       "invalid syntax, continuing...\n");
				status = 1;
				continue;
			}
			if (o.write || strchr(argv[i], '='))
				status |= write_name(&io, &st, &o, keys, nk,
						     argv[i], &changed);
			else
				status |= read_name(&io, &st, &o, keys, nk,
						    argv[i]);
		}
	}
	st.dirty = writing && changed;
	if (ct_state_commit(&st, &e)) {
		uxt_buf_printf(&io.err, "sysctl: %s\n", e.msg);
		status = 1;
	}
	ct_state_close(&st);
	free(keys);
	cli_io_close(&io);
	return status;
}
