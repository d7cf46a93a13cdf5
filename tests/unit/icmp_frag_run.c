/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Test driver for ICMP errors, fragments, REJECT and TCPMSS: one
 * namespace with the host of tests/packet_units.py's kernel test bed,
 * driven by a script on stdin, one command a line:
 *
 *   rule ARGS...          an iptables command (e.g. -t mangle -A FORWARD ...)
 *   forwarding 0|1        net.ipv4.ip_forward of the host
 *   redirects 0|1         send_redirects of eth0 and eth1 (default 0)
 *   mtu IFACE N           an interface's MTU
 *   ratemask N            net.ipv4.icmp_ratemask (after go)
 *   go                    the ruleset is complete: start the namespace
 *   time SECONDS          the namespace clock (may be fractional)
 *   recv IFACE HEX        a datagram received on IFACE
 *   send HEX              a datagram a local raw socket sends
 *
 * Prints what happens, one line each: "xmit IFACE HEX" for a datagram
 * that leaves, "deliver HEX" for local delivery, "drop REASON" for a
 * drop outside the tables and "drop table" for one by a table.
 *
 * The host: lo 127.0.0.1/8; eth0 10.77.1.1/24 (index 2, the client side);
 * eth1 10.77.2.1/24 (index 3, the server side); 10.77.3.0/24 via
 * 10.77.2.2; 10.77.6.0/24 unreachable, 10.77.7.0/24 prohibit,
 * 10.77.8.0/24 blackhole; no default route; forwarding on.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_common.h"
#include "engine.h"
#include "icmp.h"

#define LINE_MAX_LEN 200000

static void ev_deliver(void *ctx, const struct uxt_pkt *pkt)
{
	(void)ctx;
	printf("deliver ");
	drv_print_hex(pkt->data, pkt->len);
	putchar('\n');
}

static void ev_drop(void *ctx, const struct uxt_pkt *pkt, const char *reason)
{
	(void)ctx;
	(void)pkt;
	printf("drop %s\n", reason ? reason : "table");
}

static void add_route(struct uxt_host *h, const char *dst, uint8_t len,
		      uint8_t type, const char *gw, int oif)
{
	struct uxt_route r = {.dst_len = len, .type = type, .oif = oif};

	inet_pton(AF_INET, dst, &r.dst);
	if (gw)
		inet_pton(AF_INET, gw, &r.gateway);
	r.scope = (type == UXT_RTN_UNICAST && !gw) ? UXT_SCOPE_LINK : UXT_SCOPE_UNIVERSE;
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
	add_route(h, "10.77.1.0", 24, UXT_RTN_UNICAST, NULL, 2);
	add_route(h, "10.77.2.0", 24, UXT_RTN_UNICAST, NULL, 3);
	add_route(h, "10.77.3.0", 24, UXT_RTN_UNICAST, "10.77.2.2", 3);
	add_route(h, "10.77.6.0", 24, UXT_RTN_UNREACHABLE, NULL, 0);
	add_route(h, "10.77.7.0", 24, UXT_RTN_PROHIBIT, NULL, 0);
	add_route(h, "10.77.8.0", 24, UXT_RTN_BLACKHOLE, NULL, 0);
	return h;
}

int main(void)
{
	static char line[LINE_MAX_LEN];
	static unsigned char buf[UXT_PKT_MAXLEN + 1];
	struct uxt_ruleset rs;
	struct uxt_host *h = make_host();
	struct uxt_ns *ns = NULL;
	struct uxt_events ev = {
		.xmit = drv_ev_xmit, .deliver = ev_deliver, .drop = ev_drop,
	};
	struct uxt_err e;
	int status = 0;

	uxt_ruleset_init(&rs);
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
		} else if (strcmp(cmd, "forwarding") == 0 && arg) {
			h->forwarding = atoi(arg) != 0;
		} else if (strcmp(cmd, "redirects") == 0 && arg) {
			for (unsigned int i = 0; i < h->nifaces; i++)
				if (!h->ifaces[i].loopback)
					h->ifaces[i].send_redirects = atoi(arg) != 0;
		} else if (strcmp(cmd, "mtu") == 0 && arg) {
			char name[16];
			unsigned int mtu;

			if (sscanf(arg, "%15s %u", name, &mtu) == 2)
				for (unsigned int i = 0; i < h->nifaces; i++)
					if (strcmp(h->ifaces[i].name, name) == 0)
						h->ifaces[i].mtu = mtu;
		} else if (strcmp(cmd, "go") == 0 && !ns) {
			ns = uxt_ns_new();
			uxt_ns_set_host(ns, h);
			uxt_ns_set_events(ns, &ev);
			if (uxt_ns_set_ruleset(ns, &rs, &e)) {
				fprintf(stderr, "ruleset: %s\n", e.msg);
				return 2;
			}
		} else if (strcmp(cmd, "ratemask") == 0 && arg && ns) {
			struct uxt_icmp_limits *lim = uxt_ns_icmp_limits(ns);
			struct uxt_icmp_settings set;

			if (lim) {
				uxt_icmp_limits_get(lim, &set);
				set.ratemask = (uint32_t)strtoul(arg, NULL, 0);
				uxt_icmp_limits_set(lim, &set);
			}
		} else if (strcmp(cmd, "time") == 0 && arg && ns) {
			uxt_ns_set_time(ns, (uint64_t)(atof(arg) * 1e9));
		} else if ((strcmp(cmd, "recv") == 0 || strcmp(cmd, "send") == 0) &&
			   arg && ns) {
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
			if (dev) {
				pkt.pkt_type = UXT_PACKET_HOST;
				uxt_ns_receive(ns, &pkt, dev);
			} else {
				pkt.has_sock = true;
				uxt_ns_send(ns, &pkt);
			}
			printf("end\n");
		}
	}
	if (ns) {
		uxt_ns_free(ns);	/* frees the host it owns */
	} else {
		uxt_host_free(h);
		free(h);
	}
	uxt_ruleset_free(&rs);
	return status;
}
