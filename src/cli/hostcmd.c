/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uxt host: the host model and its routing decisions.
 *
 *   uxt host [--host FILE]
 *       the model (of the current network namespace, or of FILE) in the
 *       format --host reads, so "uxt host > h.txt" keeps a namespace for
 *       later use elsewhere
 *   uxt host [--host FILE] route get [to] ADDR [from ADDR] [iif DEV] [oif DEV]
 *       one routing decision on a line modelled on "ip route get":
 *       input routing with iif (a datagram received on DEV), else output
 *       routing (a local socket, bound to the from address and to oif)
 *
 * A decision that lets the datagram through prints
 *       TYPE DST [from SRC] [via GW] dev DEV [src ADDR] mtu N [iif DEV]
 * (src only for output routing, where it is the source the socket gets);
 * a refusal or a drop prints
 *       WORD DST [from SRC] [iif DEV | oif DEV] error ERRNO (REASON)
 * where WORD is the refusing route's type (blackhole, unreachable, prohibit)
 * or "drop", and ERRNO what "ip route get" would answer.  Exit status: 0
 * when the datagram goes on, 1 when it is refused or dropped, 2 on bad
 * usage or when the host cannot be read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "host.h"

static const char usage_text[] =
	"Usage: uxt host [--host FILE]\n"
	"       uxt host [--host FILE] route get [to] ADDR [from ADDR] "
	"[iif DEV] [oif DEV]\n"
	"\n"
	"Prints the host model (interfaces, addresses, routes, forwarding) of\n"
	"the current network namespace, or of FILE, in the format --host reads\n"
	"(docs/host.md); or how the host routes one datagram: with iif as\n"
	"received on DEV, else as sent by a local socket.\n";

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("uxt host: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry `uxt host --help' for more information.\n", stderr);
	return 2;
}

static const char *errno_name(int e)
{
	switch (e) {
	case EINVAL:
		return "EINVAL";
	case ENETUNREACH:
		return "ENETUNREACH";
	case EHOSTUNREACH:
		return "EHOSTUNREACH";
	case EACCES:
		return "EACCES";
	case EXDEV:
		return "EXDEV";
	case ENODEV:
		return "ENODEV";
	case ENETDOWN:
		return "ENETDOWN";
	}
	return "EUNKNOWN";
}

struct route_query {
	uint32_t dst, src;
	const char *iif_name, *oif_name;
	const struct uxt_iface *iif, *oif;
};

static int parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = a.s_addr;
	return 0;
}

/* The words after "route get". */
static int parse_route_get(int argc, char **argv, struct route_query *q)
{
	bool have_dst = false;

	for (int i = 0; i < argc; i++) {
		const char *w = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(w, "from") == 0 || strcmp(w, "iif") == 0 ||
		    strcmp(w, "oif") == 0 || strcmp(w, "to") == 0) {
			if (!v)
				return usage_error("'%s' needs a value", w);
			i++;
			if (strcmp(w, "from") == 0) {
				if (parse_ipv4(v, &q->src))
					return usage_error("bad source address "
							   "'%s'", v);
			} else if (strcmp(w, "iif") == 0) {
				q->iif_name = v;
			} else if (strcmp(w, "oif") == 0) {
				q->oif_name = v;
			} else {
				if (have_dst || parse_ipv4(v, &q->dst))
					return usage_error("bad destination "
							   "'%s'", v);
				have_dst = true;
			}
		} else if (!have_dst && parse_ipv4(w, &q->dst) == 0) {
			have_dst = true;
		} else {
			return usage_error("unexpected '%s' in route get", w);
		}
	}
	if (!have_dst)
		return usage_error("%s", "route get needs a destination address");
	if (q->iif_name && q->oif_name)
		return usage_error("%s", "iif (input routing) and oif (output "
				   "routing) do not go together");
	return 0;
}

static void put_addr(struct uxt_buf *out, const char *word, uint32_t a)
{
	uxt_buf_printf(out, " %s ", word);
	uxt_buf_ipv4(out, a);
}

static int route_get(const struct uxt_host *h, const struct route_query *q,
		     struct uxt_buf *out)
{
	struct uxt_route_result res;
	const char *reason = NULL;
	bool input = q->iif != NULL, passes;
	int rc;

	if (input)
		rc = uxt_host_route_input(h, q->iif, q->src, q->dst, &res,
					  &reason);
	else
		rc = uxt_host_route_output_src(h, q->src, q->dst, q->oif, &res,
					       &reason);
	passes = rc == 0 && res.error == 0;
	if (passes)
		uxt_buf_puts(out, uxt_route_type_name(res.type));
	else if (res.type == UXT_RTN_NONE)
		uxt_buf_puts(out, rc == 0 ? "unreachable" : "drop");
	else
		uxt_buf_puts(out, uxt_route_type_name(res.type));
	uxt_buf_putc(out, ' ');
	uxt_buf_ipv4(out, q->dst);
	if (q->src)
		put_addr(out, "from", q->src);
	if (passes) {
		if (res.nexthop != q->dst && res.type != UXT_RTN_LOCAL)
			put_addr(out, "via", res.nexthop);
		uxt_buf_printf(out, " dev %s", res.dev ? res.dev->name : "-");
		if (!input)
			put_addr(out, "src", res.src);
		uxt_buf_printf(out, " mtu %u", res.mtu);
	}
	if (input)
		uxt_buf_printf(out, " iif %s", q->iif->name);
	else if (q->oif && !passes)
		uxt_buf_printf(out, " oif %s", q->oif->name);
	if (!passes)
		uxt_buf_printf(out, " error %s (%s)", errno_name(res.error),
			       reason ? reason : "refused");
	uxt_buf_putc(out, '\n');
	return passes ? 0 : 1;
}

int uxt_host_main(int argc, char **argv)
{
	const char *file = NULL;
	struct uxt_host h;
	struct uxt_err err;
	struct uxt_buf out;
	struct route_query q = {0};
	int i = 1, rc;

	/* options come before the subcommand */
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strcmp(a, "--host") == 0) {
			if (i + 1 >= argc)
				return usage_error("%s", "--host needs a file");
			file = argv[++i];
		} else if (strncmp(a, "--host=", 7) == 0) {
			file = a + 7;
		} else {
			return usage_error("unknown option '%s'", a);
		}
	}
	if (i < argc) {
		if (strcmp(argv[i], "route") != 0)
			return usage_error("unknown command '%s' (route get)",
					   argv[i]);
		if (i + 1 >= argc || strcmp(argv[i + 1], "get") != 0)
			return usage_error("%s", "the route command is "
					   "'route get ADDR ...'");
		if (parse_route_get(argc - i - 2, argv + i + 2, &q))
			return 2;
	}

	uxt_err_clear(&err);
	if (file ? uxt_host_from_file(&h, file, &err) :
		   uxt_host_from_netns(&h, &err)) {
		fprintf(stderr, "uxt host: %s\n", err.msg);
		return 2;
	}
	if (q.iif_name && !(q.iif = uxt_host_iface_by_name(&h, q.iif_name))) {
		uxt_host_free(&h);
		return usage_error("no interface '%s'", q.iif_name);
	}
	if (q.oif_name && !(q.oif = uxt_host_iface_by_name(&h, q.oif_name))) {
		uxt_host_free(&h);
		return usage_error("no interface '%s'", q.oif_name);
	}
	uxt_buf_init(&out, STDOUT_FILENO);
	if (i < argc)
		rc = route_get(&h, &q, &out);
	else {
		uxt_host_format(&h, &out);
		rc = 0;
	}
	uxt_buf_free(&out);
	if (out.failed) {
		fputs("uxt host: cannot write the output\n", stderr);
		rc = 2;
	}
	uxt_host_free(&h);
	return rc;
}
