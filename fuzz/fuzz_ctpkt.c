/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: connection tracking on the packet path.
 *
 * The input is a sequence of packets, each [how][length: 2 bytes][bytes]:
 * how's low 2 bits choose the way in (received on one of two Ethernet
 * interfaces or on lo, or sent by a local process), its high 6 bits how
 * far the clock moves first (in units of 250 ms, so that timeouts run out
 * when sysctls make them short).  They run through a ruleset where
 * conntrack is active (state and conntrack matches with every option,
 * connmark, CONNMARK, CT zones and templates, NOTRACK, REJECT, a drop
 * before confirm), so that the trackers, the table, events and the saved
 * form (the table is saved and loaded after every packet) all see
 * arbitrary bytes.  Every entry must go when the clock runs far ahead.
 */
#include <stdint.h>
#include <stdlib.h>

#include "ct.h"
#include "engine.h"
#include "fuzz_host.h"

static const char *const rules[] = {
	"-t raw -A PREROUTING -p udp --dport 53 -j NOTRACK",
	"-t raw -A PREROUTING -p udp --dport 54 -j CT --zone 3",
	"-t raw -A PREROUTING -p tcp --dport 55 -j CT --zone-orig 4 --ctevents new,destroy",
	"-t raw -A PREROUTING -p icmp -j CT --zone mark",
	"-t raw -A OUTPUT -p udp --dport 56 -j CT --notrack",
	"-t mangle -A PREROUTING -m connmark --mark 0x1/0x1 -j MARK --set-mark 0x7",
	"-t mangle -A PREROUTING -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x1/0x3",
	"-t mangle -A FORWARD -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff",
	"-t mangle -A POSTROUTING -j CONNMARK --restore-mark --left-shift-mark 2",
	"-t nat -A PREROUTING -m conntrack --ctstate NEW",
	"-t nat -A POSTROUTING -m conntrack --ctstate RELATED",
	"-A INPUT -m state --state INVALID -j DROP",
	"-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED --ctdir REPLY -j ACCEPT",
	"-A INPUT -p tcp --dport 25 -m conntrack --ctstate NEW -j REJECT --reject-with tcp-reset",
	"-A INPUT -p udp -m conntrack --ctstatus SEEN_REPLY -j REJECT",
	"-A FORWARD -m conntrack --ctproto tcp --ctorigsrc 10.0.0.0/24 --ctorigdstport 1:1000 --ctreplsrcport 1:1000",
	"-A FORWARD -m conntrack ! --ctstatus ASSURED,CONFIRMED --ctexpire 0:100",
	"-A FORWARD -m conntrack --ctreplsrc 10.1.0.0/16 ! --ctrepldst 10.0.0.5 --ctorigsrcport 1000:2000",
	"-A FORWARD -p udp --dport 9 -j DROP",
	"-A FORWARD -p tcp --dport 80 -m conntrack --ctstate ESTABLISHED -j REJECT --reject-with tcp-reset",
	"-A FORWARD -m conntrack --ctstate SNAT,DNAT,UNTRACKED -j ACCEPT",
	"-A OUTPUT -m conntrack --ctstate INVALID -j DROP",
};

static const char *const settings[][2] = {
	{"nf_conntrack_udp_timeout", "2"},
	{"nf_conntrack_udp_timeout_stream", "3"},
	{"nf_conntrack_icmp_timeout", "2"},
	{"nf_conntrack_tcp_timeout_syn_sent", "3"},
	{"nf_conntrack_tcp_timeout_time_wait", "2"},
	{"nf_conntrack_acct", "1"},
	{"nf_conntrack_events", "1"},
	{"nf_conntrack_log_invalid", "255"},
};

static struct uxt_ns *ns;
static struct uxt_ruleset rs;

static void ev_ct(void *ctx, unsigned int kind, uint32_t mask,
		  const struct uxt_ct *ct, uint64_t now)
{
	(void)ctx;
	(void)kind;
	(void)mask;
	(void)uxt_ct_seconds_left(ct, now);
}

static void setup(void)
{
	struct uxt_host *h = fuzz_host_new();
	struct uxt_events ev = {.ct_event = ev_ct};
	struct uxt_ct_settings *s;
	struct uxt_err e;

	fuzz_load_rules(&rs, rules, sizeof(rules) / sizeof(rules[0]));
	ns = uxt_ns_new();
	uxt_ns_set_host(ns, h);
	uxt_ns_set_events(ns, &ev);
	s = uxt_ct_table_settings(uxt_ns_ct(ns));
	/* a small table, few buckets: early drops happen */
	s->max = 64;
	s->buckets = 16;
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (uxt_ct_sysctl_set(s, settings[i][0],
				      strtoull(settings[i][1], NULL, 10), &e))
			abort();
	if (uxt_ns_set_ruleset(ns, &rs, &e) || !uxt_ns_ct_active(ns))
		abort();
}

static void reload(void)
{
	struct uxt_ct_table *t = uxt_ns_ct(ns);
	struct uxt_buf b;
	struct uxt_err e;

	uxt_buf_init(&b, -1);
	uxt_ct_table_save(t, &b);
	if (uxt_ct_table_load(t, b.data, b.len, &e))
		abort();	/* what was saved must load */
	uxt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct uxt_host *h;
	size_t off = 0;

	if (!ns)
		setup();
	h = uxt_ns_host(ns);
	/* bounded by the input: every round takes at least 3 bytes */
	while (size - off >= 3) {
		uint8_t how = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		struct uxt_pkt pkt;

		off += 3;
		if (len > size - off)
			len = size - off;
		uxt_ns_set_time(ns, uxt_ns_time(ns) + 250000000ull * (how >> 2));
		if (uxt_pkt_init_copy(&pkt, data + off, (uint32_t)len,
				      (uint32_t)len + 64))
			break;
		off += len;
		pkt.mark = how >> 2;
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
		reload();
	}
	/* far ahead: everything expires (the longest timeout is 5 days) */
	uxt_ns_set_time(ns, uxt_ns_time(ns) + 6ull * 86400 * 1000000000ull);
	if (uxt_ct_table_count(uxt_ns_ct(ns)) != 0)
		abort();
	/* and back to the start of the clock for the next input (the table
	 * is empty: nothing to move back) */
	uxt_ns_set_time(ns, 0);
	return 0;
}
