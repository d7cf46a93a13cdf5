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
#include <stdint.h>
#include <stdlib.h>

#include "engine.h"
#include "fuzz_host.h"

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

static void setup(void)
{
	struct uxt_host *h = fuzz_host_new();
	struct uxt_err e;

	fuzz_load_rules(&rs, rules, sizeof(rules) / sizeof(rules[0]));
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
