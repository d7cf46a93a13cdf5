/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Test driver for connection tracking (tests/ct_units.py): one namespace
 * with the host of the kernel test bed (dut between client and server),
 * driven by a script on stdin, one command a line:
 *
 *   rule ARGS...          an iptables command (e.g. -t raw -A PREROUTING ...)
 *   sysctl NAME VALUE     a conntrack setting (nf_conntrack_*), any time
 *   limit MAX BUCKETS     nf_conntrack_max and _buckets (read-only in a
 *                         namespace: set here directly)
 *   go                    the ruleset is complete: start the namespace
 *   time SECONDS          the namespace clock (may be fractional)
 *   recv IFACE HEX        a datagram received on IFACE
 *   send HEX              a datagram a local raw socket sends
 *   dump                  the table, one "ct ..." line per entry, then
 *                         "dumpend"
 *   flush                 conntrack -F: every entry destroyed
 *   stats                 "stats found=N invalid=N ..." (conntrack -S)
 *   reload on|off         save and load the table after every packet (the
 *                         state file's round trip), default on
 *   save FILE             writes the table's saved form to FILE
 *
 * Prints what happens: per packet "match TABLE CHAIN RULENUM" for every
 * rule whose counter moved (packets the engine made are prefixed
 * "nested "), "xmit IFACE HEX", "deliver", "drop REASON", then "end";
 * "event KIND ..." for each conntrack event; "log ..." for log lines.
 * Entries and events are printed in a canonical form tests/ct_units.py
 * also makes of the kernel's conntrack -L / -E lines:
 *
 *   proto=N [t=SECONDS] [state=S] o=SRC,DST[,..] [oc=PKTS,BYTES]
 *   [unreplied] r=SRC,DST[,..] [rc=PKTS,BYTES] [assured] [mark=N] [zone=N]
 *
 * with ",p:SPORT,p:DPORT" for TCP, UDP, UDP-Lite and SCTP, and
 * ",type:T,code:C,id:I" for ICMP.  Events show what ctnetlink puts in
 * them: a timeout unless DESTROY, the TCP state with PROTOINFO or
 * DESTROY, counters with DESTROY, the mark with MARK or when not 0.
 *
 * The host: lo 127.0.0.1/8; eth0 10.77.1.1/24 (index 2, the client side);
 * eth1 10.77.2.1/24 (index 3, the server side); forwarding on.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "ct.h"
#include "engine.h"

#define LINE_MAX_LEN 200000

static struct uxt_ns *the_ns;

static void print_hex(const unsigned char *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		printf("%02x", p[i]);
}

static void ev_xmit(void *ctx, const struct uxt_pkt *pkt,
		    const struct uxt_iface *dev)
{
	(void)ctx;
	printf("xmit %s ", dev->name);
	print_hex(pkt->data, pkt->len);
	putchar('\n');
}

static void ev_deliver(void *ctx, const struct uxt_pkt *pkt)
{
	(void)ctx;
	(void)pkt;
	if (uxt_ns_depth(the_ns) == 0)
		printf("deliver\n");
}

static void ev_drop(void *ctx, const struct uxt_pkt *pkt, const char *reason)
{
	(void)ctx;
	(void)pkt;
	printf("%sdrop %s\n", uxt_ns_depth(the_ns) ? "nested " : "",
	       reason ? reason : "table");
}

static void ev_rule(void *ctx, const char *table, unsigned int hook,
		    const char *chain, unsigned int rulenum, const char *comment,
		    const struct uxt_rule *rule)
{
	(void)ctx;
	(void)hook;
	(void)rule;
	(void)comment;
	/* a chain's tail (policy, implicit RETURN) is rules + 1 */
	printf("%smatch %s %s %u\n", uxt_ns_depth(the_ns) ? "nested " : "",
	       table, chain, rulenum);
}

static void ev_log(void *ctx, unsigned int level, const char *line)
{
	(void)ctx;
	printf("log <%u>%s\n", level, line);
}

static void put_tuple(struct uxt_buf *b, const struct uxt_ct_tuple *t)
{
	uxt_buf_ipv4(b, t->src);
	uxt_buf_putc(b, ',');
	uxt_buf_ipv4(b, t->dst);
	switch (t->proto) {
	case 6:
	case 17:
	case 136:
	case 132:
		uxt_buf_printf(b, ",p:%u,p:%u", ntohs(t->sport), ntohs(t->dport));
		break;
	case 1:
		uxt_buf_printf(b, ",type:%u,code:%u,id:%u", ntohs(t->dport) >> 8,
			       ntohs(t->dport) & 0xFF, ntohs(t->sport));
		break;
	default:
		break;
	}
}

/* The canonical form (see above); event_mask 0 for a dump. */
static void canon(struct uxt_buf *b, const struct uxt_ct *ct, bool event,
		  unsigned int kind, uint32_t mask, uint64_t now)
{
	bool destroy = event && kind == UXT_CT_EVENT_DESTROY;
	const char *state = uxt_ct_state_name(ct);

	uxt_buf_printf(b, "proto=%u", ct->tuple[0].proto);
	/* a DESTROY event has the time left, if any (not after expiry) */
	if (!destroy || uxt_ct_seconds_left(ct, now) > 0)
		uxt_buf_printf(b, " t=%u", uxt_ct_seconds_left(ct, now));
	if (state && (!event || destroy || (mask & (1u << UXT_IPCT_PROTOINFO))))
		uxt_buf_printf(b, " state=%s", state);
	uxt_buf_puts(b, " o=");
	put_tuple(b, &ct->tuple[0]);
	if (ct->acct && (!event || destroy))
		uxt_buf_printf(b, " oc=%llu,%llu", (unsigned long long)ct->packets[0],
			       (unsigned long long)ct->bytes[0]);
	if (!(ct->status & UXT_IPS_SEEN_REPLY))
		uxt_buf_puts(b, " unreplied");
	uxt_buf_puts(b, " r=");
	put_tuple(b, &ct->tuple[1]);
	if (ct->acct && (!event || destroy))
		uxt_buf_printf(b, " rc=%llu,%llu", (unsigned long long)ct->packets[1],
			       (unsigned long long)ct->bytes[1]);
	if (ct->status & UXT_IPS_ASSURED)
		uxt_buf_puts(b, " assured");
	if (!event || (mask & (1u << UXT_IPCT_MARK)) || ct->mark)
		uxt_buf_printf(b, " mark=%u", ct->mark);
	if (ct->zone)
		uxt_buf_printf(b, " zone=%u", ct->zone);
}

static void ev_ct(void *ctx, unsigned int kind, uint32_t mask,
		  const struct uxt_ct *ct, uint64_t now_ns)
{
	struct uxt_buf b;

	(void)ctx;
	uxt_buf_init(&b, -1);
	canon(&b, ct, true, kind, mask, now_ns);
	printf("event %s %s\n", kind == UXT_CT_EVENT_NEW ? "NEW" :
				kind == UXT_CT_EVENT_UPDATE ? "UPDATE" : "DESTROY",
	       uxt_buf_str(&b));
	uxt_buf_free(&b);
}

struct dump_ctx {
	uint64_t now;
	struct uxt_ct **all;
	size_t n, cap;
};

static int dump_one(struct uxt_ct *ct, void *arg)
{
	struct dump_ctx *d = arg;
	struct uxt_buf b;

	if (d->all) {
		if (d->n == d->cap)
			return 1;
		d->all[d->n++] = ct;
		return 0;
	}
	uxt_buf_init(&b, -1);
	canon(&b, ct, false, 0, 0, d->now);
	printf("ct %s\n", uxt_buf_str(&b));
	uxt_buf_free(&b);
	return 0;
}

static struct uxt_iface *add_iface(struct uxt_host *h, const char *name,
				   int index, const char *addr, uint8_t plen,
				   bool lo)
{
	struct uxt_iface *i = uxt_host_add_iface(h, name, index);

	i->up = true;
	i->loopback = lo;
	i->send_redirects = false;
	i->mtu = lo ? 65536 : 1500;
	i->type = lo ? UXT_ARPHRD_LOOPBACK : UXT_ARPHRD_ETHER;
	i->mac_len = 6;
	memset(i->mac, 0, 6);
	if (!lo) {
		i->mac[0] = 0x02;
		i->mac[5] = (unsigned char)index;
	}
	inet_pton(AF_INET, addr, &i->addrs[0].addr);
	i->addrs[0].prefixlen = plen;
	i->addrs[0].broadcast = lo ? 0 : (i->addrs[0].addr | htonl(0xFFFFFFFFu >> plen));
	i->addrs[0].scope = lo ? UXT_SCOPE_HOST : UXT_SCOPE_UNIVERSE;
	i->naddrs = 1;
	return i;
}

static void add_route(struct uxt_host *h, const char *dst, uint8_t len, int oif)
{
	struct uxt_route r = {.dst_len = len, .type = UXT_RTN_UNICAST, .oif = oif};

	inet_pton(AF_INET, dst, &r.dst);
	r.scope = UXT_SCOPE_LINK;
	uxt_host_add_route(h, &r);
}

static struct uxt_host *make_host(void)
{
	struct uxt_host *h = calloc(1, sizeof(*h));

	if (!h)
		exit(1);
	uxt_host_init(h);
	add_iface(h, "lo", 1, "127.0.0.1", 8, true);
	add_iface(h, "eth0", 2, "10.77.1.1", 24, false);
	add_iface(h, "eth1", 3, "10.77.2.1", 24, false);
	h->forwarding = true;
	add_route(h, "10.77.1.0", 24, 2);
	add_route(h, "10.77.2.0", 24, 3);
	return h;
}

static int add_rule(struct uxt_ruleset *rs, char *args)
{
	const char *table = "filter";
	struct uxt_table *t;
	char *argv[64];
	int argc = 0, error = 0;
	bool changed;
	struct uxt_err e;
	struct cli_io io;
	struct cli_cmd_opts opts = {.restore = true, .restore_rs = rs};
	int rc;

	argv[argc++] = "iptables";
	for (char *tok = strtok(args, " \t"); tok && argc < 63; tok = strtok(NULL, " \t"))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (argc > 2 && strcmp(argv[1], "-t") == 0)
		table = argv[2];
	t = uxt_ruleset_instantiate(rs, table, &error);
	if (!t)
		return -1;
	opts.restore_table = t;
	cli_io_init(&io, "iptables");
	io.out.fd = io.err.fd = -1;
	rc = cli_do_command(&io, NULL, argc, argv, &opts, &changed, &e);
	if (rc < 0)
		fprintf(stderr, "rule refused: %s\n", e.msg);
	uxt_buf_free(&io.out);
	uxt_buf_free(&io.err);
	return rc < 0 ? -1 : 0;
}

static int parse_hex(const char *s, unsigned char *out, uint32_t max)
{
	uint32_t n = 0;

	while (s[0] && s[1] && s[0] != '\n' && n < max) {
		unsigned int v;

		if (sscanf(s, "%2x", &v) != 1)
			return -1;
		out[n++] = (unsigned char)v;
		s += 2;
	}
	return (int)n;
}

/* The state file's round trip: save, load into the same table. */
static int reload(struct uxt_ns *ns)
{
	struct uxt_ct_table *t = uxt_ns_ct(ns);
	struct uxt_buf b;
	struct uxt_err e;
	int rc;

	uxt_buf_init(&b, -1);
	uxt_ct_table_save(t, &b);
	rc = uxt_ct_table_load(t, b.data, b.len, &e);
	if (rc)
		fprintf(stderr, "reload: %s\n", e.msg);
	uxt_buf_free(&b);
	return rc;
}

int main(void)
{
	static char line[LINE_MAX_LEN];
	static unsigned char buf[UXT_PKT_MAXLEN + 1];
	struct uxt_ruleset rs;
	struct uxt_ns *ns = uxt_ns_new();
	struct uxt_events ev = {
		.xmit = ev_xmit, .deliver = ev_deliver, .drop = ev_drop,
		.rule = ev_rule, .log = ev_log, .ct_event = ev_ct,
	};
	struct uxt_err e;
	bool started = false, do_reload = true;
	int status = 0;

	the_ns = ns;
	uxt_ruleset_init(&rs);
	uxt_ns_set_host(ns, make_host());
	uxt_ns_set_events(ns, &ev);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		char *cmd = line, *arg = strchr(line, ' ');
		struct uxt_pkt pkt;
		int n;

		line[strcspn(line, "\n")] = 0;
		if (arg)
			*arg++ = 0;
		if (strcmp(cmd, "rule") == 0 && arg) {
			if (add_rule(&rs, arg))
				status = 2;
		} else if (strcmp(cmd, "sysctl") == 0 && arg) {
			char name[128];
			unsigned long long v;

			if (sscanf(arg, "%127s %llu", name, &v) != 2 ||
			    uxt_ct_sysctl_set(uxt_ct_table_settings(uxt_ns_ct(ns)),
					      name, v, &e)) {
				fprintf(stderr, "sysctl %s refused\n", arg);
				status = 2;
			}
		} else if (strcmp(cmd, "limit") == 0 && arg) {
			struct uxt_ct_settings *s = uxt_ct_table_settings(uxt_ns_ct(ns));
			unsigned int max, buckets;

			if (sscanf(arg, "%u %u", &max, &buckets) == 2) {
				s->max = max;
				s->buckets = buckets;
			}
		} else if (strcmp(cmd, "reload") == 0 && arg) {
			do_reload = strcmp(arg, "on") == 0;
		} else if (strcmp(cmd, "go") == 0 && !started) {
			if (uxt_ns_set_ruleset(ns, &rs, &e)) {
				fprintf(stderr, "ruleset: %s\n", e.msg);
				return 2;
			}
			started = true;
		} else if (strcmp(cmd, "time") == 0 && arg) {
			uxt_ns_set_time(ns, (uint64_t)(atof(arg) * 1e9));
		} else if (strcmp(cmd, "dump") == 0) {
			struct dump_ctx d = {.now = uxt_ns_time(ns)};

			uxt_ct_table_walk(uxt_ns_ct(ns), dump_one, &d);
			printf("dumpend\n");
		} else if (strcmp(cmd, "flush") == 0) {
			struct uxt_ct_table *t = uxt_ns_ct(ns);
			struct dump_ctx d = {.cap = uxt_ct_table_count(t)};

			d.all = calloc(d.cap + 1, sizeof(*d.all));
			uxt_ct_table_walk(t, dump_one, &d);
			for (size_t i = 0; i < d.n; i++)
				uxt_ct_destroy(t, d.all[i]);
			free(d.all);
			uxt_ct_table_release_pending(t);
			printf("flushed\n");
		} else if (strcmp(cmd, "save") == 0 && arg) {
			struct uxt_buf b;
			FILE *f = fopen(arg, "wb");

			uxt_buf_init(&b, -1);
			uxt_ct_table_save(uxt_ns_ct(ns), &b);
			if (!f || fwrite(b.data, 1, b.len, f) != b.len)
				status = 2;
			if (f)
				fclose(f);
			uxt_buf_free(&b);
		} else if (strcmp(cmd, "stats") == 0) {
			const struct uxt_ct_stats *st = uxt_ct_table_stats(uxt_ns_ct(ns));

			printf("stats found=%llu invalid=%llu insert_failed=%llu "
			       "drop=%llu early_drop=%llu error=%llu "
			       "clash_resolve=%llu count=%u\n",
			       (unsigned long long)st->found,
			       (unsigned long long)st->invalid,
			       (unsigned long long)st->insert_failed,
			       (unsigned long long)st->drop,
			       (unsigned long long)st->early_drop,
			       (unsigned long long)st->error,
			       (unsigned long long)st->clash_resolve,
			       uxt_ct_table_count(uxt_ns_ct(ns)));
		} else if ((strcmp(cmd, "recv") == 0 || strcmp(cmd, "send") == 0) &&
			   arg && started) {
			const struct uxt_iface *dev = NULL;
			char *hex = arg;

			if (cmd[0] == 'r') {
				char *sp = strchr(arg, ' ');

				if (!sp)
					continue;
				*sp = 0;
				hex = sp + 1;
				dev = uxt_host_iface_by_name(uxt_ns_host(ns), arg);
				if (!dev) {
					fprintf(stderr, "no interface %s\n", arg);
					status = 2;
					continue;
				}
			}
			n = parse_hex(hex, buf, sizeof(buf) - 1);
			if (n < 0 || uxt_pkt_init_copy(&pkt, buf, (uint32_t)n,
						       (uint32_t)n + 64)) {
				status = 2;
				continue;
			}
			pkt.tstamp_ns = uxt_ns_time(ns);
			if (dev) {
				pkt.pkt_type = UXT_PACKET_HOST;
				uxt_ns_receive(ns, &pkt, dev);
			} else {
				pkt.has_sock = true;
				uxt_ns_send(ns, &pkt);
			}
			printf("end\n");
			if (do_reload && reload(ns))
				status = 3;
		} else {
			fprintf(stderr, "bad command: %s\n", cmd);
			status = 2;
		}
	}
	uxt_ns_free(ns);
	uxt_ruleset_free(&rs);
	return status;
}
