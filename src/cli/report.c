/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * How the command line reports: output buffers, error texts and exit
 * status, and the state of the namespace for one command.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"

void cli_io_init(struct cli_io *io, const char *prog)
{
	io->prog = prog;
	uxt_buf_init(&io->out, STDOUT_FILENO);
	uxt_buf_init(&io->err, STDERR_FILENO);
	io->line = -1;
}

void cli_io_flush(struct cli_io *io)
{
	/* stdio order: stderr is unbuffered, stdout reaches a pipe at exit */
	uxt_buf_flush(&io->err);
	uxt_buf_flush(&io->out);
}

void cli_io_close(struct cli_io *io)
{
	cli_io_flush(io);
	uxt_buf_free(&io->err);
	uxt_buf_free(&io->out);
}

int cli_report(struct cli_io *io, const struct uxt_err *e)
{
	struct uxt_buf *b = &io->err;

	if (isatty(STDOUT_FILENO))
		uxt_buf_flush(&io->out);
	if (!(e->flags & UXT_ERR_BARE))
		uxt_buf_printf(b, "%s v%s: ", io->prog,
			       UXT_IPTABLES_VERSION " (" UXT_BACKEND ")");
	if (e->msg[0] || !(e->flags & UXT_ERR_BARE))
		uxt_buf_printf(b, "%s\n", e->msg);
	if (e->status == UXT_PARAMETER_PROBLEM && !(e->flags & UXT_ERR_NO_TRY)) {
		if (io->line != -1)
			uxt_buf_printf(b, "Error occurred at line: %d\n", io->line);
		uxt_buf_printf(b,
			       "Try `%s -h' or '%s --help' for more information.\n",
			       io->prog, io->prog);
	} else if (e->status == UXT_VERSION_PROBLEM) {
		uxt_buf_printf(b,
			       "Perhaps %s or your kernel needs to be upgraded.\n",
			       io->prog);
	}
	uxt_buf_flush(b);
	return e->status;
}

const char *cli_iptc_strerror(enum cli_op op, int error)
{
	static const struct {
		enum cli_op op;
		int error;
		const char *message;
	} table[] = {
		{OP_INIT, EPERM, "Permission denied (you must be root)"},
		{OP_INIT, EINVAL, "Module is wrong version"},
		{OP_INIT, ENOENT, "Table does not exist (do you need to insmod?)"},
		{OP_CREATE_CHAIN, EEXIST, "Chain already exists"},
		{OP_INSERT, E2BIG, "Index of insertion too big"},
		{OP_REPLACE, E2BIG, "Index of replacement too big"},
		{OP_DELETE_NUM, E2BIG, "Index of deletion too big"},
		{OP_ZERO_NUM, E2BIG, "Index of counter too big"},
		/* libiptc also lists ELOOP and EINVAL of insertion, but
		 * insertion never fails with ELOOP, and its EINVAL comes from
		 * TC_BUILTIN having replaced the function first */
		{OP_DELETE, ENOENT,
		 "Bad rule (does a matching rule exist in that chain?)"},
		{OP_CHECK, ENOENT,
		 "Bad rule (does a matching rule exist in that chain?)"},
		{OP_SET_POLICY, ENOENT, "Bad built-in chain name"},
		{OP_SET_POLICY, EINVAL, "Bad policy name"},
		{OP_OTHER, 0, "Incompatible with this kernel"},
		{OP_OTHER, ENOPROTOOPT, "iptables who? (do you need to insmod?)"},
		{OP_OTHER, ENOSYS, "Will be implemented real soon.  I promise ;)"},
		{OP_OTHER, ENOMEM, "Memory allocation problem"},
		{OP_OTHER, ENOENT, "No chain/target/match by that name"},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if ((table[i].op == OP_OTHER || table[i].op == op) &&
		    table[i].error == error)
			return table[i].message;
	return strerror(error);
}

void cli_iptc_error(struct uxt_err *e, enum cli_op op, int error)
{
	e->status = error == EAGAIN ? UXT_RESOURCE_PROBLEM : UXT_OTHER_PROBLEM;
	e->flags = UXT_ERR_BARE | UXT_ERR_NO_TRY;
	if (error == EINVAL)
		snprintf(e->msg, sizeof(e->msg),
			 "iptables: %s. Run `dmesg' for more information.",
			 cli_iptc_strerror(op, error));
	else
		snprintf(e->msg, sizeof(e->msg), "iptables: %s.",
			 cli_iptc_strerror(op, error));
}

int cli_state_open(struct cli_state *st, struct uxt_err *e)
{
	char dir[4096];

	memset(st, 0, sizeof(*st));
	st->store.lock_fd = -1;
	if (uxt_store_default_dir(dir, sizeof(dir), e))
		return -1;
	return uxt_store_open(&st->store, dir, e);
}

static int lock_load(struct cli_state *st, int wait, const char *replacing,
		     struct uxt_err *e)
{
	if (!st->locked) {
		if (uxt_store_lock(&st->store, wait, e))
			return -1;
		st->locked = true;
		/* a daemon serving this state writes its live counters into
		 * it first (ctl.h) */
		if (ctl_sync(st->store.dir, e))
			return -1;
	}
	if (!st->loaded) {
		if (replacing ? uxt_store_load_replacing(&st->store, &st->rs,
							 replacing, e)
			      : uxt_store_load(&st->store, &st->rs, e))
			return -1;
		st->loaded = true;
	}
	return 0;
}

int cli_state_lock_load(struct cli_state *st, int wait, struct uxt_err *e)
{
	return lock_load(st, wait, NULL, e);
}

int cli_state_lock_load_replacing(struct cli_state *st, int wait,
				  const char *table, struct uxt_err *e)
{
	return lock_load(st, wait, table, e);
}

int cli_state_commit(struct cli_state *st, struct uxt_err *e)
{
	if (uxt_store_commit(&st->store, &st->rs, e))
		return -1;
	/* a daemon serving this state applies it before the command ends */
	return ctl_reload(st->store.dir, e);
}

int cli_state_load_unlocked(struct cli_state *st, struct uxt_err *e)
{
	int ret;

	/* without a daemon a reader needs no lock: a commit replaces the
	 * file whole; with one, the live counters come in under the lock */
	if (!ctl_serves(st->store.dir))
		ret = uxt_store_load(&st->store, &st->rs, e);
	else
		ret = cli_state_lock_load(st, 0, e);
	if (ret == 0)
		st->loaded = true;
	return ret;
}

void cli_state_close(struct cli_state *st)
{
	if (st->loaded)
		uxt_ruleset_free(&st->rs);
	st->loaded = false;
	st->locked = false;
	uxt_store_close(&st->store);
}
