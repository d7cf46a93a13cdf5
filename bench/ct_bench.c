/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Connection tracking on libuxt's packet path alone: no process start, no
 * capture, no I/O (make bench, section 7; docs/bench.md).
 *
 *   ct_bench STATE_DIR HOST_FILE FRAMES once
 *   ct_bench STATE_DIR HOST_FILE FRAMES time SECONDS PREP_FRAMES
 *
 * STATE_DIR holds a committed ruleset (bench/run.py restores it with
 * uxtables' iptables-restore), HOST_FILE the host model, FRAMES and
 * PREP_FRAMES datagrams in engine_bench's format: records of one byte
 * naming the receiving interface (0: eth0, 1: eth2), a two-byte length
 * (big endian) and the IPv4 datagram.  The namespace's conntrack table
 * starts empty and the clock stands still (nothing expires); the table
 * limit (nf_conntrack_max) is raised to 4,000,000 so that no entry is
 * dropped early, as bench/run.py raises the kernel's.
 *
 * "once": one timed pass over FRAMES, each datagram received through
 * uxt_ns_receive() (receive checks, PREROUTING with conntrack, routing,
 * FORWARD, POSTROUTING and confirm); with distinct tuples, one new
 * connection per datagram.  The process's resident memory is read before
 * and after the pass (/proc/self/statm): what the entries made took.
 *
 * "time": one untimed pass over PREP_FRAMES (e.g. the first packet of each
 * flow and its reply, so that the flows are ESTABLISHED), then FRAMES over
 * and over for at least SECONDS (whole passes, at most 10^9 packets).
 *
 * Prints one line:
 *
 *   PACKETS SECONDS NS_PER_PACKET ACCEPTED ENTRIES RSS_GROWTH_BYTES
 *
 * ACCEPTED: datagrams that left (the xmit callback), ENTRIES: the table's
 * entries at the end, RSS_GROWTH_BYTES: resident memory after the timed
 * part minus before it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ct.h"
#include "engine.h"
#include "store.h"

#define MAX_DATAGRAM 1500
#define MAX_PACKETS 1000000000ul
#define CT_BENCH_MAX 4000000u

struct frame {
	const struct uxt_iface *dev;
	uint16_t len;
	const unsigned char *data;
};

struct frames {
	unsigned char *raw;
	struct frame *v;
	size_t n;
};

static void on_xmit(void *ctx, const struct uxt_pkt *pkt,
		    const struct uxt_iface *dev)
{
	(void)pkt;
	(void)dev;
	(*(unsigned long *)ctx)++;
}

static void die(const char *msg)
{
	fprintf(stderr, "ct_bench: %s\n", msg);
	exit(1);
}

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f) {
		perror(path);
		exit(1);
	}
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 1 << 16;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

static void load_frames(struct frames *fr, const char *path,
			const struct uxt_host *h)
{
	const struct uxt_iface *dev[2] = {
		uxt_host_iface_by_name(h, "eth0"),
		uxt_host_iface_by_name(h, "eth2"),
	};
	size_t len, cap = 0, pos = 0;

	if (!dev[0] || !dev[1])
		die("the host needs eth0 and eth2");
	fr->raw = read_file(path, &len);
	fr->v = NULL;
	fr->n = 0;
	while (pos + 3 <= len) {
		unsigned int sel = fr->raw[pos];
		unsigned int flen = (unsigned int)fr->raw[pos + 1] << 8 | fr->raw[pos + 2];

		if (sel > 1 || flen < 20 || flen > MAX_DATAGRAM || pos + 3 + flen > len) {
			fprintf(stderr, "ct_bench: %s: bad record at byte %zu\n", path, pos);
			exit(1);
		}
		if (fr->n == cap) {
			cap = cap ? cap * 2 : 1024;
			fr->v = realloc(fr->v, cap * sizeof(*fr->v));
			if (!fr->v)
				die("out of memory");
		}
		fr->v[fr->n].dev = dev[sel];
		fr->v[fr->n].len = (uint16_t)flen;
		fr->v[fr->n].data = fr->raw + pos + 3;
		fr->n++;
		pos += 3 + flen;
	}
	if (fr->n == 0)
		die("no datagrams");
}

static inline void receive_one(struct uxt_ns *ns, const struct frame *f)
{
	unsigned char buf[MAX_DATAGRAM];
	struct uxt_pkt pkt;

	memcpy(buf, f->data, f->len);
	memset(&pkt, 0, sizeof(pkt));
	pkt.data = buf;
	pkt.len = f->len;
	pkt.cap = sizeof(buf);
	uxt_ns_receive(ns, &pkt, f->dev);
}

static void pass(struct uxt_ns *ns, const struct frames *fr)
{
	for (size_t i = 0; i < fr->n; i++)
		receive_one(ns, &fr->v[i]);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident memory of this process, in bytes. */
static long long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long long size = 0, resident = 0;

	if (!f)
		return -1;
	if (fscanf(f, "%lld %lld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

int main(int argc, char **argv)
{
	struct uxt_store store;
	struct uxt_ruleset rs;
	struct uxt_err err;
	struct uxt_host *host;
	struct uxt_ns *ns;
	unsigned long accepted = 0, packets = 0;
	struct uxt_events ev = {
		.ctx = &accepted,
		.xmit = on_xmit,
	};
	struct frames fr, prep = {0};
	bool once;
	double t0, t1;
	long long rss0, rss1;

	once = argc == 5 && strcmp(argv[4], "once") == 0;
	if (!once && !(argc == 7 && strcmp(argv[4], "time") == 0)) {
		fputs("usage: ct_bench STATE_DIR HOST_FILE FRAMES once\n"
		      "       ct_bench STATE_DIR HOST_FILE FRAMES time SECONDS PREP_FRAMES\n",
		      stderr);
		return 2;
	}
	uxt_err_clear(&err);
	host = calloc(1, sizeof(*host));
	if (!host || uxt_host_from_file(host, argv[2], &err)) {
		fprintf(stderr, "ct_bench: %s\n", host ? err.msg : "out of memory");
		return 1;
	}
	load_frames(&fr, argv[3], host);
	if (!once)
		load_frames(&prep, argv[6], host);
	if (uxt_store_open(&store, argv[1], &err) ||
	    uxt_store_load(&store, &rs, &err)) {
		fprintf(stderr, "ct_bench: %s\n", err.msg);
		return 1;
	}
	ns = uxt_ns_new();
	uxt_ns_set_host(ns, host);
	uxt_ns_set_events(ns, &ev);
	uxt_ns_set_time(ns, 1000000000ull);
	if (uxt_ns_classifier_from_env(ns, &err) ||
	    uxt_ns_set_ruleset(ns, &rs, &err)) {
		fprintf(stderr, "ct_bench: %s\n", err.msg);
		return 1;
	}
	uxt_ct_table_settings(uxt_ns_ct(ns))->max = CT_BENCH_MAX;
	if (once) {
		rss0 = rss_bytes();
		t0 = now();
		pass(ns, &fr);
		t1 = now();
		rss1 = rss_bytes();
		packets = fr.n;
	} else {
		double min_secs = strtod(argv[5], NULL);

		pass(ns, &prep);
		/* one untimed pass: first touch of the entries and buffers */
		pass(ns, &fr);
		accepted = 0;
		rss0 = rss_bytes();
		t0 = now();
		do {
			pass(ns, &fr);
			packets += fr.n;
			t1 = now();
		} while (t1 - t0 < min_secs && packets < MAX_PACKETS);
		rss1 = rss_bytes();
	}
	printf("%lu %.6f %.2f %lu %u %lld\n", packets, t1 - t0,
	       (t1 - t0) * 1e9 / (double)packets, accepted,
	       uxt_ct_table_count(uxt_ns_ct(ns)),
	       rss0 < 0 || rss1 < 0 ? -1 : rss1 - rss0);
	uxt_ns_free(ns);
	uxt_ruleset_free(&rs);
	uxt_store_close(&store);
	free(fr.v);
	free(fr.raw);
	free(prep.v);
	free(prep.raw);
	return 0;
}
