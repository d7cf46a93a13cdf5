/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cls_run: the proof of architecture decision 8 for tests/classify_units.py.
 * The same ruleset is loaded into two namespaces, one with the classifier
 * forced on and one with it off, and every packet goes through both; what
 * each reports must be the same, packet by packet.
 *
 *   cls_run STATE_DIR < commands
 *
 * Commands, one per line:
 *   P HOOK IN OUT MARK TIME HEX   the datagram HEX at HOOK (0-4) with the
 *                                 hook's devices IN and OUT ("-": none),
 *                                 nfmark MARK, namespace clock TIME (ns)
 *   S                             both write their counters and rule state
 *                                 back into their ruleset and compile it
 *                                 again (classifiers are built afresh)
 * A device is made on first mention (index in order of appearance).
 *
 * What is compared per packet: every rule whose counter moved (table,
 * hook, chain, rule number, TRACE label), every table's verdict with the
 * rule that gave it (a hotdrop shows as DROP at the rule whose match asked
 * for it), every log line (LOG, TRACE), every NFLOG message, every packet
 * the engine sent (REJECT replies, byte for byte), drops and their
 * reasons, the hook's verdict, and the packet and its mark afterwards.  At
 * the end, every counter of every table.
 *
 * Output: "DIFF N" and both event lists for a packet that differs; per
 * packet with the classifier on "E" and its events when -v is given; at the
 * end one line
 *   SUMMARY packets P differ D events E rules R hotdrops H logs L
 *           counters same|differ chains C trees T bytes B
 * (chains, trees, bytes: the classifiers the "on" namespace built).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "store.h"
#include "table.h"

#define MAX_IFACES 64

struct side {
	struct uxt_store store;
	struct uxt_ruleset rs;
	struct uxt_ns *ns;
	char *ev;		/* this packet's events, one a line */
	size_t len, cap;
	unsigned int nrules, nlogs;
	bool hotdrop_seen;
};

static struct uxt_iface ifaces[MAX_IFACES];
static unsigned int nifaces;

static void die(const char *what, const struct uxt_err *e)
{
	fprintf(stderr, "cls_run: %s%s%s\n", what, e ? ": " : "", e ? e->msg : "");
	exit(2);
}

static void add(struct side *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(s->ev + s->len, s->cap - s->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf", NULL);
		if ((size_t)n < s->cap - s->len)
			break;
		s->cap = (s->cap + (size_t)n) * 2;
		s->ev = realloc(s->ev, s->cap);
		if (!s->ev)
			die("out of memory", NULL);
	}
	s->len += (size_t)n;
}

static void add_hex(struct side *s, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		add(s, "%02x", p[i]);
}

static void on_rule(void *ctx, const char *table, unsigned int hook,
		    const char *chain, unsigned int rulenum,
		    const char *comment, const struct uxt_rule *rule)
{
	struct side *s = ctx;

	(void)rule;
	s->nrules++;
	add(s, "rule %s %u %s %u %s\n", table, hook, chain, rulenum, comment);
}

static void on_verdict(void *ctx, const char *table, unsigned int hook,
		       unsigned int verdict, const char *chain,
		       unsigned int rulenum)
{
	add(ctx, "verdict %s %u %u %s %u\n", table, hook, verdict, chain, rulenum);
}

static void on_drop(void *ctx, const struct uxt_pkt *pkt, const char *reason)
{
	(void)pkt;
	add(ctx, "drop %s\n", reason ? reason : "-");
}

static void on_log(void *ctx, unsigned int level, const char *line)
{
	struct side *s = ctx;

	s->nlogs++;
	add(s, "log %u %s\n", level, line);
}

static void on_nflog(void *ctx, const struct uxt_pkt *pkt, unsigned int hook,
		     uint16_t group, const char *prefix, uint32_t copy_len)
{
	struct side *s = ctx;

	s->nlogs++;
	add(s, "nflog %u %u [%s] %u %u ", hook, group, prefix, copy_len, pkt->len);
	add_hex(s, pkt->data, pkt->len);
	add(s, "\n");
}

static void on_local_out(void *ctx, struct uxt_pkt *pkt,
			 const struct uxt_route_result *rt)
{
	struct side *s = ctx;

	(void)rt;
	add(s, "out ");
	add_hex(s, pkt->data, pkt->len);
	add(s, "\n");
	uxt_pkt_release(pkt);
}

static void load(struct side *s, const char *dir, enum uxt_cls_mode mode)
{
	struct uxt_events ev = {
		.ctx = s,
		.rule = on_rule,
		.verdict = on_verdict,
		.drop = on_drop,
		.log = on_log,
		.nflog = on_nflog,
		.local_out = on_local_out,
	};
	struct uxt_err e;

	uxt_err_clear(&e);
	if (uxt_store_open(&s->store, dir, &e) ||
	    uxt_store_load(&s->store, &s->rs, &e))
		die("load", &e);
	s->ns = uxt_ns_new();
	uxt_ns_set_events(s->ns, &ev);
	uxt_ns_set_time(s->ns, 1000000000ull);
	/* set before the ruleset for one side, after it for the other: both
	 * ways must hold */
	if (mode == UXT_CLS_OFF)
		uxt_ns_set_classifier(s->ns, mode);
	if (uxt_ns_set_ruleset(s->ns, &s->rs, &e))
		die("compile", &e);
	if (mode != UXT_CLS_OFF)
		uxt_ns_set_classifier(s->ns, mode);
}

static void resync(struct side *s)
{
	struct uxt_err e;

	uxt_err_clear(&e);
	uxt_ns_sync_ruleset(s->ns, &s->rs);
	if (uxt_ns_set_ruleset(s->ns, &s->rs, &e))
		die("compile", &e);
}

static const struct uxt_iface *iface(const char *name)
{
	if (strcmp(name, "-") == 0)
		return NULL;
	for (unsigned int i = 0; i < nifaces; i++)
		if (strcmp(ifaces[i].name, name) == 0)
			return &ifaces[i];
	if (nifaces == MAX_IFACES || strlen(name) >= sizeof(ifaces[0].name))
		die("too many or too long device names", NULL);
	snprintf(ifaces[nifaces].name, sizeof(ifaces[nifaces].name), "%s", name);
	ifaces[nifaces].index = (int)nifaces + 2;
	ifaces[nifaces].type = UXT_ARPHRD_ETHER;
	ifaces[nifaces].mtu = 1500;
	ifaces[nifaces].up = true;
	return &ifaces[nifaces++];
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One packet through one side; its events in s->ev. */
static void run_one(struct side *s, unsigned int hook, const struct uxt_iface *in,
		    const struct uxt_iface *out, uint32_t mark, uint64_t t,
		    const unsigned char *data, size_t n)
{
	struct uxt_pkt pkt;
	unsigned int v;

	s->len = 0;
	s->ev[0] = '\0';
	if (uxt_pkt_init_copy(&pkt, data, (uint32_t)n, UXT_PKT_MAXLEN))
		die("packet", NULL);
	pkt.mark = mark;
	pkt.pkt_type = UXT_PACKET_HOST;
	pkt.hwtype = UXT_ARPHRD_ETHER;
	pkt.indev = in;
	pkt.outdev = out;
	pkt.tstamp_ns = t;
	uxt_ns_set_time(s->ns, t);
	v = uxt_ns_hook(s->ns, hook, &pkt, in, out);
	add(s, "hook %u mark %" PRIu32 " trace %d len %" PRIu32 " ", v, pkt.mark,
	    pkt.nf_trace, pkt.len);
	add_hex(s, pkt.data, pkt.len);
	add(s, "\n");
	uxt_ns_hook_finish(s->ns, &pkt);
}

static bool same_counters(struct side *a, struct side *b)
{
	bool same = true;

	for (int t = 0; t < UXT_NTABLES; t++) {
		size_t na = uxt_ns_counters(a->ns, t, NULL, 0);
		size_t nb = uxt_ns_counters(b->ns, t, NULL, 0);
		struct uxt_counters *ca, *cb;

		if (na != nb) {
			printf("COUNTERS table %d: %zu entries on, %zu off\n", t, na, nb);
			same = false;
			continue;
		}
		if (!na)
			continue;
		ca = calloc(na, sizeof(*ca));
		cb = calloc(nb, sizeof(*cb));
		if (!ca || !cb)
			die("out of memory", NULL);
		uxt_ns_counters(a->ns, t, ca, na);
		uxt_ns_counters(b->ns, t, cb, nb);
		for (size_t i = 0; i < na; i++)
			if (ca[i].pcnt != cb[i].pcnt || ca[i].bcnt != cb[i].bcnt) {
				printf("COUNTERS table %d entry %zu: on %" PRIu64 "/%" PRIu64
				       " off %" PRIu64 "/%" PRIu64 "\n", t, i, ca[i].pcnt,
				       ca[i].bcnt, cb[i].pcnt, cb[i].bcnt);
				same = false;
			}
		free(ca);
		free(cb);
	}
	return same;
}

int main(int argc, char **argv)
{
	static unsigned char buf[UXT_PKT_MAXLEN];
	struct side on = {0}, off = {0};
	struct uxt_cls_stats st;
	unsigned long packets = 0, differ = 0, events = 0, hotdrops = 0;
	unsigned long rules = 0, logs = 0;
	bool verbose = argc > 2 && strcmp(argv[2], "-v") == 0;
	char *line = NULL;
	size_t cap = 0;
	bool same;

	if (argc < 2) {
		fputs("usage: cls_run STATE_DIR [-v] < commands\n", stderr);
		return 2;
	}
	on.cap = off.cap = 4096;
	on.ev = malloc(on.cap);
	off.ev = malloc(off.cap);
	if (!on.ev || !off.ev)
		die("out of memory", NULL);
	load(&on, argv[1], UXT_CLS_ON);
	load(&off, argv[1], UXT_CLS_OFF);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	while (getline(&line, &cap, stdin) > 0) {
		unsigned int hook;
		char in[32], out[32];
		unsigned long mark;
		unsigned long long t;
		int pos = 0;
		size_t n = 0;
		const char *hex;

		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "S") == 0) {
			resync(&on);
			resync(&off);
			continue;
		}
		if (sscanf(line, "P %u %31s %31s %lu %llu %n", &hook, in, out, &mark,
			   &t, &pos) != 5 || pos == 0 || hook >= UXT_NHOOKS)
			die("bad command", NULL);
		for (hex = line + pos; hex[0] && hex[1] && n < sizeof(buf); hex += 2) {
			int hi = hexval(hex[0]), lo = hexval(hex[1]);

			if (hi < 0 || lo < 0)
				break;
			buf[n++] = (unsigned char)(hi << 4 | lo);
		}
		packets++;
		on.nrules = on.nlogs = 0;
		run_one(&on, hook, iface(in), iface(out), (uint32_t)mark, t, buf, n);
		run_one(&off, hook, iface(in), iface(out), (uint32_t)mark, t, buf, n);
		rules += on.nrules;
		logs += on.nlogs;
		for (const char *p = on.ev; (p = strchr(p, '\n')); p++)
			events++;
		/* a hotdrop: a table's DROP at a rule whose target is not
		 * DROP shows in the verdict line without a rule line before it
		 * for that rule; counted loosely as DROP verdicts at a rule that
		 * did not move its counter */
		{
			const char *p = on.ev;

			while ((p = strstr(p, "verdict "))) {
				char tab[16], ch[40], want[128];
				unsigned int hk, v, num;

				if (sscanf(p, "verdict %15s %u %u %39s %u", tab, &hk, &v, ch,
					   &num) == 5 && v == 0) {
					snprintf(want, sizeof(want), "rule %s %u %s %u ", tab,
						 hk, ch, num);
					if (!strstr(on.ev, want))
						hotdrops++;
				}
				p++;
			}
		}
		if (on.len != off.len || memcmp(on.ev, off.ev, on.len) != 0) {
			differ++;
			printf("DIFF %lu: %s\n--- classifier on\n%s--- classifier off\n%s",
			       packets, line, on.ev, off.ev);
		} else if (verbose) {
			printf("E %lu\n%s", packets, on.ev);
		}
	}
	free(line);
	same = same_counters(&on, &off);
	uxt_ns_classifier_stats(on.ns, &st);
	printf("SUMMARY packets %lu differ %lu events %lu rules %lu hotdrops %lu"
	       " logs %lu counters %s chains %u trees %u bytes %" PRIu64 "\n",
	       packets, differ, events, rules, hotdrops, logs,
	       same ? "same" : "differ", st.chains, st.trees, st.bytes);
	uxt_ns_classifier_stats(off.ns, &st);
	if (st.chains)
		printf("ERROR the classifier was built with UXT_CLS_OFF\n");
	uxt_ns_free(on.ns);
	uxt_ns_free(off.ns);
	uxt_ruleset_free(&on.rs);
	uxt_ruleset_free(&off.rs);
	uxt_store_close(&on.store);
	uxt_store_close(&off.store);
	free(on.ev);
	free(off.ev);
	return differ || !same ? 1 : 0;
}
