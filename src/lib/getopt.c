/* SPDX-License-Identifier: BSD-2-Clause */
#include "getopt.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { REQUIRE_ORDER, PERMUTE, RETURN_IN_ORDER };

void uxt_getopt_init(struct uxt_getopt *g, struct uxt_buf *err, int opterr)
{
	memset(g, 0, sizeof(*g));
	g->err = err;
	g->opterr = opterr;
}

void uxt_getopt_restart(struct uxt_getopt *g, struct uxt_buf *err, int opterr)
{
	/* everything before the short-option cache, which stays valid */
	memset(g, 0, offsetof(struct uxt_getopt, cached_optstring));
	g->err = err;
	g->opterr = opterr;
}

/* strchr(optstring, c) through a table built once per optstring */
static const char *short_option(struct uxt_getopt *g, const char *optstring,
				char c)
{
	if (g->cached_optstring != optstring) {
		size_t n = strlen(optstring);

		memset(g->optpos, 0, sizeof(g->optpos));
		/* from the end, so that the first occurrence wins */
		for (size_t i = n; i-- > 0;)
			if (i < 255)
				g->optpos[(unsigned char)optstring[i]] = (unsigned char)(i + 1);
		g->cached_optstring = n < 255 ? optstring : NULL;
		if (!g->cached_optstring)
			return strchr(optstring, c);
	}
	if (c == '\0')
		return NULL;
	return g->optpos[(unsigned char)c] ? optstring + g->optpos[(unsigned char)c] - 1
					   : NULL;
}

/*
 * Moves the block of skipped non-options [first_nonopt, last_nonopt) after the
 * options [last_nonopt, optind) that followed it, as glibc does in PERMUTE
 * mode, so that the caller finds the non-options at the end.
 */
static void exchange(char **argv, struct uxt_getopt *g)
{
	int bottom = g->first_nonopt;
	int middle = g->last_nonopt;
	int top = g->optind;
	char *tem;

	while (top > middle && middle > bottom) {
		if (top - middle > middle - bottom) {
			int len = middle - bottom;

			for (int i = 0; i < len; i++) {
				tem = argv[bottom + i];
				argv[bottom + i] = argv[top - (middle - bottom) + i];
				argv[top - (middle - bottom) + i] = tem;
			}
			top -= len;
		} else {
			int len = top - middle;

			for (int i = 0; i < len; i++) {
				tem = argv[bottom + i];
				argv[bottom + i] = argv[middle + i];
				argv[middle + i] = tem;
			}
			bottom += len;
		}
	}
	g->first_nonopt += g->optind - g->last_nonopt;
	g->last_nonopt = g->optind;
}

static void perr(struct uxt_getopt *g, int print, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct uxt_getopt *g, int print, const char *fmt, ...)
{
	va_list ap;

	if (!print || !g->err)
		return;
	va_start(ap, fmt);
	uxt_buf_vprintf(g->err, fmt, ap);
	va_end(ap);
}

static int process_long_option(struct uxt_getopt *g, int argc, char **argv,
			       const char *optstring,
			       const struct uxt_option *longopts, int *longind,
			       int print_errors, const char *prefix)
{
	char *nameend;
	size_t namelen;
	const struct uxt_option *p, *pfound = NULL;
	int n_options, option_index = 0;

	for (nameend = g->nextchar; *nameend && *nameend != '='; nameend++)
		;
	namelen = (size_t)(nameend - g->nextchar);

	for (p = longopts, n_options = 0; p->name; p++, n_options++)
		if (p->name[0] == g->nextchar[0] &&
		    strncmp(p->name, g->nextchar, namelen) == 0 &&
		    p->name[namelen] == '\0') {
			pfound = p;
			option_index = n_options;
			break;
		}

	if (pfound == NULL) {
		unsigned char *ambig = NULL;
		int indfound = -1;

		for (p = longopts, option_index = 0; p->name; p++, option_index++) {
			if (strncmp(p->name, g->nextchar, namelen) != 0)
				continue;
			if (pfound == NULL) {
				pfound = p;
				indfound = option_index;
			} else if (pfound->has_arg != p->has_arg ||
				   pfound->val != p->val) {
				if (!ambig) {
					ambig = calloc((size_t)n_options, 1);
					if (!ambig)
						abort();
					ambig[indfound] = 1;
				}
				ambig[option_index] = 1;
			}
		}
		if (ambig) {
			if (print_errors && g->err) {
				perr(g, 1, "%s: option '%s%s' is ambiguous; possibilities:",
				     argv[0], prefix, g->nextchar);
				for (int i = 0; i < n_options; i++)
					if (ambig[i])
						perr(g, 1, " '%s%s'", prefix, longopts[i].name);
				perr(g, 1, "\n");
			}
			free(ambig);
			g->nextchar += strlen(g->nextchar);
			g->optind++;
			g->optopt = 0;
			return '?';
		}
		option_index = indfound;
	}

	if (pfound == NULL) {
		perr(g, print_errors, "%s: unrecognized option '%s%s'\n",
		     argv[0], prefix, g->nextchar);
		g->nextchar = NULL;
		g->optind++;
		g->optopt = 0;
		return '?';
	}

	g->optind++;
	g->nextchar = NULL;
	if (*nameend) {
		if (pfound->has_arg) {
			g->optarg = nameend + 1;
		} else {
			perr(g, print_errors,
			     "%s: option '%s%s' doesn't allow an argument\n",
			     argv[0], prefix, pfound->name);
			g->optopt = pfound->val;
			return '?';
		}
	} else if (pfound->has_arg == 1) {
		if (g->optind < argc) {
			g->optarg = argv[g->optind++];
		} else {
			perr(g, print_errors,
			     "%s: option '%s%s' requires an argument\n",
			     argv[0], prefix, pfound->name);
			g->optopt = pfound->val;
			return optstring[0] == ':' ? ':' : '?';
		}
	}
	if (longind)
		*longind = option_index;
	return pfound->val;
}

static const char *initialize(struct uxt_getopt *g, const char *optstring)
{
	if (g->optind == 0)
		g->optind = 1;
	g->first_nonopt = g->last_nonopt = g->optind;
	g->nextchar = NULL;
	if (optstring[0] == '-') {
		g->ordering = RETURN_IN_ORDER;
		++optstring;
	} else if (optstring[0] == '+') {
		g->ordering = REQUIRE_ORDER;
		++optstring;
	} else if (getenv("POSIXLY_CORRECT")) {
		g->ordering = REQUIRE_ORDER;
	} else {
		g->ordering = PERMUTE;
	}
	g->initialized = 1;
	return optstring;
}

int uxt_getopt_long(struct uxt_getopt *g, int argc, char **argv,
		    const char *optstring, const struct uxt_option *longopts,
		    int *longind)
{
	int print_errors = g->opterr;

	if (argc < 1)
		return -1;
	g->optarg = NULL;
	if (g->optind == 0 || !g->initialized)
		optstring = initialize(g, optstring);
	else if (optstring[0] == '-' || optstring[0] == '+')
		optstring++;
	if (optstring[0] == ':')
		print_errors = 0;

#define NONOPTION_P (argv[g->optind][0] != '-' || argv[g->optind][1] == '\0')

	if (g->nextchar == NULL || *g->nextchar == '\0') {
		if (g->last_nonopt > g->optind)
			g->last_nonopt = g->optind;
		if (g->first_nonopt > g->optind)
			g->first_nonopt = g->optind;

		if (g->ordering == PERMUTE) {
			if (g->first_nonopt != g->last_nonopt &&
			    g->last_nonopt != g->optind)
				exchange(argv, g);
			else if (g->last_nonopt != g->optind)
				g->first_nonopt = g->optind;
			while (g->optind < argc && NONOPTION_P)
				g->optind++;
			g->last_nonopt = g->optind;
		}

		if (g->optind != argc && strcmp(argv[g->optind], "--") == 0) {
			g->optind++;
			if (g->first_nonopt != g->last_nonopt &&
			    g->last_nonopt != g->optind)
				exchange(argv, g);
			else if (g->first_nonopt == g->last_nonopt)
				g->first_nonopt = g->optind;
			g->last_nonopt = argc;
			g->optind = argc;
		}

		if (g->optind == argc) {
			if (g->first_nonopt != g->last_nonopt)
				g->optind = g->first_nonopt;
			return -1;
		}

		if (NONOPTION_P) {
			if (g->ordering == REQUIRE_ORDER)
				return -1;
			g->optarg = argv[g->optind++];
			return 1;
		}

		if (longopts && argv[g->optind][1] == '-') {
			g->nextchar = argv[g->optind] + 2;
			return process_long_option(g, argc, argv, optstring,
						   longopts, longind,
						   print_errors, "--");
		}
		g->nextchar = argv[g->optind] + 1;
	}
#undef NONOPTION_P

	{
		char c = *g->nextchar++;
		const char *temp = short_option(g, optstring, c);

		if (*g->nextchar == '\0')
			++g->optind;

		if (temp == NULL || c == ':' || c == ';') {
			perr(g, print_errors, "%s: invalid option -- '%c'\n",
			     argv[0], c);
			g->optopt = (unsigned char)c;
			return '?';
		}
		if (temp[1] == ':') {
			if (temp[2] == ':') {
				if (*g->nextchar != '\0') {
					g->optarg = g->nextchar;
					g->optind++;
				} else {
					g->optarg = NULL;
				}
				g->nextchar = NULL;
			} else {
				if (*g->nextchar != '\0') {
					g->optarg = g->nextchar;
					g->optind++;
				} else if (g->optind == argc) {
					perr(g, print_errors,
					     "%s: option requires an argument -- '%c'\n",
					     argv[0], c);
					g->optopt = (unsigned char)c;
					c = optstring[0] == ':' ? ':' : '?';
				} else {
					g->optarg = argv[g->optind++];
				}
				g->nextchar = NULL;
			}
		}
		return (unsigned char)c;
	}
}
