/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Test driver for NAT (tests/nat_units.py): one namespace with the host
 * of the kernel test bed (dut between client and server), driven by a
 * script on stdin, one command a line:
 *
 *   rule ARGS...          an iptables command (-t nat -A POSTROUTING ...)
 *   sysctl NAME VALUE     a conntrack setting (nf_conntrack_*)
 *   seed N                the namespace's random seed (NAT's port search)
 *   addr IFACE A/P [sec]  adds an address to IFACE (a secondary one with
 *                         "sec"), as ip addr add; after "go" the host
 *                         model is replaced, as rtnetlink makes the live
 *                         daemon replace it
 *   addrdel IFACE A       removes an address (and its subnet's route)
 *   link IFACE up|down    sets a device up or down (its routes go)
 *   route3 IFACE GW       10.77.3.0/24 goes via GW on IFACE from now on
 *   go                    the ruleset is complete: start the namespace
 *   time SECONDS          the namespace clock
 *   recv IFACE HEX        a datagram received on IFACE
 *   send HEX              a datagram a local raw socket sends
 *   dump                  the table, "ct ..." per entry, then "dumpend"
 *   flush                 every entry destroyed (conntrack -F)
 *   echo TEXT             prints TEXT (marks a place in the output)
 *
 * Prints per packet "match TABLE CHAIN RULENUM" for each rule counted
 * (packets the engine made: "nested match ..."), "xmit IFACE HEX",
 * "deliver", "drop REASON", then "end"; "event KIND ..." for conntrack
 * events and "log <L>TEXT" for log lines, at any time.  Entries and
 * events use the canonical form of tests/ct_units.py:
 *
 *   proto=N [t=SECONDS] [state=S] o=SRC,DST[,..] [oc=PKTS,BYTES]
 *   [unreplied] r=SRC,DST[,..] [rc=PKTS,BYTES] [assured] [mark=N] [zone=N]
 *
 * The host: lo 127.0.0.1/8; eth0 10.77.1.1/24 (index 2, MTU 9000, the
 * client side); eth1 10.77.2.1/24 (index 3, MTU 1500, the server side);
 * 10.77.3.0/24 via 10.77.2.2; forwarding on.
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
#define MAX_ADDRS 16

static struct uxt_ns *the_ns;

/* The host, described so that it can be built again after a change. */
struct addr_desc {
	int dev;			/* index */
	uint32_t addr;
	uint8_t plen;
	bool secondary;
};

static struct addr_desc addrs[MAX_ADDRS];
static unsigned int naddrs;
static bool dev_up[4] = {false, true, true, true};
/* 10.77.3.0/24: its device and gateway */
static int route3_dev = 3;
static char route3_gw[32] = "10.77.2.2";

static void ev_deliver(void *ctx, const struct uxt_pkt *pkt)
{
	(void)ctx;
	if (uxt_ns_depth(the_ns) == 0) {
		printf("deliver ");
		drv_print_hex(pkt->data, pkt->len);
		putchar('\n');
	}
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
	printf("%smatch %s %s %u\n", uxt_ns_depth(the_ns) ? "nested " : "",
	       table, chain, rulenum);
}

static void ev_log(void *ctx, unsigned int level, const char *line)
{
	(void)ctx;
	printf("log <%u>%s\n", level, line);
}

struct walk {
	uint64_t now;
	struct uxt_ct **all;
	size_t n, cap;
};

static int walk_one(struct uxt_ct *ct, void *arg)
{
	struct walk *w = arg;
	struct uxt_buf b;

	if (w->all) {
		if (w->n < w->cap)
			w->all[w->n++] = ct;
		return 0;
	}
	uxt_buf_init(&b, -1);
	drv_ct_text(&b, ct, false, 0, 0, w->now);
	printf("ct %s\n", uxt_buf_str(&b));
	uxt_buf_free(&b);
	return 0;
}

/* The host */

static uint32_t mask_of(uint8_t plen)
{
	return plen ? htonl(0xFFFFFFFFu << (32 - plen)) : 0;
}

static void add_addr(int dev, const char *text, bool secondary)
{
	char buf[64], *slash;

	if (naddrs == MAX_ADDRS)
		return;
	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	addrs[naddrs].plen = slash ? (uint8_t)atoi(slash + 1) : 32;
	if (slash)
		*slash = 0;
	inet_pton(AF_INET, buf, &addrs[naddrs].addr);
	addrs[naddrs].dev = dev;
	addrs[naddrs].secondary = secondary;
	naddrs++;
}

static void del_addr(int dev, const char *text)
{
	uint32_t a;

	inet_pton(AF_INET, text, &a);
	for (unsigned int i = 0; i < naddrs; i++)
		if (addrs[i].dev == dev && addrs[i].addr == a) {
			memmove(&addrs[i], &addrs[i + 1],
				(naddrs - i - 1) * sizeof(addrs[0]));
			naddrs--;
			return;
		}
}

static struct uxt_host *make_host(void)
{
	static const char *const names[] = {"", "lo", "eth0", "eth1"};
	struct uxt_host *h = calloc(1, sizeof(*h));

	if (!h)
		exit(1);
	uxt_host_init(h);
	for (int d = 1; d <= 3; d++) {
		struct uxt_iface *i = uxt_host_add_iface(h, names[d], d);
		bool lo = d == 1;

		i->up = lo || dev_up[d];
		i->loopback = lo;
		i->send_redirects = false;
		i->mtu = lo ? 65536 : d == 2 ? 9000 : 1500;
		i->type = lo ? UXT_ARPHRD_LOOPBACK : UXT_ARPHRD_ETHER;
		i->mac_len = 6;
		memset(i->mac, 0, 6);
		if (!lo) {
			i->mac[0] = 0x02;
			i->mac[5] = (unsigned char)d;
		}
		for (unsigned int k = 0; k < naddrs; k++) {
			struct uxt_ifaddr *a;

			if (addrs[k].dev != d || i->naddrs == UXT_HOST_MAX_ADDRS)
				continue;
			a = &i->addrs[i->naddrs++];
			a->addr = addrs[k].addr;
			a->prefixlen = addrs[k].plen;
			a->secondary = addrs[k].secondary;
			a->broadcast = lo ? 0 : (a->addr | ~mask_of(a->prefixlen));
			a->scope = lo ? UXT_SCOPE_HOST : UXT_SCOPE_UNIVERSE;
		}
	}
	h->forwarding = true;
	/* the kernel's routes: a subnet route per primary address of a
	 * device that is up, and the static one while its gateway is
	 * reachable */
	for (unsigned int k = 0; k < naddrs; k++) {
		struct uxt_route r = {.type = UXT_RTN_UNICAST, .scope = UXT_SCOPE_LINK};

		if (addrs[k].dev == 1 || addrs[k].secondary || !dev_up[addrs[k].dev])
			continue;
		r.dst = addrs[k].addr & mask_of(addrs[k].plen);
		r.dst_len = addrs[k].plen;
		r.oif = addrs[k].dev;
		r.prefsrc = addrs[k].addr;
		uxt_host_add_route(h, &r);
		if (addrs[k].dev == route3_dev &&
		    r.dst == htonl(route3_dev == 3 ? 0x0A4D0200u : 0x0A4D0100u)) {
			struct uxt_route g = {.type = UXT_RTN_UNICAST, .dst_len = 24,
					      .oif = route3_dev,
					      .scope = UXT_SCOPE_UNIVERSE};

			inet_pton(AF_INET, "10.77.3.0", &g.dst);
			inet_pton(AF_INET, route3_gw, &g.gateway);
			uxt_host_add_route(h, &g);
		}
	}
	return h;
}

static int dev_index(const char *name)
{
	if (strcmp(name, "lo") == 0)
		return 1;
	if (strcmp(name, "eth0") == 0)
		return 2;
	if (strcmp(name, "eth1") == 0)
		return 3;
	return -1;
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
	bool started = false;
	int status = 0;

	the_ns = ns;
	add_addr(1, "127.0.0.1/8", false);
	add_addr(2, "10.77.1.1/24", false);
	add_addr(3, "10.77.2.1/24", false);
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
		} else if (strcmp(cmd, "echo") == 0) {
			printf("%s\n", arg ? arg : "");
		} else if (strcmp(cmd, "seed") == 0 && arg) {
			uxt_ns_set_random_seed(ns, strtoull(arg, NULL, 0));
		} else if (strcmp(cmd, "route3") == 0 && arg) {
			char dev[16], gw[32];

			if (sscanf(arg, "%15s %31s", dev, gw) != 2 ||
			    dev_index(dev) < 2) {
				fprintf(stderr, "bad route3 %s\n", arg);
				status = 2;
				continue;
			}
			route3_dev = dev_index(dev);
			snprintf(route3_gw, sizeof(route3_gw), "%s", gw);
			uxt_ns_set_host(ns, make_host());
		} else if ((strcmp(cmd, "addr") == 0 || strcmp(cmd, "addrdel") == 0 ||
			    strcmp(cmd, "link") == 0) && arg) {
			char dev[16], what[64], extra[16] = "";
			int d;

			if (sscanf(arg, "%15s %63s %15s", dev, what, extra) < 2 ||
			    (d = dev_index(dev)) < 0) {
				fprintf(stderr, "bad %s %s\n", cmd, arg);
				status = 2;
				continue;
			}
			if (cmd[0] == 'l')
				dev_up[d] = strcmp(what, "up") == 0;
			else if (strcmp(cmd, "addr") == 0)
				add_addr(d, what, strcmp(extra, "sec") == 0);
			else
				del_addr(d, what);
			uxt_ns_set_host(ns, make_host());
		} else if (strcmp(cmd, "go") == 0 && !started) {
			if (uxt_ns_set_ruleset(ns, &rs, &e)) {
				fprintf(stderr, "ruleset: %s\n", e.msg);
				return 2;
			}
			started = true;
		} else if (strcmp(cmd, "time") == 0 && arg) {
			uxt_ns_set_time(ns, (uint64_t)(atof(arg) * 1e9));
		} else if (strcmp(cmd, "dump") == 0) {
			struct walk w = {.now = uxt_ns_time(ns)};

			uxt_ct_table_walk(uxt_ns_ct(ns), walk_one, &w);
			printf("dumpend\n");
		} else if (strcmp(cmd, "flush") == 0) {
			struct uxt_ct_table *t = uxt_ns_ct(ns);
			struct walk w = {.cap = uxt_ct_table_count(t)};

			w.all = calloc(w.cap + 1, sizeof(*w.all));
			uxt_ct_table_walk(t, walk_one, &w);
			for (size_t i = 0; i < w.n; i++)
				uxt_ct_destroy(t, w.all[i]);
			free(w.all);
			uxt_ct_table_release_pending(t);
			printf("flushed\n");
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
		} else {
			fprintf(stderr, "bad command: %s\n", cmd);
			status = 2;
		}
	}
	uxt_ns_free(ns);
	uxt_ruleset_free(&rs);
	return status;
}
