/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * match_run: runs crafted packets through the packet path of libuxt, for
 * tests/match_units.py, which sends the same packets to the kernel.
 *
 *   match_run STATE_DIR [--time-offset NS] [--iface NAME] < commands
 *
 * Loads the ruleset committed in STATE_DIR (by uxt iptables-restore) into a
 * namespace without a host model, so every packet goes through
 * ip_rcv_core's checks and PREROUTING and is then dropped for want of
 * routes: exactly the part of the path the kernel test bed counts.
 *
 * Commands, one per line:
 *   P TIME_NS MARK HEX   a datagram received on the interface at TIME_NS
 *                        (plus the offset) with nfmark MARK
 *   RESYNC               writes counters and rule state back into the
 *                        ruleset and compiles it again (the state survives,
 *                        as it does from one uxt command to the next)
 *   PERSIST              writes counters and rule state back, commits the
 *                        ruleset to STATE_DIR and loads it again (the state
 *                        survives through the state file, as between two
 *                        uxt inject commands)
 *   RELOAD               loads the committed ruleset again (fresh state and
 *                        counters, as after the kernel's table replace, as
 *                        long as no PERSIST came before)
 * Output per packet: "H TABLE CHAIN RULENUM COMMENT" for every rule whose
 * counter moved, then "V pass" (PREROUTING accepted it) or "V drop" (a table
 * dropped it) or "V bad REASON" (refused before the tables), then ".".  At
 * the end (EOF), after a last sync, "C TABLE CHAIN RULENUM PCNT BCNT" for
 * every rule and "C TABLE CHAIN policy PCNT BCNT" for built-in chains.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "store.h"
#include "table.h"

struct run {
	const char *state_dir;
	struct uxt_store store;
	struct uxt_ruleset rs;
	struct uxt_ns *ns;
	struct uxt_iface iface;
	int64_t time_offset;
	bool loaded;
	/* what happened to the packet being handled */
	char verdict[256];
};

static void on_rule(void *ctx, const char *table, unsigned int hook,
		    const char *chain, unsigned int rulenum,
		    const char *comment, const struct uxt_rule *rule)
{
	(void)ctx;
	(void)hook;
	(void)rule;
	printf("H %s %s %u %s\n", table, chain, rulenum, comment);
}

static void on_drop(void *ctx, const struct uxt_pkt *pkt, const char *reason)
{
	struct run *r = ctx;

	(void)pkt;
	if (!reason)
		snprintf(r->verdict, sizeof(r->verdict), "drop");
	else if (strcmp(reason, "no host model") == 0)
		snprintf(r->verdict, sizeof(r->verdict), "pass");
	else
		snprintf(r->verdict, sizeof(r->verdict), "bad %s", reason);
}

static void die(const char *what, const struct uxt_err *e)
{
	fprintf(stderr, "match_run: %s: %s\n", what, e ? e->msg : strerror(errno));
	exit(2);
}

/* (Re)loads the committed ruleset into a new namespace at time now_ns. */
static void load(struct run *r, uint64_t now_ns)
{
	struct uxt_events ev = {.ctx = r, .rule = on_rule, .drop = on_drop};
	struct uxt_err e;

	uxt_err_clear(&e);
	if (r->ns)
		uxt_ns_free(r->ns);
	if (r->loaded) {
		uxt_ruleset_free(&r->rs);
		uxt_store_close(&r->store);
	}
	if (uxt_store_open(&r->store, r->state_dir, &e))
		die("open", &e);
	if (uxt_store_load(&r->store, &r->rs, &e))
		die("load", &e);
	r->loaded = true;
	r->ns = uxt_ns_new();
	uxt_ns_set_events(r->ns, &ev);
	uxt_ns_set_time(r->ns, now_ns);
	if (uxt_ns_set_ruleset(r->ns, &r->rs, &e))
		die("compile", &e);
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

static void packet(struct run *r, uint64_t t, uint32_t mark, const char *hex)
{
	static const size_t max = UXT_PKT_MAXLEN;
	unsigned char *buf = malloc(max);
	size_t n = 0;
	struct uxt_pkt pkt;

	if (!buf)
		die("malloc", NULL);
	for (; hex[0] && hex[1] && n < max; hex += 2) {
		int hi = hexval(hex[0]), lo = hexval(hex[1]);

		if (hi < 0 || lo < 0)
			break;
		buf[n++] = (unsigned char)(hi << 4 | lo);
	}
	if (uxt_pkt_init_copy(&pkt, buf, (uint32_t)n, (uint32_t)n))
		die("packet", NULL);
	free(buf);
	pkt.mark = mark;
	pkt.pkt_type = UXT_PACKET_HOST;
	pkt.hwtype = UXT_ARPHRD_ETHER;
	uxt_ns_set_time(r->ns, t);
	snprintf(r->verdict, sizeof(r->verdict), "none");
	uxt_ns_receive(r->ns, &pkt, &r->iface);
	printf("V %s\n.\n", r->verdict);
}

static void print_counters(struct run *r)
{
	for (int i = 0; i < r->rs.ntables; i++) {
		const struct uxt_table *t = r->rs.tables[r->rs.order[i]];

		for (uint32_t c = 0; c < t->nchains; c++) {
			const struct uxt_chain *ch = t->chains[c];

			for (uint32_t k = 0; k < ch->nrules; k++)
				printf("C %s %s %u %" PRIu64 " %" PRIu64 "\n",
				       t->def->name, ch->name, k + 1,
				       ch->rules[k]->counters.pcnt,
				       ch->rules[k]->counters.bcnt);
			if (uxt_chain_builtin(ch))
				printf("C %s %s policy %" PRIu64 " %" PRIu64 "\n",
				       t->def->name, ch->name,
				       ch->policy_counters.pcnt,
				       ch->policy_counters.bcnt);
		}
	}
}

int main(int argc, char **argv)
{
	struct run r;
	char *line = NULL;
	size_t cap = 0;
	unsigned int lines = 0;
	uint64_t last_time = 0;
	bool started = false;

	memset(&r, 0, sizeof(r));
	if (argc < 2) {
		fputs("usage: match_run STATE_DIR [--time-offset NS] [--iface NAME]\n",
		      stderr);
		return 2;
	}
	r.state_dir = argv[1];
	snprintf(r.iface.name, sizeof(r.iface.name), "r0");
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--time-offset") == 0)
			r.time_offset = strtoll(argv[i + 1], NULL, 0);
		else if (strcmp(argv[i], "--iface") == 0)
			snprintf(r.iface.name, sizeof(r.iface.name), "%s", argv[i + 1]);
	}
	r.iface.index = 2;
	r.iface.type = UXT_ARPHRD_ETHER;
	r.iface.mtu = 1500;
	r.iface.up = true;
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	/* one command per line; a test sends at most a few thousand */
	while (getline(&line, &cap, stdin) > 0 && lines++ < 1000000) {
		unsigned long long t;
		unsigned long mark;
		int off = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (sscanf(line, "P %llu %lu %n", &t, &mark, &off) == 2 && off > 0) {
			uint64_t now = (uint64_t)((int64_t)t + r.time_offset);

			/* the namespace starts at the first packet's time, as
			 * the kernel's rules were loaded just before it */
			if (!started) {
				load(&r, now);
				started = true;
			}
			packet(&r, now, (uint32_t)mark, line + off);
			last_time = now;
		} else if (strcmp(line, "RESYNC") == 0 && started) {
			struct uxt_err e;

			uxt_ns_sync_ruleset(r.ns, &r.rs);
			uxt_err_clear(&e);
			if (uxt_ns_set_ruleset(r.ns, &r.rs, &e))
				die("compile", &e);
		} else if (strcmp(line, "PERSIST") == 0 && started) {
			struct uxt_err e;

			uxt_ns_sync_ruleset(r.ns, &r.rs);
			uxt_err_clear(&e);
			if (uxt_store_lock(&r.store, 0, &e) ||
			    uxt_store_commit(&r.store, &r.rs, &e))
				die("commit", &e);
			uxt_store_unlock(&r.store);
			load(&r, last_time);
		} else if (strcmp(line, "RELOAD") == 0 && started) {
			load(&r, last_time);
		}
	}
	free(line);
	if (!started)
		load(&r, 0);
	uxt_ns_sync_ruleset(r.ns, &r.rs);
	print_counters(&r);
	uxt_ns_free(r.ns);
	uxt_ruleset_free(&r.rs);
	uxt_store_close(&r.store);
	return 0;
}
