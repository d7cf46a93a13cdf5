/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reentrant getopt_long.
 *
 * iptables parses its command line with glibc's getopt_long and a long-option
 * table that grows as extensions are loaded, and much of what iptables prints
 * on bad input follows from getopt's exact behaviour: abbreviations of long
 * options, "-" and "--" handling, argument permutation, option clusters, and
 * where optind stands after an error.  This is a reimplementation of glibc's
 * semantics with all state in struct uxt_getopt, so that it can be used on
 * several command lines in one process (iptables-restore, tests, fuzzing).
 *
 * Differences from glibc: no getopt_long_only, no "W;" convention; error
 * messages (when opterr is set) go to the err buffer given by the caller.
 */
#ifndef UXT_GETOPT_H
#define UXT_GETOPT_H

#include "buf.h"

struct uxt_option {
	const char *name;
	int has_arg;		/* 0 none, 1 required, 2 optional */
	int val;
};

struct uxt_getopt {
	/* public, as in getopt(3) */
	int optind;		/* set to 0 to (re)start a scan */
	char *optarg;
	int optopt;
	int opterr;		/* print glibc's messages to err */
	struct uxt_buf *err;
	/* private */
	int initialized;
	char *nextchar;
	int ordering;
	int first_nonopt;
	int last_nonopt;
	/* where each short option character is in optstring (kept across
	 * uxt_getopt_init() for the same optstring); must stay last */
	const char *cached_optstring;
	unsigned char optpos[256];
};

void uxt_getopt_init(struct uxt_getopt *g, struct uxt_buf *err, int opterr);
/* As uxt_getopt_init for a struct initialised before: keeps its cache. */
void uxt_getopt_restart(struct uxt_getopt *g, struct uxt_buf *err, int opterr);

/*
 * As getopt_long(3): returns the option's val, 1 for a non-option argument in
 * "-" mode, '?' for an unknown option, ':' (in ":" mode) for a missing
 * argument, -1 at the end.  longopts ends with a {NULL} entry.
 */
int uxt_getopt_long(struct uxt_getopt *g, int argc, char **argv,
		    const char *optstring, const struct uxt_option *longopts,
		    int *longind);

#endif
