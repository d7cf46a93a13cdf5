/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared setup of the packet-path fuzz targets: see fuzz_host.h. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "fuzz_host.h"

static void add_iface(struct uxt_host *h, const char *name, int index,
		      const char *addr, uint8_t len, uint32_t mtu, bool lo)
{
	struct uxt_iface *i = uxt_host_add_iface(h, name, index);

	i->up = true;
	i->loopback = lo;
	i->mtu = mtu;
	i->type = lo ? UXT_ARPHRD_LOOPBACK : UXT_ARPHRD_ETHER;
	i->mac_len = 6;
	memset(i->mac, lo ? 0 : 0x02, 6);
	i->mac[5] = (unsigned char)index;
	inet_pton(AF_INET, addr, &i->addrs[0].addr);
	i->addrs[0].prefixlen = len;
	i->addrs[0].broadcast = lo ? 0 : (i->addrs[0].addr | htonl(0xFFFFFFFFu >> len));
	i->naddrs = 1;
}

struct uxt_host *fuzz_host_new(void)
{
	struct uxt_host *h = calloc(1, sizeof(*h));
	struct uxt_route def = {.type = UXT_RTN_UNICAST, .oif = 2, .metric = 0};

	uxt_host_init(h);
	add_iface(h, "lo", 1, "127.0.0.1", 8, 65536, true);
	add_iface(h, "eth0", 2, "10.0.0.1", 24, 1500, false);
	add_iface(h, "eth1", 3, "10.1.0.1", 24, 1400, false);
	h->forwarding = true;
	inet_pton(AF_INET, "10.0.0.254", &def.gateway);
	uxt_host_add_route(h, &def);
	return h;
}

void fuzz_load_rules(struct uxt_ruleset *rs, const char *const *rules,
		     size_t n)
{
	struct uxt_err e;
	struct cli_io io;
	char line[512];

	uxt_ruleset_init(rs);
	cli_io_init(&io, "iptables");
	io.out.fd = io.err.fd = -1;
	for (size_t i = 0; i < n; i++) {
		const char *table = "filter";
		struct uxt_table *t;
		char *argv[64];
		int argc = 0, error = 0;
		bool changed;
		struct cli_cmd_opts opts = {.restore = true, .restore_rs = rs};

		snprintf(line, sizeof(line), "iptables %s", rules[i]);
		for (char *tok = strtok(line, " "); tok && argc < 63; tok = strtok(NULL, " "))
			argv[argc++] = tok;
		argv[argc] = NULL;
		if (argc > 2 && strcmp(argv[1], "-t") == 0)
			table = argv[2];
		t = uxt_ruleset_instantiate(rs, table, &error);
		opts.restore_table = t;
		if (cli_do_command(&io, NULL, argc, argv, &opts, &changed, &e) < 0)
			abort();	/* the fuzz ruleset itself must be valid */
	}
	uxt_buf_free(&io.out);
	uxt_buf_free(&io.err);
}
