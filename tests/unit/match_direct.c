/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * match_direct: checks of the matches' packet side that the kernel test bed
 * cannot reach in reasonable time or with iptables' own rules, calling the
 * extensions' match() directly:
 *
 *   - limit after an idle time of 2^32 / 128 jiffies (about 37 hours at
 *     HZ = 250): the kernel's 32-bit credit increase wraps to nothing
 *   - limit with a clock that goes backwards
 *   - limit's state written back with priv_save and read by priv_init
 *   - multiport and mark records whose invert byte is neither 0 nor 1 (only
 *     a state file can hold them): the kernel then matches every packet
 *
 * Prints "ok NAME" or "FAIL NAME: detail" per check; exits 1 on a failure.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ext.h"
#include "pkt.h"

/* xt_rateinfo on x86-64, as the limit extension stores it */
struct rateinfo {
	uint32_t avg, burst;
	uint64_t prev;
	uint32_t credit, credit_cap, cost;
	uint64_t master;
};

/* xt_multiport_v1 */
struct multiport_v1 {
	uint8_t flags, count;
	uint16_t ports[15];
	uint8_t pflags[15];
	uint8_t invert;
};

/* xt_mark_mtinfo1 */
struct mark_mtinfo1 {
	uint32_t mark, mask;
	uint8_t invert;
};

#define NS_PER_JIFFY 4000000ull		/* HZ = 250 */

struct checks {
	unsigned int failed;
};

static void check(struct checks *c, const char *name, bool ok,
		  const char *detail)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: %s\n", name, detail);
		c->failed++;
	}
}

/* A UDP datagram 1000 > dport. */
static void make_udp(struct uxt_pkt *pkt, unsigned char *buf, uint16_t sport,
		     uint16_t dport)
{
	memset(buf, 0, 28);
	buf[0] = 0x45;
	buf[3] = 28;
	buf[8] = 64;
	buf[9] = 17;
	buf[20] = (unsigned char)(sport >> 8);
	buf[21] = (unsigned char)sport;
	buf[22] = (unsigned char)(dport >> 8);
	buf[23] = (unsigned char)dport;
	buf[25] = 8;
	memset(pkt, 0, sizeof(*pkt));
	pkt->data = buf;
	pkt->len = pkt->cap = 28;
}

static bool limit_at(const struct uxt_ext *ext, const struct uxt_pkt *pkt,
		     void *priv, const struct rateinfo *info, uint64_t jiffies)
{
	struct uxt_xt_param par = {
		.info = info,
		.priv = priv,
		.thoff = 20,
		.now_ns = jiffies * NS_PER_JIFFY,
	};

	return ext->match(pkt, &par);
}

static void limit_checks(struct checks *c, const struct uxt_pkt *pkt)
{
	const struct uxt_ext *ext = uxt_ext_find("limit", UXT_MATCH);
	/* 1/hour, burst 2: avg = 10000 * 3600 */
	struct rateinfo info = {.avg = 36000000, .burst = 2}, saved;
	const uint64_t t0 = 1000000;		/* jiffies */
	const uint64_t wrap = (1ull << 32) / 128;
	void *priv, *priv2;
	bool m[4];

	if (!ext || !ext->match || !ext->priv_init || !ext->priv_save ||
	    ext->priv_size == 0) {
		check(c, "limit has a packet side", false, "match/priv missing");
		return;
	}
	priv = calloc(1, ext->priv_size);
	priv2 = calloc(1, ext->priv_size);
	if (!priv || !priv2)
		abort();

	/* a full bucket of two, then empty */
	ext->priv_init(priv, &info, t0 * NS_PER_JIFFY);
	m[0] = limit_at(ext, pkt, priv, &info, t0);
	m[1] = limit_at(ext, pkt, priv, &info, t0);
	m[2] = limit_at(ext, pkt, priv, &info, t0 + 1);
	check(c, "limit: burst of 2 from a full bucket", m[0] && m[1] && !m[2],
	      "expected match, match, no match");

	/* one hour later one packet's worth has come back (cost
	 * 115200000 credits at 128 a jiffy: 900000 jiffies) */
	m[0] = limit_at(ext, pkt, priv, &info, t0 + 1 + 900000);
	m[1] = limit_at(ext, pkt, priv, &info, t0 + 1 + 900000);
	check(c, "limit: one token an hour", m[0] && !m[1],
	      "expected match, no match");

	/* idle for exactly 2^32 / 128 jiffies: the increase wraps to 0 */
	m[0] = limit_at(ext, pkt, priv, &info, t0 + 1 + 900000 + wrap);
	check(c, "limit: an idle time of 2^32/128 jiffies adds nothing", !m[0],
	      "the kernel's 32-bit credit increase wraps to 0");
	/* one jiffy less adds 2^32 - 128 credits: a full bucket */
	ext->priv_init(priv2, &info, t0 * NS_PER_JIFFY);
	limit_at(ext, pkt, priv2, &info, t0);
	limit_at(ext, pkt, priv2, &info, t0);
	m[0] = limit_at(ext, pkt, priv2, &info, t0 + wrap - 1);
	m[1] = limit_at(ext, pkt, priv2, &info, t0 + wrap - 1);
	m[2] = limit_at(ext, pkt, priv2, &info, t0 + wrap - 1);
	check(c, "limit: an idle time just under the wrap refills", m[0] && m[1] && !m[2],
	      "expected match, match, no match");

	/* a clock that goes back adds no credit and counts from there */
	ext->priv_init(priv2, &info, t0 * NS_PER_JIFFY);
	limit_at(ext, pkt, priv2, &info, t0);
	limit_at(ext, pkt, priv2, &info, t0);
	m[0] = limit_at(ext, pkt, priv2, &info, t0 - 500000);
	m[1] = limit_at(ext, pkt, priv2, &info, t0 - 500000 + 900000);
	check(c, "limit: a clock going back", !m[0] && m[1],
	      "expected no match, then one token an hour after the new time");

	/* the state survives priv_save / priv_init */
	ext->priv_init(priv2, &info, t0 * NS_PER_JIFFY);
	limit_at(ext, pkt, priv2, &info, t0);
	saved = info;
	ext->priv_save(&saved, priv2);
	memset(priv, 0, ext->priv_size);
	ext->priv_init(priv, &saved, (t0 + 5) * NS_PER_JIFFY);
	m[0] = limit_at(ext, pkt, priv, &saved, t0 + 5);
	m[1] = limit_at(ext, pkt, priv, &saved, t0 + 5);
	check(c, "limit: state written back and read again",
	      m[0] && !m[1] && saved.avg == info.avg && saved.burst == info.burst &&
	      saved.cost == 115200000u && saved.credit_cap == 230400000u,
	      "expected one token left and the kernel's cost and cap");
	/* a record without state (cost 0) starts full */
	memset(priv, 0, ext->priv_size);
	ext->priv_init(priv, &info, (t0 + 5) * NS_PER_JIFFY);
	m[0] = limit_at(ext, pkt, priv, &info, t0 + 5);
	m[1] = limit_at(ext, pkt, priv, &info, t0 + 5);
	check(c, "limit: a record without state starts full", m[0] && m[1],
	      "expected two tokens");
	free(priv);
	free(priv2);
}

static bool run_match(const struct uxt_ext *ext, const struct uxt_pkt *pkt,
		      const void *info)
{
	struct uxt_xt_param par = {.info = info, .thoff = 20};

	return ext->match(pkt, &par);
}

static void invert_byte_checks(struct checks *c, struct uxt_pkt *pkt)
{
	const struct uxt_ext *mp = uxt_ext_find("multiport", UXT_MATCH);
	const struct uxt_ext *mark = uxt_ext_find("mark", UXT_MATCH);
	struct multiport_v1 m = {.flags = 1, .count = 1, .ports = {53}};
	struct mark_mtinfo1 k = {.mark = 1, .mask = 0xFFFFFFFF};
	bool r[6];

	if (!mp || !mp->match || !mark || !mark->match) {
		check(c, "multiport and mark have a packet side", false, "missing");
		return;
	}
	m.invert = 1;
	r[0] = run_match(mp, pkt, &m);		/* dport 53: hit, inverted */
	m.invert = 2;
	r[1] = run_match(mp, pkt, &m);		/* true ^ 2 = 3 */
	m.ports[0] = 54;
	r[2] = run_match(mp, pkt, &m);		/* miss: returns 2 */
	check(c, "multiport: invert byte 2 matches everything",
	      !r[0] && r[1] && r[2], "expected no, yes, yes");
	pkt->mark = 1;
	k.invert = 1;
	r[3] = run_match(mark, pkt, &k);
	k.invert = 2;
	r[4] = run_match(mark, pkt, &k);
	pkt->mark = 7;
	r[5] = run_match(mark, pkt, &k);
	check(c, "mark: invert byte 2 matches everything",
	      !r[3] && r[4] && r[5], "expected no, yes, yes");
}

int main(void)
{
	struct checks c = {0};
	unsigned char buf[28];
	struct uxt_pkt pkt;

	make_udp(&pkt, buf, 1000, 53);
	limit_checks(&c, &pkt);
	invert_byte_checks(&c, &pkt);
	return c.failed ? 1 : 0;
}
