/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The control socket of uxt daemon: how the command line finds the daemon
 * that serves a state directory and talks to it.
 *
 * The daemon listens on DIR/daemon.sock (a SOCK_SEQPACKET unix socket,
 * mode 0600, in the state directory it serves) and holds DIR/daemon.pid
 * locked while it runs.  A request is one line of text, the answer too:
 *
 *   sync       the caller holds the state lock: write the live counters
 *              (and the rest of the live state) into the state directory
 *              now, so that what the caller loads next is current
 *   reload     the caller has committed a new state: compile it and swap
 *              it in; answered once every queue uses it, so the change
 *              applies to the next packet
 *   status     a few "key value" lines about the daemon
 *   ct-reload  the caller (conntrack -D/-F/-U, uxt sysctl -w) has committed
 *              the conntrack table it loaded after a sync: the daemon
 *              applies to its live table what the caller changed (entries
 *              removed, mark, status, timeout or TCP state changed, the
 *              settings) and leaves what packets changed since the sync
 *   ct-listen  a conntrack -E follows the event log: the daemon appends
 *              its events to it for the next CTL_LISTEN_MS (the listener
 *              asks again every second), as the kernel sends events only
 *              while someone listens
 *
 * Answers start with "ok" or with "error: " and the reason.
 *
 * The command line's side is small and in one place: cli_state_*
 * (report.c) call ctl_sync() after taking the lock and ctl_reload() after
 * each commit.  Without a daemon (no socket, or nobody listening on it: a
 * daemon that was killed) they do nothing and the command line works on
 * the state directory alone.
 */
#ifndef UXT_CTL_H
#define UXT_CTL_H

#include <stddef.h>

#include "err.h"

#define CTL_SOCKET_NAME "daemon.sock"
#define CTL_PID_NAME "daemon.pid"
/* how long the command line waits for an answer */
#define CTL_TIMEOUT_MS 120000

/* DIR/daemon.sock in out; -1 when the path is too long for a socket. */
int ctl_socket_path(const char *dir, char *out, size_t outsz);

/*
 * Sends req to the daemon serving dir and reads the answer into reply.
 * Returns 0 for an "ok" answer, 1 when no daemon serves dir, -1 with e set
 * for an "error: " answer or a daemon that does not answer.
 */
int ctl_call(const char *dir, const char *req, char *reply, size_t replysz,
	     struct uxt_err *e);

/* Whether a daemon listens on dir's control socket. */
int ctl_serves(const char *dir);

/* how long a ct-listen request holds */
#define CTL_LISTEN_MS 5000

/* The command line's two calls (0, or -1 with e set). */
int ctl_sync(const char *dir, struct uxt_err *e);
int ctl_reload(const char *dir, struct uxt_err *e);
/* The conntrack command's (0, or -1 with e set); ctl_ct_listen gives 1
 * when no daemon serves dir. */
int ctl_ct_reload(const char *dir, struct uxt_err *e);
int ctl_ct_listen(const char *dir, struct uxt_err *e);

#endif
