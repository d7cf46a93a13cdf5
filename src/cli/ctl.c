/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The command line's side of the control socket (see ctl.h).
 */
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int ctl_socket_path(const char *dir, char *out, size_t outsz)
{
	struct sockaddr_un sa;
	int n = snprintf(out, outsz, "%s/%s", dir, CTL_SOCKET_NAME);

	if (n < 0 || (size_t)n >= outsz || (size_t)n >= sizeof(sa.sun_path))
		return -1;
	return 0;
}

static int daemon_error(struct uxt_err *e, const char *fmt, const char *arg)
{
	uxt_error_bare(e, UXT_OTHER_PROBLEM, fmt, arg);
	e->flags |= UXT_ERR_NO_TRY;
	return -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_call(const char *dir, const char *req, char *reply, size_t replysz,
	     struct uxt_err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pollfd pfd;
	int64_t deadline;
	ssize_t n;
	int fd;

	if (replysz == 0)
		return daemon_error(e, "uxt daemon: %s", "no room for an answer");
	reply[0] = '\0';
	if (ctl_socket_path(dir, sa.sun_path, sizeof(sa.sun_path)))
		return 1;	/* no daemon can listen there */
	if (access(sa.sun_path, F_OK) != 0)
		return 1;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return daemon_error(e, "uxt daemon: socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int err = errno;

		close(fd);
		/* a socket nobody listens on: the daemon is gone */
		if (err == ECONNREFUSED || err == ENOENT)
			return 1;
		return daemon_error(e, "uxt daemon: connect: %s", strerror(err));
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		int err = errno;

		close(fd);
		if (err == EPIPE || err == ECONNRESET)
			return 1;
		return daemon_error(e, "uxt daemon: send: %s", strerror(err));
	}
	deadline = now_ms() + CTL_TIMEOUT_MS;
	for (;;) {
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0) {
			close(fd);
			return daemon_error(e, "uxt daemon: %s",
					    "no answer from the daemon (it may be "
					    "stuck; stop it to work without it)");
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;

			close(fd);
			return daemon_error(e, "uxt daemon: poll: %s", strerror(err));
		}
		if (r > 0)
			break;
	}
	n = recv(fd, reply, replysz - 1, 0);
	close(fd);
	if (n <= 0)
		/* it went away while answering: as if it had not been there */
		return 1;
	reply[n] = '\0';
	if (strncmp(reply, "ok", 2) == 0)
		return 0;
	if (strncmp(reply, "error: ", 7) == 0)
		return daemon_error(e, "uxt daemon: %s", reply + 7);
	return daemon_error(e, "uxt daemon: unexpected answer: %s", reply);
}

int ctl_serves(const char *dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ok;

	if (ctl_socket_path(dir, sa.sun_path, sizeof(sa.sun_path)) ||
	    access(sa.sun_path, F_OK) != 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

int ctl_sync(const char *dir, struct uxt_err *e)
{
	char reply[512];

	return ctl_call(dir, "sync", reply, sizeof(reply), e) < 0 ? -1 : 0;
}

int ctl_reload(const char *dir, struct uxt_err *e)
{
	char reply[512];

	return ctl_call(dir, "reload", reply, sizeof(reply), e) < 0 ? -1 : 0;
}

int ctl_ct_reload(const char *dir, struct uxt_err *e)
{
	char reply[512];

	return ctl_call(dir, "ct-reload", reply, sizeof(reply), e) < 0 ? -1 : 0;
}

int ctl_ct_listen(const char *dir, struct uxt_err *e)
{
	char reply[512];

	return ctl_call(dir, "ct-listen", reply, sizeof(reply), e);
}
