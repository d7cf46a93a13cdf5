/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers shared by the test drivers: see driver_common.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli.h"
#include "ct.h"
#include "driver_common.h"
#include "engine.h"

void drv_print_hex(const unsigned char *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		printf("%02x", p[i]);
}

void drv_ev_xmit(void *ctx, const struct uxt_pkt *pkt,
		 const struct uxt_iface *dev)
{
	(void)ctx;
	printf("xmit %s ", dev->name);
	drv_print_hex(pkt->data, pkt->len);
	putchar('\n');
}

struct uxt_iface *drv_add_iface(struct uxt_host *h, const char *name,
				int index, const char *addr, uint8_t plen,
				uint32_t mtu, bool lo)
{
	struct uxt_iface *i = uxt_host_add_iface(h, name, index);

	i->up = true;
	i->loopback = lo;
	/* the kernel test bed turns redirects off unless a case wants them */
	i->send_redirects = false;
	i->mtu = mtu;
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

int drv_add_rule(struct uxt_ruleset *rs, char *args)
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

int drv_parse_hex(const char *s, unsigned char *out, uint32_t max)
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

void drv_ct_text(struct uxt_buf *b, const struct uxt_ct *ct, bool event,
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

void drv_ev_ct(void *ctx, unsigned int kind, uint32_t mask,
	       const struct uxt_ct *ct, uint64_t now_ns)
{
	struct uxt_buf b;

	(void)ctx;
	uxt_buf_init(&b, -1);
	drv_ct_text(&b, ct, true, kind, mask, now_ns);
	printf("event %s %s\n", kind == UXT_CT_EVENT_NEW ? "NEW" :
				kind == UXT_CT_EVENT_UPDATE ? "UPDATE" : "DESTROY",
	       uxt_buf_str(&b));
	uxt_buf_free(&b);
}
