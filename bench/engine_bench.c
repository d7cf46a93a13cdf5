/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The packet path of libuxt alone: no process start, no capture, no I/O.
 *
 *   engine_bench STATE_DIR HOST_FILE FRAMES time SECONDS
 *   engine_bench STATE_DIR HOST_FILE FRAMES verdicts
 *   engine_bench STATE_DIR HOST_FILE FRAMES first
 *
 * STATE_DIR holds a committed ruleset (bench/run.py restores it with
 * uxtables' iptables-restore), HOST_FILE the host model (docs/host.md),
 * FRAMES the datagrams: records of one byte naming the receiving interface
 * (0: eth0, 1: eth2), a two-byte length (big endian) and the IPv4 datagram.
 *
 * "time": the datagrams are received, in order and over and over, on their
 * interfaces through uxt_ns_receive() until at least SECONDS have passed
 * (whole passes over FRAMES, at most 10^9 packets).  Only that loop is
 * timed; per packet it copies the datagram into a stack buffer (the
 * forwarding path rewrites the TTL), fills in a struct uxt_pkt and calls
 * uxt_ns_receive(), which runs the kernel's receive checks, PREROUTING,
 * input routing, FORWARD, POSTROUTING and reports the packet leaving
 * (the xmit callback counts it).  Prints one line:
 *
 *   PACKETS SECONDS PACKETS_PER_SECOND NS_PER_PACKET ACCEPTED
 *
 * "verdicts": one pass; prints per datagram its fate and the rule of the
 * filter table that decided it:
 *
 *   A|D|R CHAIN RULENUM
 *
 * A: it left (forwarded), D: a table dropped it, R: the kernel dropped it
 * outside the tables (CHAIN is then "-").  RULENUM is the policy's number
 * (rules + 1) when the policy decided.
 *
 * "first": the latency from a committed ruleset to the first verdict, and
 * what the classifier built for it (docs/classifier.md); prints one line:
 *
 *   LOAD_NS FIRST_NS BUILD_NS BYTES CHAINS TREES RULES MAX_DEPTH
 *
 * LOAD_NS: opening and loading the state and compiling it into the
 * namespace; FIRST_NS: the first datagram's uxt_ns_receive(), which builds
 * the classifiers its walk needs; BUILD_NS, BYTES, ...: the classifiers'
 * figures (uxt_ns_classifier_stats) after that packet.
 *
 * Every mode takes the classifier's mode from UXT_CLASSIFIER (on, off,
 * auto; unset: auto), as the front doors do.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "store.h"

#define MAX_DATAGRAM 1500
#define MAX_PACKETS 1000000000ul

struct frame {
	const struct uxt_iface *dev;
	uint16_t len;
	const unsigned char *data;
};

struct bench {
	unsigned long accepted;
	/* verdicts mode */
	char fate;
	char chain[64];
	unsigned int rulenum;
};

static void on_xmit(void *ctx, const struct uxt_pkt *pkt,
		    const struct uxt_iface *dev)
{
	struct bench *b = ctx;

	(void)pkt;
	(void)dev;
	b->accepted++;
	b->fate = 'A';
}

static void on_drop(void *ctx, const struct uxt_pkt *pkt, const char *reason)
{
	(void)pkt;
	((struct bench *)ctx)->fate = reason ? 'R' : 'D';
}

static void on_verdict(void *ctx, const char *table, unsigned int hook,
		       unsigned int verdict, const char *chain,
		       unsigned int rulenum)
{
	struct bench *b = ctx;

	(void)hook;
	(void)verdict;
	if (strcmp(table, "filter") == 0) {
		snprintf(b->chain, sizeof(b->chain), "%s", chain);
		b->rulenum = rulenum;
	}
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
			if (!buf) {
				fputs("engine_bench: out of memory\n", stderr);
				exit(1);
			}
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

static size_t parse_frames(const unsigned char *buf, size_t len,
			   const struct uxt_host *h, struct frame **out)
{
	const struct uxt_iface *dev[2] = {
		uxt_host_iface_by_name(h, "eth0"),
		uxt_host_iface_by_name(h, "eth2"),
	};
	size_t n = 0, cap = 0, pos = 0;
	struct frame *v = NULL;

	if (!dev[0] || !dev[1]) {
		fputs("engine_bench: the host needs eth0 and eth2\n", stderr);
		exit(1);
	}
	while (pos + 3 <= len) {
		unsigned int sel = buf[pos];
		unsigned int flen = (unsigned int)buf[pos + 1] << 8 | buf[pos + 2];

		if (sel > 1 || flen < 20 || flen > MAX_DATAGRAM ||
		    pos + 3 + flen > len) {
			fprintf(stderr, "engine_bench: bad record at byte %zu\n", pos);
			exit(1);
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			v = realloc(v, cap * sizeof(*v));
			if (!v) {
				fputs("engine_bench: out of memory\n", stderr);
				exit(1);
			}
		}
		v[n].dev = dev[sel];
		v[n].len = (uint16_t)flen;
		v[n].data = buf + pos + 3;
		n++;
		pos += 3 + flen;
	}
	*out = v;
	return n;
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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct uxt_store store;
	struct uxt_ruleset rs;
	struct uxt_err err;
	struct uxt_host *host;
	struct uxt_ns *ns;
	struct bench b = {0};
	struct uxt_events ev = {
		.ctx = &b,
		.xmit = on_xmit,
		.drop = on_drop,
	};
	struct frame *frames;
	unsigned char *raw;
	size_t rawlen, n;
	bool verdicts, first;
	double t_load = 0;

	if (argc < 5 || (strcmp(argv[4], "time") == 0 && argc != 6) ||
	    (strcmp(argv[4], "verdicts") == 0 && argc != 5) ||
	    (strcmp(argv[4], "first") == 0 && argc != 5) ||
	    (strcmp(argv[4], "time") && strcmp(argv[4], "verdicts") &&
	     strcmp(argv[4], "first"))) {
		fputs("usage: engine_bench STATE_DIR HOST_FILE FRAMES time SECONDS\n"
		      "       engine_bench STATE_DIR HOST_FILE FRAMES verdicts\n"
		      "       engine_bench STATE_DIR HOST_FILE FRAMES first\n",
		      stderr);
		return 2;
	}
	verdicts = strcmp(argv[4], "verdicts") == 0;
	first = strcmp(argv[4], "first") == 0;
	uxt_err_clear(&err);
	/* the host and the datagrams first: "first" times from the state */
	host = calloc(1, sizeof(*host));
	if (!host || uxt_host_from_file(host, argv[2], &err)) {
		fprintf(stderr, "engine_bench: %s\n", host ? err.msg : "out of memory");
		return 1;
	}
	raw = read_file(argv[3], &rawlen);
	n = parse_frames(raw, rawlen, host, &frames);
	if (n == 0) {
		fputs("engine_bench: no datagrams\n", stderr);
		return 1;
	}
	t_load = now();
	if (uxt_store_open(&store, argv[1], &err) ||
	    uxt_store_load(&store, &rs, &err)) {
		fprintf(stderr, "engine_bench: %s\n", err.msg);
		return 1;
	}
	if (verdicts)
		ev.verdict = on_verdict;
	ns = uxt_ns_new();
	uxt_ns_set_host(ns, host);
	uxt_ns_set_events(ns, &ev);
	uxt_ns_set_time(ns, 1000000000ull);
	if (uxt_ns_classifier_from_env(ns, &err) ||
	    uxt_ns_set_ruleset(ns, &rs, &err)) {
		fprintf(stderr, "engine_bench: %s\n", err.msg);
		return 1;
	}
	if (first) {
		struct uxt_cls_stats st;
		double t0 = now(), t1;

		receive_one(ns, &frames[0]);
		t1 = now();
		uxt_ns_classifier_stats(ns, &st);
		printf("%.0f %.0f %" PRIu64 " %" PRIu64 " %u %u %" PRIu64 " %u\n",
		       (t0 - t_load) * 1e9, (t1 - t0) * 1e9, st.build_ns, st.bytes,
		       st.chains, st.trees, st.rules, st.max_depth);
	} else if (verdicts) {
		for (size_t i = 0; i < n; i++) {
			b.fate = '?';
			b.chain[0] = '\0';
			b.rulenum = 0;
			receive_one(ns, &frames[i]);
			printf("%c %s %u\n", b.fate, b.chain[0] ? b.chain : "-",
			       b.rulenum);
		}
	} else {
		double min_secs = strtod(argv[5], NULL), t0, t1;
		unsigned long packets = 0;

		/* one untimed pass: first-touch of the rules and buffers */
		for (size_t i = 0; i < n; i++)
			receive_one(ns, &frames[i]);
		b.accepted = 0;
		t0 = now();
		do {
			for (size_t i = 0; i < n; i++)
				receive_one(ns, &frames[i]);
			packets += n;
			t1 = now();
		} while (t1 - t0 < min_secs && packets < MAX_PACKETS);
		printf("%lu %.6f %.0f %.2f %lu\n", packets, t1 - t0,
		       (double)packets / (t1 - t0), (t1 - t0) * 1e9 / (double)packets,
		       b.accepted);
	}
	uxt_ns_free(ns);
	uxt_ruleset_free(&rs);
	uxt_store_close(&store);
	free(frames);
	free(raw);
	return 0;
}
