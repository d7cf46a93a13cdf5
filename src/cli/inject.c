/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uxt inject: one packet, described with iptables' options, through this
 * network namespace's ruleset (docs/packet-path.md).
 *
 *   -i IFACE   received on IFACE (link-layer header made up, pktbuild.h)
 *   -o IFACE   sent by a local process bound to IFACE
 *   neither    sent by a local process, routed by the host model
 *
 * Exit status: 0, or with --expect 0 when the packet met it and 1 when
 * not; 2 for bad usage, 3 when the state, host or an output failed.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "getopt.h"
#include "packet_session.h"
#include "pktbuild.h"

#define PROG "uxt inject"
#define EXIT_NOT_MET 1

enum {
	OPT_IN = 'i',
	OPT_OUT = 'o',
	OPT_SOURCE = 's',
	OPT_DEST = 'd',
	OPT_PROTO = 'p',
	OPT_HELP = 'h',
	OPT_SPORT = PS_OPT_OWN,
	OPT_DPORT,
	OPT_TCP_FLAGS,
	OPT_ICMP_TYPE,
	OPT_LENGTH,
	OPT_TTL,
	OPT_TOS,
	OPT_ID,
	OPT_DF,
	OPT_MARK,
	OPT_PAYLOAD,
	OPT_EXPECT,
};

static const struct uxt_option inject_opts[] = {
	{"in-interface", 1, OPT_IN},
	{"out-interface", 1, OPT_OUT},
	{"source", 1, OPT_SOURCE},
	{"src", 1, OPT_SOURCE},
	{"destination", 1, OPT_DEST},
	{"dst", 1, OPT_DEST},
	{"protocol", 1, OPT_PROTO},
	{"sport", 1, OPT_SPORT},
	{"source-port", 1, OPT_SPORT},
	{"dport", 1, OPT_DPORT},
	{"destination-port", 1, OPT_DPORT},
	{"tcp-flags", 1, OPT_TCP_FLAGS},
	{"icmp-type", 1, OPT_ICMP_TYPE},
	{"length", 1, OPT_LENGTH},
	{"ttl", 1, OPT_TTL},
	{"tos", 1, OPT_TOS},
	{"id", 1, OPT_ID},
	{"df", 0, OPT_DF},
	{"mark", 1, OPT_MARK},
	{"payload", 1, OPT_PAYLOAD},
	{"time", 1, PS_OPT_TIME},
	{"expect", 1, OPT_EXPECT},
	{"help", 0, OPT_HELP},
	PS_LONGOPTS,
	{NULL, 0, 0},
};

/* The packet options and the names pktbuild knows them by. */
static const struct {
	int id;
	const char *name;
} packet_opts[] = {
	{OPT_SOURCE, "source"},	    {OPT_DEST, "destination"},
	{OPT_PROTO, "protocol"},    {OPT_SPORT, "sport"},
	{OPT_DPORT, "dport"},	    {OPT_TCP_FLAGS, "tcp-flags"},
	{OPT_ICMP_TYPE, "icmp-type"}, {OPT_LENGTH, "length"},
	{OPT_TTL, "ttl"},	    {OPT_TOS, "tos"},
	{OPT_ID, "id"},		    {OPT_DF, "df"},
	{OPT_MARK, "mark"},	    {OPT_PAYLOAD, "payload"},
};

static void help(struct uxt_buf *b)
{
	uxt_buf_puts(b,
		"Usage: uxt inject [-i IFACE | -o IFACE] [-s ADDR] [-d ADDR] [-p PROTO]\n"
		"                  [--sport PORT] [--dport PORT] [--tcp-flags FLAGS]\n"
		"                  [--icmp-type TYPE[/CODE]] [--length N] [--ttl N] [--tos N]\n"
		"                  [--id N] [--df] [--mark N] [--payload TEXT|0xHEX]\n"
		"                  [--time SECONDS] [--host FILE] [--trace] [--json]\n"
		"                  [--log FILE] [--syslog] [--nflog-dir DIR] [--expect VERDICT]\n"
		"\n"
		"One packet through this network namespace's ruleset; counters are committed.\n"
		"\n"
		"Where the packet comes from:\n"
		"  -i, --in-interface IFACE   received on IFACE\n"
		"  -o, --out-interface IFACE  sent by a local process bound to IFACE\n"
		"                             (neither: sent locally, routed by the host)\n"
		"The packet (iptables' spellings; defaults make the usual packet of its kind):\n"
		"  -s, --source ADDR          default: received: a neighbour on IFACE's subnet;\n"
		"                             sent: the address routing picks\n"
		"  -d, --destination ADDR     default for a received packet: IFACE's address\n"
		"  -p, --protocol PROTO       icmp (default), tcp, udp, or any name or number\n"
		"  --sport PORT, --dport PORT tcp/udp ports (40000; tcp 80, udp 9)\n"
		"  --tcp-flags FLAGS          the flags set, e.g. SYN,ACK (default SYN: a 60-byte\n"
		"                             SYN with mss 1460,sackOK,TS,nop,wscale 7)\n"
		"  --icmp-type TYPE[/CODE]    as iptables names it (default echo-request,\n"
		"                             84 bytes as ping makes it)\n"
		"  --length N                 IP total length (pads or cuts the data)\n"
		"  --ttl N, --tos N, --id N   IP header fields (64, 0, 1)\n"
		"  --df                       set Don't Fragment (set anyway for ping, TCP, UDP)\n"
		"  --mark N                   the packet's mark\n"
		"  --payload TEXT|0xHEX       the data after the transport header\n"
		"Running it:\n"
		"  --time SECONDS             the namespace's clock (default: now)\n");
	ps_help_options(b, "print every rule the packet matched",
			"one JSON object (docs/packet-path.md)");
	uxt_buf_puts(b,
		"  --expect VERDICT           ACCEPT, DROP or TABLE:CHAIN:RULE (RULE a number or\n"
		"                             \"policy\"): exit 0 if the packet met it, 1 if not\n"
		"\n"
		"Exit status: 0 (or --expect met), 1 --expect not met, 2 bad usage, 3 failure.\n");
}

/* Prints e as "uxt inject: ..." and returns the exit status. */
static int report(struct cli_io *io, const struct uxt_err *e)
{
	return ps_report(io, PROG, e);
}

struct inject_cmd {
	struct ps_options ps;
	struct uxt_pkt_spec spec;
	const char *in_name, *out_name;
	bool have_expect;
	struct ps_expect expect;
	bool help;
};

static int parse(struct inject_cmd *c, struct cli_io *io, int argc,
		 char **argv, struct uxt_err *e)
{
	struct uxt_getopt g;
	int opt;

	memset(&g, 0, sizeof(g));
	uxt_getopt_init(&g, &io->err, 1);
	while ((opt = uxt_getopt_long(&g, argc, argv, "+hi:o:s:d:p:", inject_opts,
				      NULL)) != -1) {
		size_t k;

		for (k = 0; k < sizeof(packet_opts) / sizeof(packet_opts[0]); k++)
			if (packet_opts[k].id == opt)
				break;
		if (k < sizeof(packet_opts) / sizeof(packet_opts[0])) {
			if (uxt_pkt_spec_option(&c->spec, packet_opts[k].name,
						g.optarg, e))
				return -1;
			continue;
		}
		switch (opt) {
		case OPT_IN:
			c->in_name = g.optarg;
			break;
		case OPT_OUT:
			c->out_name = g.optarg;
			break;
		case OPT_EXPECT:
			if (ps_parse_expect(g.optarg, &c->expect, e))
				return -1;
			c->have_expect = true;
			break;
		case OPT_HELP:
			c->help = true;
			return 0;
		default:
			if (ps_other_option(&c->ps, io, opt, g.optarg, e))
				return -1;
			break;
		}
	}
	if (g.optind < argc)
		return uxt_error(e, UXT_PARAMETER_PROBLEM,
				 "unexpected argument \"%s\"", argv[g.optind]);
	if (c->in_name && c->out_name)
		return uxt_error(e, UXT_PARAMETER_PROBLEM,
				 "-i and -o exclude each other: a packet is either "
				 "received or sent");
	return uxt_pkt_spec_check(&c->spec, e);
}

static uint64_t wall_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The addresses not given, as the host would have them. */
static int complete_addresses(struct inject_cmd *c, const struct uxt_host *h,
			      const struct uxt_iface *in,
			      const struct uxt_iface *out, struct uxt_err *e)
{
	struct uxt_pkt_spec *s = &c->spec;

	if (in) {
		if (!s->have_daddr) {
			s->daddr = uxt_iface_primary_addr(in);
			if (!s->daddr)
				return uxt_error(e, UXT_PARAMETER_PROBLEM,
						 "%s has no address: give -d ADDR",
						 in->name);
		}
		if (!s->have_saddr)
			s->saddr = uxt_pkt_neighbour_addr(in);
		return 0;
	}
	if (!s->have_daddr)
		return uxt_error(e, UXT_PARAMETER_PROBLEM,
				 "a packet this host sends needs -d ADDR");
	if (!s->have_saddr) {
		struct uxt_route_result rt;
		const char *reason = NULL;

		/* the socket's source is what output routing picks; when
		 * routing refuses, the namespace reports why */
		memset(&rt, 0, sizeof(rt));
		if (uxt_host_route_output(h, s->daddr, out, &rt, &reason) == 0)
			s->saddr = rt.src;
	}
	return 0;
}

int uxt_inject_main(int argc, char **argv)
{
	struct cli_io io;
	struct inject_cmd c;
	struct ps_session *s = NULL;
	const struct ps_result *res;
	const struct uxt_iface *in = NULL, *out = NULL;
	const struct uxt_host *host;
	struct uxt_pkt pkt;
	struct uxt_err e;
	int status = 0;

	cli_io_init(&io, PROG);
	uxt_err_clear(&e);
	memset(&c, 0, sizeof(c));
	uxt_pkt_spec_init(&c.spec);
	if (parse(&c, &io, argc, argv, &e)) {
		status = report(&io, &e);
		goto out;
	}
	if (c.help) {
		help(&io.out);
		goto out;
	}
	if (!c.ps.have_time) {
		c.ps.time_ns = wall_clock_ns();
		c.ps.wall_clock = true;
	}
	c.spec.time_ns = c.ps.time_ns;
	if (ps_start(&s, &c.ps, &io, &e)) {
		status = report(&io, &e);
		goto out;
	}
	host = ps_host(s);
	if (c.in_name && !(in = uxt_host_iface_by_name(host, c.in_name))) {
		uxt_error(&e, UXT_PARAMETER_PROBLEM,
			  "-i %s: no such interface in the host model", c.in_name);
		status = report(&io, &e);
		goto out;
	}
	if (c.out_name && !(out = uxt_host_iface_by_name(host, c.out_name))) {
		uxt_error(&e, UXT_PARAMETER_PROBLEM,
			  "-o %s: no such interface in the host model", c.out_name);
		status = report(&io, &e);
		goto out;
	}
	if (!c.spec.have_ip_id)
		/* received: a datagram has an ID; sent: the kernel picks it */
		c.spec.ip_id = in ? 1 : 0;
	if (complete_addresses(&c, host, in, out, &e) ||
	    uxt_pkt_build(&c.spec, &pkt, &e)) {
		status = report(&io, &e);
		goto out;
	}
	pkt.tstamp_ns = c.ps.time_ns;
	if (in) {
		uxt_pkt_set_rx_link(&pkt, host, in);
	} else {
		pkt.outdev = out;
		pkt.has_sock = true;
		pkt.uid = (uint32_t)getuid();
		pkt.gid = (uint32_t)getgid();
	}
	ps_set_clock(s, c.ps.time_ns);
	res = ps_packet(s, 0, &pkt, in);
	if (c.have_expect && !ps_expect_met(&c.expect, res))
		status = EXIT_NOT_MET;
	if (ps_finish(s, false, &e))
		status = report(&io, &e);
out:
	ps_free(s);
	uxt_pkt_spec_free(&c.spec);
	cli_io_close(&io);
	return status;
}
