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
#include "ct.h"
#include "driver_common.h"
#include "engine.h"

#define LINE_MAX_LEN 200000

static struct uxt_ns *the_ns;

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
	drv_ct_text(&b, ct, false, 0, 0, d->now);
	printf("ct %s\n", uxt_buf_str(&b));
	uxt_buf_free(&b);
	return 0;
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
	drv_add_iface(h, "lo", 1, "127.0.0.1", 8, 65536, true);
	drv_add_iface(h, "eth0", 2, "10.77.1.1", 24, 1500, false);
	drv_add_iface(h, "eth1", 3, "10.77.2.1", 24, 1500, false);
	h->forwarding = true;
	add_route(h, "10.77.1.0", 24, 2);
	add_route(h, "10.77.2.0", 24, 3);
	return h;
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
		.xmit = drv_ev_xmit, .deliver = ev_deliver, .drop = ev_drop,
		.rule = ev_rule, .log = ev_log, .ct_event = drv_ev_ct,
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
			if (drv_add_rule(&rs, arg))
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
			n = drv_parse_hex(hex, buf, sizeof(buf) - 1);
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
