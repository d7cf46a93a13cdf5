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
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "getopt.h"
#include "packet_session.h"
#include "pcap_io.h"

#define PROG "uxt replay"
/* how often the progress line may change, in nanoseconds */
#define PROGRESS_INTERVAL_NS 200000000u

enum {
	OPT_IN = 'i',
	OPT_OUT = 'o',
	OPT_WRITE = 'w',
	OPT_HELP = 'h',
	OPT_QUIET = 'q',
	OPT_RAW_SENDS = 0x200,
};

static const struct uxt_option replay_opts[] = {
	{"in-interface", 1, OPT_IN},
	{"out-interface", 1, OPT_OUT},
	{"write", 1, OPT_WRITE},
	{"help", 0, OPT_HELP},
	{"raw-sends", 0, OPT_RAW_SENDS},
	{"quiet", 0, OPT_QUIET},
	PS_LONGOPTS,
	{NULL, 0, 0},
};

static void help(struct uxt_buf *b)
{
	uxt_buf_puts(b,
		"Usage: uxt replay FILE [-i IFACE | -o IFACE] [-w OUT] [-q] [--raw-sends]\n"
		"                  [--host FILE] [--trace] [--json] [--log FILE]\n"
		"                  [--syslog] [--nflog-dir DIR]\n"
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
		"  -q, --quiet                no per-packet report: only the counters at the end\n"
		"  --raw-sends                packets this host sent come from raw sockets\n"
		"                             (IP_HDRINCL): each passes OUTPUT as it is, with an\n"
		"                             IP ID of 0 filled in (default: its own stack sent\n"
		"                             them; fragments are replayed as their datagram)\n");
	ps_help_options(b, "print every rule each packet matched",
			"one JSON object per packet, no counters");
	uxt_buf_puts(b,
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
	return ps_report(io, PROG, e);
}

struct replay_cmd {
	struct ps_options ps;
	const char *file;
	const char *in_name, *out_name;
	bool raw_sends;			/* sent records come from raw sockets */
	bool help;
};

static int parse(struct replay_cmd *c, struct cli_io *io, int argc,
		 char **argv, struct uxt_err *e)
{
	struct uxt_getopt g;
	int opt;

	memset(&g, 0, sizeof(g));
	uxt_getopt_init(&g, &io->err, 1);
	while ((opt = uxt_getopt_long(&g, argc, argv, "hi:o:qw:", replay_opts,
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
		case OPT_RAW_SENDS:
			c->raw_sends = true;
			break;
		case OPT_QUIET:
			c->ps.quiet = true;
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

/*
 * Outgoing fragments.  The kernel passes a datagram it sends through
 * OUTPUT and POSTROUTING whole and fragments it as it leaves, so a capture
 * shows the pieces of something the tables saw once: they are put back
 * together here and the whole datagram is replayed when the last piece
 * arrives, at the time of the first.
 */
#define OUT_FRAG_SETS 32
#define OUT_FRAG_MAX 65535u

struct out_frags {
	bool used;
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t proto;
	int ifindex;
	uint64_t first_ns;		/* the first piece's time */
	unsigned char *buf;		/* header, then the payload at offset */
	uint32_t hlen;			/* 0 until the first piece arrived */
	uint32_t total;			/* payload length, 0 until the last */
	uint32_t have;			/* payload bytes received */
};

static bool is_fragment(const unsigned char *ip, size_t len)
{
	return len >= 20 && ((ip[6] & 0x3F) || ip[7]);
}

static struct out_frags *out_frag_set(struct out_frags *sets,
				      const unsigned char *ip, int ifindex,
				      uint64_t now_ns)
{
	struct out_frags *free_set = NULL, *oldest = NULL;
	uint32_t saddr, daddr;
	uint16_t id;

	memcpy(&saddr, ip + 12, 4);
	memcpy(&daddr, ip + 16, 4);
	memcpy(&id, ip + 4, 2);
	for (unsigned int i = 0; i < OUT_FRAG_SETS; i++) {
		struct out_frags *f = &sets[i];

		if (!f->used) {
			if (!free_set)
				free_set = f;
			continue;
		}
		if (f->saddr == saddr && f->daddr == daddr && f->id == id &&
		    f->proto == ip[9] && f->ifindex == ifindex)
			return f;
		if (!oldest || f->first_ns < oldest->first_ns)
			oldest = f;
	}
	if (!free_set) {
		/* a datagram never completed gives way to a new one */
		free_set = oldest;
		free(free_set->buf);
	}
	memset(free_set, 0, sizeof(*free_set));
	free_set->buf = calloc(1, OUT_FRAG_MAX + 60);
	if (!free_set->buf)
		return NULL;
	free_set->used = true;
	free_set->saddr = saddr;
	free_set->daddr = daddr;
	free_set->id = id;
	free_set->proto = ip[9];
	free_set->ifindex = ifindex;
	free_set->first_ns = now_ns;
	return free_set;
}

/* Adds a piece; returns the length of the whole datagram in f->buf once
 * it is complete, else 0 (or 0 and the set dropped when it is not a
 * datagram that can be). */
static uint32_t out_frag_add(struct out_frags *f, const unsigned char *ip,
			     size_t len)
{
	uint32_t hlen = (uint32_t)(ip[0] & 0x0F) * 4u, off, plen, whole;
	uint16_t tot = (uint16_t)(ip[2] << 8 | ip[3]);

	if (hlen < 20 || hlen > len || tot < hlen || tot > len)
		goto bad;
	off = ((uint32_t)(ip[6] & 0x1F) << 8 | ip[7]) * 8u;
	plen = tot - hlen;
	if (off + plen > OUT_FRAG_MAX - 60)
		goto bad;
	if (off == 0) {
		memcpy(f->buf, ip, hlen);
		f->hlen = hlen;
	}
	if (!(ip[6] & 0x20))
		f->total = off + plen;
	memcpy(f->buf + 60 + off, ip + hlen, plen);
	f->have += plen;
	if (!f->hlen || !f->total || f->have < f->total)
		return 0;
	/* the header of the first piece, without MF and offset */
	whole = f->hlen + f->total;
	memmove(f->buf + f->hlen, f->buf + 60, f->total);
	f->buf[2] = (unsigned char)(whole >> 8);
	f->buf[3] = (unsigned char)whole;
	f->buf[6] &= 0x40;
	f->buf[7] = 0;
	f->buf[10] = f->buf[11] = 0;
	{
		uint32_t sum = 0;

		for (uint32_t i = 0; i < f->hlen; i += 2)
			sum += (uint32_t)(f->buf[i] << 8 | f->buf[i + 1]);
		while (sum >> 16)
			sum = (sum & 0xFFFF) + (sum >> 16);
		f->buf[10] = (unsigned char)(~sum >> 8);
		f->buf[11] = (unsigned char)~sum;
	}
	return whole;
bad:
	free(f->buf);
	memset(f, 0, sizeof(*f));
	return 0;
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
	struct out_frags frags[OUT_FRAG_SETS];
	uint64_t last_progress = 0;
	int status = 0, rc;

	memset(frags, 0, sizeof(frags));
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
		if (!why && !in && out && out->loopback && f.dir == UXT_FRAME_DIR_OUT) {
			/* a capture on any device may keep both copies of what
			 * crosses lo; libpcap keeps the received one */
			uxt_pkt_release(&pkt);
			why = "the outgoing copy of a datagram on lo (its "
			      "received copy is replayed)";
		}
		if (!why && !in &&
		    ps_sent_by_replay(s, f.ip, f.ip_len, out)) {
			uxt_pkt_release(&pkt);
			why = "sent by the replay itself (the outgoing copy of a "
			      "forwarded datagram, or one this host made)";
		}
		if (!why && !in && !c.raw_sends && is_fragment(f.ip, f.ip_len)) {
			struct out_frags *set =
				out_frag_set(frags, f.ip, out ? out->index : 0,
					     f.tstamp_ns);
			uint32_t whole = set ? out_frag_add(set, f.ip, f.ip_len) : 0;

			uxt_pkt_release(&pkt);
			if (!whole) {
				why = "a fragment of a datagram this host sent: "
				      "replayed whole with the piece that "
				      "completes it";
			} else if (uxt_pkt_init_copy(&pkt, set->buf, whole,
						     whole)) {
				why = "out of memory";
			} else {
				f.tstamp_ns = set->first_ns;
			}
			if (set && whole) {
				free(set->buf);
				memset(set, 0, sizeof(*set));
			}
		}
		if (why) {
			ps_skip(s, f.index, why);
		} else {
			pkt.tstamp_ns = f.tstamp_ns;
			ps_set_clock(s, f.tstamp_ns);
			if (in) {
				set_link(&pkt, &f, in);
				ps_packet(s, f.index, &pkt, in);
			} else {
				pkt.outdev = out;
				pkt.has_sock = true;
				pkt.uid = (uint32_t)getuid();
				pkt.gid = (uint32_t)getgid();
				if (c.raw_sends)
					ps_packet(s, f.index, &pkt, NULL);
				else
					ps_packet_sent(s, f.index, &pkt);
			}
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
	for (unsigned int i = 0; i < OUT_FRAG_SETS; i++)
		free(frags[i].buf);
	ps_free(s);
	uxt_pcap_close_read(rd);
	cli_io_close(&io);
	return status;
}
