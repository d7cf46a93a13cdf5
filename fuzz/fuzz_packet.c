/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the packet path.
 *
 * The first input byte chooses the way in (received on one of two Ethernet
 * interfaces or on lo, or sent by a local process) and the packet's mark;
 * the rest is the datagram.  It runs through a ruleset that uses every
 * match and target of the packet path (user chains, goto, RETURN, LOG with
 * every flag, NFLOG, REJECT of every kind, MARK, TCPMSS, TRACE, limit...),
 * on a host with two networks, forwarding on and a small MTU on one side,
 * so that parsing, the walk, every target's effect, ICMP errors, REJECT
 * replies, reassembly and fragmentation all see arbitrary bytes.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"

static const char *const rules[] = {
	"-t raw -A PREROUTING -p tcp --dport 7 -j TRACE",
	"-t raw -A OUTPUT -p udp -m multiport --dports 7,9:11 -j TRACE",
	"-t mangle -A PREROUTING -p icmp -j MARK --set-mark 0x64",
	"-t mangle -A PREROUTING -m mark --mark 0x1/0x1 -j MARK --xor-mark 0x3",
	"-t mangle -A POSTROUTING -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1000",
	"-t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu",
	"-N CHK",
	"-N LOGDROP",
	"-N DEEP",
	"-A INPUT -j LOG --log-prefix IN: --log-tcp-sequence --log-tcp-options --log-ip-options --log-uid",
	"-A INPUT -m iprange --src-range 10.0.0.5-10.0.0.9 -j LOGDROP",
	"-A INPUT -p tcp -m tcp --tcp-option 8 -j CHK",
	"-A INPUT -p tcp --syn -m limit --limit 3/sec --limit-burst 2 -j ACCEPT",
	"-A INPUT -p udp --sport 53 -j NFLOG --nflog-group 5 --nflog-prefix dns",
	"-A INPUT -p icmp --icmp-type echo-request -j REJECT --reject-with icmp-host-prohibited",
	"-A INPUT -p tcp --dport 25 -j REJECT --reject-with tcp-reset",
	"-A INPUT -p udp -j REJECT",
	"-A INPUT -f -j LOG --log-prefix frag --log-macdecode",
	"-A INPUT -m comment --comment x -g DEEP",
	"-A FORWARD -p tcp -m multiport ! --ports 1:1000 -j CHK",
	"-A FORWARD -p icmp -j REJECT --reject-with icmp-net-unreachable",
	"-A FORWARD -p udp -j REJECT --reject-with icmp-port-unreachable",
	"-A FORWARD -j LOG --log-level 7",
	"-A OUTPUT -p icmp -j LOG --log-prefix OUT",
	"-A OUTPUT -p tcp --dport 9 -j REJECT --reject-with icmp-admin-prohibited",
	"-A CHK -p tcp --tcp-flags FIN,SYN FIN,SYN -j LOGDROP",
	"-A CHK -j RETURN",
	"-A LOGDROP -j LOG --log-prefix drop",
	"-A LOGDROP -j DROP",
	"-A DEEP -p icmp --icmp-type 3/1 -j RETURN",
	"-A DEEP -j CHK",
	"-A DEEP -j MARK --set-mark 7",
};

static struct uxt_ns *ns;
static struct uxt_ruleset rs;

static void add_iface(struct uxt_host *h, const char *name, int index,
		      const char *addr, uint8_t len, uint32_t mtu, bool lo)
{
	struct uxt_iface *i = uxt_host_add_iface(h, name, index);

	i->up = true;
	i->loopback = lo;
	i->mtu = mtu;
	i->type = lo ? UXT_ARPHRD_LOOPBACK : UXT_ARPHRD_ETHER;
	i->mac_len = lo ? 6 : 6;
	memset(i->mac, lo ? 0 : 0x02, 6);
	i->mac[5] = (unsigned char)index;
	inet_pton(AF_INET, addr, &i->addrs[0].addr);
	i->addrs[0].prefixlen = len;
	i->addrs[0].broadcast = lo ? 0 : (i->addrs[0].addr | htonl(0xFFFFFFFFu >> len));
	i->naddrs = 1;
}

static void setup(void)
{
	struct uxt_host *h = calloc(1, sizeof(*h));
	struct uxt_route def = {.type = UXT_RTN_UNICAST, .oif = 2, .metric = 0};
	struct uxt_err e;
	struct cli_io io;
	char line[512];

	uxt_host_init(h);
	add_iface(h, "lo", 1, "127.0.0.1", 8, 65536, true);
	add_iface(h, "eth0", 2, "10.0.0.1", 24, 1500, false);
	add_iface(h, "eth1", 3, "10.1.0.1", 24, 1400, false);
	h->forwarding = true;
	inet_pton(AF_INET, "10.0.0.254", &def.gateway);
	uxt_host_add_route(h, &def);

	uxt_ruleset_init(&rs);
	cli_io_init(&io, "iptables");
	io.out.fd = io.err.fd = -1;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const char *table = "filter";
		struct uxt_table *t;
		char *argv[64];
		int argc = 0, error = 0;
		bool changed;
		struct cli_cmd_opts opts = {.restore = true, .restore_rs = &rs};

		snprintf(line, sizeof(line), "iptables %s", rules[i]);
		for (char *tok = strtok(line, " "); tok && argc < 63; tok = strtok(NULL, " "))
			argv[argc++] = tok;
		argv[argc] = NULL;
		if (argc > 2 && strcmp(argv[1], "-t") == 0)
			table = argv[2];
		t = uxt_ruleset_instantiate(&rs, table, &error);
		opts.restore_table = t;
		if (cli_do_command(&io, NULL, argc, argv, &opts, &changed, &e) < 0)
			abort();	/* the fuzz ruleset itself must be valid */
	}
	uxt_buf_free(&io.out);
	uxt_buf_free(&io.err);
	ns = uxt_ns_new();
	uxt_ns_set_host(ns, h);
	if (uxt_ns_set_ruleset(ns, &rs, &e))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct uxt_host *h;
	struct uxt_pkt pkt;
	uint8_t how;

	if (!ns)
		setup();
	if (size < 1 || size > 66000)
		return 0;
	how = data[0];
	if (uxt_pkt_init_copy(&pkt, data + 1, (uint32_t)(size - 1),
			      (uint32_t)(size - 1) + 64))
		return 0;
	pkt.mark = how >> 4;
	uxt_ns_set_time(ns, uxt_ns_time(ns) + 1000000u * (how & 0x0F));
	h = uxt_ns_host(ns);
	switch (how & 3) {
	case 0:
		uxt_ns_receive(ns, &pkt, uxt_host_iface_by_name(h, "eth0"));
		break;
	case 1:
		uxt_ns_receive(ns, &pkt, uxt_host_iface_by_name(h, "eth1"));
		break;
	case 2:
		uxt_ns_receive(ns, &pkt, uxt_host_iface_by_name(h, "lo"));
		break;
	default:
		pkt.has_sock = true;
		uxt_ns_send(ns, &pkt);
		break;
	}
	return 0;
}
