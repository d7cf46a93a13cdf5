/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Error records.
 *
 * Library code never prints an error and never exits: it fills a uxt_err and
 * returns -1.  The command line turns the record into iptables' text and exit
 * status in one place (src/cli/report.c).  The status values are libxtables'
 * enum xtables_exittype.
 */
#ifndef UXT_ERR_H
#define UXT_ERR_H

enum uxt_status {
	UXT_OK = 0,
	UXT_OTHER_PROBLEM = 1,
	UXT_PARAMETER_PROBLEM = 2,
	UXT_VERSION_PROBLEM = 3,
	UXT_RESOURCE_PROBLEM = 4,
};

enum uxt_err_flags {
	/* message is printed as is: no "prog vX (backend): " banner */
	UXT_ERR_BARE = 1 << 0,
	/* no "Try `prog -h'" line even for a parameter problem */
	UXT_ERR_NO_TRY = 1 << 1,
};

struct uxt_err {
	int status;
	int flags;
	char msg[8192];
};

int uxt_error(struct uxt_err *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int uxt_error_bare(struct uxt_err *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void uxt_err_clear(struct uxt_err *e);

#endif
