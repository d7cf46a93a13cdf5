/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The iptables command line: shared declarations of the front end.
 */
#ifndef UXT_CLI_H
#define UXT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "err.h"
#include "store.h"
#include "table.h"

#define UXT_IPTABLES_VERSION "1.8.9"
#define UXT_BACKEND "uxtables"

/* What a command line program prints to and how it reports errors. */
struct cli_io {
	const char *prog;	/* "iptables", "iptables-restore", ... */
	struct uxt_buf out;	/* stdout */
	struct uxt_buf err;	/* stderr: warnings and messages */
	int line;		/* iptables-restore line, or -1 */
};

void cli_io_init(struct cli_io *io, const char *prog);
/* Flushes both buffers. */
void cli_io_flush(struct cli_io *io);
/* Flushes and releases both buffers. */
void cli_io_close(struct cli_io *io);
/*
 * Prints e as iptables prints it (banner, "Error occurred at line", "Try
 * ... -h" or "Perhaps ... upgraded") and returns the exit status.
 */
int cli_report(struct cli_io *io, const struct uxt_err *e);
/*
 * Fills e with libiptc's message for a failed operation, as iptables_main()
 * prints it ("iptables: <text>." with the dmesg hint for EINVAL).  op names
 * the libiptc function (enum cli_op) because iptc_strerror() depends on it.
 */
enum cli_op {
	OP_OTHER,
	OP_INIT,
	OP_INSERT,
	OP_APPEND,
	OP_REPLACE,
	OP_DELETE,
	OP_DELETE_NUM,
	OP_CHECK,
	OP_ZERO_NUM,
	OP_CREATE_CHAIN,
	OP_DELETE_CHAIN,
	OP_RENAME_CHAIN,
	OP_SET_POLICY,
	OP_COMMIT,
};
const char *cli_iptc_strerror(enum cli_op op, int error);
void cli_iptc_error(struct uxt_err *e, enum cli_op op, int error);

/* The state of this namespace, locked and loaded for one command. */
struct cli_state {
	struct uxt_store store;
	struct uxt_ruleset rs;
	bool loaded;
	bool locked;
};

int cli_state_open(struct cli_state *st, struct uxt_err *e);
int cli_state_lock_load(struct cli_state *st, int wait, struct uxt_err *e);
/* The same, for iptables-restore about to replace table whole: its rules
 * are not read (uxt_store_load_replacing). */
int cli_state_lock_load_replacing(struct cli_state *st, int wait,
				  const char *table, struct uxt_err *e);
int cli_state_commit(struct cli_state *st, struct uxt_err *e);
/* Loads without taking the lock (iptables-save), except when a daemon
 * serves the state: then locked, with its live counters. */
int cli_state_load_unlocked(struct cli_state *st, struct uxt_err *e);
void cli_state_close(struct cli_state *st);

/*
 * One iptables command (do_command4): parses argv, then runs it against
 * the table *tablep of st.  In restore mode the caller holds the lock and
 * passes the table being restored; *changed tells whether it changed.
 * Returns 0, or -1 with e set (e->status is the exit status).
 */
/* Buffers one command leaves for the next (iptables-restore). */
struct cli_cmd_scratch;
struct cli_cmd_scratch *cli_cmd_scratch_new(void);
void cli_cmd_scratch_free(struct cli_cmd_scratch *s);

struct cli_cmd_opts {
	struct cli_cmd_scratch *scratch;	/* NULL: allocate per call */
	bool restore;
	struct uxt_table *restore_table;	/* restore mode: the handle */
	struct uxt_ruleset *restore_rs;
	const char *const *announced;		/* restore: chains seen */
};
int cli_do_command(struct cli_io *io, struct cli_state *st, int argc,
		   char **argv, const struct cli_cmd_opts *opts, bool *changed,
		   struct uxt_err *e);
/*
 * iptables-restore's fast path for a plain "-A" rule line (argv without
 * "iptables -t TABLE"): appends to t exactly the rule cli_do_command would
 * and returns 1, or returns 0, having changed nothing, for a line it does
 * not take; the caller then runs cli_do_command.  See iptables.c.
 */
int cli_restore_append(struct uxt_ruleset *rs, struct uxt_table *t,
		       const char *table, int argc, char **argv);

int iptables_main(int argc, char **argv);
int iptables_save_main(int argc, char **argv);
int uxt_inject_main(int argc, char **argv);
int uxt_replay_main(int argc, char **argv);
int uxt_host_main(int argc, char **argv);
int uxt_daemon_main(int argc, char **argv);
/* conntrack (conntrack.c) and uxt sysctl (sysctl.c) */
int conntrack_main(int argc, char **argv);
int uxt_sysctl_main(int argc, char **argv);
int iptables_restore_main(int argc, char **argv);
/* iptables-restore reading from input when no file is named (fuzzing) */
int iptables_restore_run(int argc, char **argv, FILE *input);

/* The help text of iptables -h. */
void cli_print_help(struct uxt_buf *out, const char *prog);

#endif
