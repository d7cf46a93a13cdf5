/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * uxt replay: a capture through this network namespace's ruleset
 * (docs/packet-path.md).  Each record is one packet, at the capture's time:
 * received on its interface or sent by this host, as the capture says
 * (Linux cooked captures) or as -i / -o say.  Per packet one line (or one
 * JSON object); at the end the counters, which are committed.
 *
 * Exit status: 0; 2 for bad usage; 3 when the capture is unreadable or
 * damaged (the packets before the damage count), or the state, host or an
 * output failed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "getopt.h"
#include "packet_session.h"
#include "pcap_io.h"

#define PROG "uxt replay"
#define EXIT_USAGE 2
#define EXIT_FAILURE_OTHER 3
/* how often the progress line may change, in nanoseconds */
#define PROGRESS_INTERVAL_NS 200000000u

enum {
	OPT_IN = 'i',
	OPT_OUT = 'o',
	OPT_WRITE = 'w',
	OPT_HELP = 'h',
};

static const struct uxt_option replay_opts[] = {
	{"in-interface", 1, OPT_IN},
	{"out-interface", 1, OPT_OUT},
	{"write", 1, OPT_WRITE},
	{"help", 0, OPT_HELP},
	PS_LONGOPTS,
	{NULL, 0, 0},
};

static void help(struct uxt_buf *b)
{
	uxt_buf_puts(b,
		"Usage: uxt replay FILE [-i IFACE | -o IFACE] [-w OUT] [--host FILE] [--trace]\n"
		"                  [--json] [--log FILE] [--nflog-dir DIR]\n"
		"\n"
		"The packets of a capture (pcap or pcapng: Ethernet, raw IP, Linux cooked\n"
		"v1/v2, loopback, NFLOG) through this network namespace's ruleset, at the\n"
		"capture's times; counters are committed.\n"
		"\n"
		"  -i, --in-interface IFACE   packets without a direction or interface in the\n"
		"                             capture were received on IFACE\n"
		"  -o, --out-interface IFACE  ... were sent by this host out of IFACE\n"
		"  -w, --write OUT            write the packets that leave to OUT (pcap, Linux\n"
		"                             cooked v2 with the outgoing interface)\n"
		"  --host FILE                the host described in FILE (default: this netns)\n"
		"  --trace                    print every rule each packet matched\n"
		"  --json                     one JSON object per packet, no counters\n"
		"  --log FILE                 append LOG lines to FILE instead of printing them\n"
		"  --nflog-dir DIR            write DIR/nflog-GROUP.pcap for NFLOG rules\n"
		"\n"
		"Per packet: NUMBER SUMMARY => VERDICT [TABLE:CHAIN:RULE | (reason)], then the\n"
		"packets that left, the LOG lines and (--trace) the rules; records that cannot\n"
		"be replayed are reported as \"NUMBER skipped: reason\".  At the end, every\n"
		"table as iptables -L -v -n -x lists it.  A progress line goes to stderr when\n"
		"it is a terminal.\n"
		"\n"
		"Exit status: 0, 2 bad usage, 3 unreadable or damaged capture or a failure.\n");
}

static int report(struct cli_io *io, const struct uxt_err *e)
{
	size_t n = strlen(e->msg);

	while (n && e->msg[n - 1] == '\n')
		n--;
	uxt_buf_flush(&io->out);
	uxt_buf_printf(&io->err, "%s: %.*s\n", PROG, (int)n, e->msg);
	if (e->status == UXT_PARAMETER_PROBLEM) {
		uxt_buf_printf(&io->err, "Try `%s -h' for more information.\n", PROG);
		return EXIT_USAGE;
	}
	return EXIT_FAILURE_OTHER;
}

struct replay_cmd {
	struct ps_options ps;
	const char *file;
	const char *in_name, *out_name;
	bool help;
};

static int parse(struct replay_cmd *c, struct cli_io *io, int argc,
		 char **argv, struct uxt_err *e)
{
	struct uxt_getopt g;
	int opt;

	memset(&g, 0, sizeof(g));
	uxt_getopt_init(&g, &io->err, 1);
	while ((opt = uxt_getopt_long(&g, argc, argv, "hi:o:w:", replay_opts,
				      NULL)) != -1) {
		switch (opt) {
		case OPT_IN:
			c->in_name = g.optarg;
			break;
		case OPT_OUT:
			c->out_name = g.optarg;
			break;
		case OPT_WRITE:
			c->ps.write_path = g.optarg;
			break;
		case OPT_HELP:
			c->help = true;
			return 0;
		case '?':
		case ':':
			uxt_buf_flush(&io->err);
			return uxt_error(e, UXT_PARAMETER_PROBLEM, "bad option");
		default:
			if (ps_option(&c->ps, opt, g.optarg, e))
				return -1;
			break;
		}
	}
	if (g.optind >= argc)
		return uxt_error(e, UXT_PARAMETER_PROBLEM, "no capture file given");
	c->file = argv[g.optind];
	if (g.optind + 1 < argc)
		return uxt_error(e, UXT_PARAMETER_PROBLEM,
				 "unexpected argument \"%s\"", argv[g.optind + 1]);
	if (c->in_name && c->out_name)
		return uxt_error(e, UXT_PARAMETER_PROBLEM,
				 "-i and -o exclude each other");
	return 0;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Where a record goes: the device it was received on (*in) or, when sent
 * by this host, *in = NULL and *out the bound device (may be NULL).
 * Returns the reason it cannot be replayed, or NULL. */
static const char *place(const struct uxt_frame *f, const struct uxt_host *h,
			 const struct uxt_iface *opt_in,
			 const struct uxt_iface *opt_out,
			 const struct uxt_iface **in,
			 const struct uxt_iface **out, char *why, size_t whylen)
{
	const struct uxt_iface *dev = NULL;

	*in = *out = NULL;
	if (f->ifindex) {
		dev = uxt_host_iface_by_index(h, f->ifindex);
		if (!dev && !opt_in && !opt_out) {
			snprintf(why, whylen,
				 "interface index %d of the capture is not in the "
				 "host model (give -i or -o)", f->ifindex);
			return why;
		}
	}
	switch (f->dir) {
	case UXT_FRAME_DIR_IN:
		*in = dev ? dev : opt_in;
		if (!*in) {
			snprintf(why, whylen, "received, but on which interface? "
				 "(give -i IFACE)");
			return why;
		}
		return NULL;
	case UXT_FRAME_DIR_OUT:
		*out = dev ? dev : opt_out;
		return NULL;
	default:
		if (opt_in) {
			*in = opt_in;
			return NULL;
		}
		if (opt_out) {
			*out = opt_out;
			return NULL;
		}
		snprintf(why, whylen, "the capture does not say whether it was "
			 "received or sent (give -i IFACE or -o IFACE)");
		return why;
	}
}

/* The link-layer header the kernel would have kept for a received
 * datagram, from what the capture recorded, and the packet type. */
static void set_link(struct uxt_pkt *pkt, const struct uxt_frame *f,
		     const struct uxt_iface *dev)
{
	unsigned char *h = pkt->mac;

	pkt->pkt_type = UXT_PACKET_HOST;
	pkt->hwtype = dev->type;
	pkt->mac_len = 0;
	if (f->mac_len) {
		memcpy(pkt->mac, f->mac, f->mac_len);
		pkt->mac_len = f->mac_len;
		pkt->hwtype = f->hwtype;
	}
	if (f->pkt_type >= 0 && f->pkt_type != UXT_PACKET_OUTGOING) {
		pkt->pkt_type = (uint8_t)f->pkt_type;
	} else if (f->mac_len >= 6 && !dev->loopback &&
		   f->hwtype == UXT_ARPHRD_ETHER) {
		/* eth_type_trans(): broadcast, multicast, or not ours */
		static const unsigned char bcast[6] = {0xFF, 0xFF, 0xFF,
						       0xFF, 0xFF, 0xFF};

		if (memcmp(h, bcast, 6) == 0)
			pkt->pkt_type = UXT_PACKET_BROADCAST;
		else if (h[0] & 1)
			pkt->pkt_type = UXT_PACKET_MULTICAST;
		else if (dev->mac_len == 6 && memcmp(h, dev->mac, 6) != 0)
			pkt->pkt_type = UXT_PACKET_OTHERHOST;
	}
	if (!f->mac_len && f->link_src_len == 6 && dev->type == UXT_ARPHRD_ETHER &&
	    dev->mac_len == 6) {
		/* a cooked capture kept only the source: the destination is
		 * what the packet type says */
		if (pkt->pkt_type == UXT_PACKET_BROADCAST)
			memset(h, 0xFF, 6);
		else if (pkt->pkt_type == UXT_PACKET_HOST)
			memcpy(h, dev->mac, 6);
		else
			memset(h, 0, 6);
		memcpy(h + 6, f->link_src, 6);
		h[12] = 0x08;
		h[13] = 0x00;
		pkt->mac_len = 14;
		pkt->hwtype = UXT_ARPHRD_ETHER;
	} else if (!f->mac_len && (dev->loopback || dev->type == UXT_ARPHRD_LOOPBACK)) {
		memset(h, 0, 12);
		h[12] = 0x08;
		h[13] = 0x00;
		pkt->mac_len = 14;
		pkt->hwtype = UXT_ARPHRD_LOOPBACK;
	}
}

static void progress(struct cli_io *io, uint64_t n, bool done)
{
	uxt_buf_printf(&io->err, "\r%s: %llu packets%s", PROG,
		       (unsigned long long)n, done ? "\n" : "");
	uxt_buf_flush(&io->err);
}

int uxt_replay_main(int argc, char **argv)
{
	struct cli_io io;
	struct replay_cmd c;
	struct uxt_pcap_reader *rd = NULL;
	struct ps_session *s = NULL;
	const struct uxt_iface *opt_in = NULL, *opt_out = NULL;
	const struct uxt_host *host;
	struct uxt_frame f;
	struct uxt_err e, damage;
	bool tty = isatty(STDERR_FILENO), damaged = false, have_frame;
	uint64_t last_progress = 0;
	int status = 0, rc;

	cli_io_init(&io, PROG);
	uxt_err_clear(&e);
	memset(&c, 0, sizeof(c));
	if (parse(&c, &io, argc, argv, &e)) {
		status = report(&io, &e);
		goto out;
	}
	if (c.help) {
		help(&io.out);
		goto out;
	}
	if (uxt_pcap_open_read(&rd, c.file, &e)) {
		status = report(&io, &e);
		goto out;
	}
	/* the first record sets the clock the ruleset is compiled at */
	rc = uxt_pcap_next(rd, &f, &damage);
	if (rc < 0)
		damaged = true;
	have_frame = rc == 1;
	c.ps.time_ns = have_frame ? f.tstamp_ns : 0;
	if (ps_start(&s, &c.ps, &io, &e)) {
		status = report(&io, &e);
		goto out;
	}
	host = ps_host(s);
	if (c.in_name && !(opt_in = uxt_host_iface_by_name(host, c.in_name))) {
		uxt_error(&e, UXT_PARAMETER_PROBLEM,
			  "-i %s: no such interface in the host model", c.in_name);
		status = report(&io, &e);
		goto out;
	}
	if (c.out_name && !(opt_out = uxt_host_iface_by_name(host, c.out_name))) {
		uxt_error(&e, UXT_PARAMETER_PROBLEM,
			  "-o %s: no such interface in the host model", c.out_name);
		status = report(&io, &e);
		goto out;
	}
	/* one record per turn; the reader ends at the file's end or damage */
	while (have_frame) {
		const struct uxt_iface *in, *out;
		const char *why;
		char whybuf[160];
		struct uxt_pkt pkt;

		why = f.skip ? f.skip :
			       place(&f, host, opt_in, opt_out, &in, &out, whybuf,
				     sizeof(whybuf));
		if (!why && uxt_pkt_init_copy(&pkt, f.ip, (uint32_t)f.ip_len,
					      (uint32_t)f.ip_len))
			why = "out of memory";
		if (why) {
			ps_skip(s, f.index, why);
		} else {
			pkt.tstamp_ns = f.tstamp_ns;
			if (in) {
				set_link(&pkt, &f, in);
			} else {
				pkt.outdev = out;
				pkt.has_sock = true;
				pkt.uid = (uint32_t)getuid();
				pkt.gid = (uint32_t)getgid();
			}
			ps_set_clock(s, f.tstamp_ns);
			ps_packet(s, f.index, &pkt, in);
		}
		if (tty) {
			uint64_t now = monotonic_ns();

			if (now - last_progress >= PROGRESS_INTERVAL_NS) {
				progress(&io, f.index, false);
				last_progress = now;
			}
		}
		rc = uxt_pcap_next(rd, &f, &damage);
		if (rc < 0)
			damaged = true;
		have_frame = rc == 1;
	}
	if (tty)
		progress(&io, ps_count(s) + ps_skipped(s), true);
	if (ps_finish(s, true, &e))
		status = report(&io, &e);
	if (damaged)
		status = report(&io, &damage);
out:
	ps_free(s);
	uxt_pcap_close_read(rd);
	cli_io_close(&io);
	return status;
}
