/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The classifier (classify.h): rules as boxes, groups, queries.
 *
 * Groups.  A split tree copies a rule into both halves of every cut that
 * crosses it, so rules wide in a dimension multiply when narrow rules are
 * cut apart there (the classic case: firewall rules with any source and a
 * given destination beside rules with a given source and any destination).
 * As EffiCuts does, rules are grouped by which dimensions they are wide
 * in, and each group gets its own tree, where such cuts are rare:
 *
 *   0  narrow source, narrow destination      ("narrow": a prefix of /8
 *   1  narrow source, wide destination          or longer)
 *   2  wide source, narrow destination
 *   3-6  wide source and destination, by whether the source and the
 *        destination port ranges are wide (half the port space or more)
 *
 * A chain keeps two sets of trees: one for packets whose ports count and
 * one, built only when such a packet comes, for packets whose ports do not
 * (fragments, truncated headers), which ignores the port dimensions.
 *
 * Queries.  A walk keeps, per chain it is in (struct uxt_cls_cur), the
 * packet's leaf in each group and a position in it; the answer is the
 * smallest over the groups of the first entry at or after k whose box holds
 * the packet.  As the walk moves forward in a chain the positions move
 * forward; a walk that comes back to an earlier rule (a second jump into
 * the chain) searches its leaves again.
 */
#include "classify.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ext.h"
#include "rule.h"
#include "tree.h"

/* rules per leaf, and the bound on copies of rules in a tree's leaves */
#define LEAF_RULES 8
#define BUDGET_PER_RULE 8
#define BUDGET_EXTRA 4096
/* "wide": a prefix shorter than /8, a port range of half the space */
#define WIDE_ADDR (1ull << 24)
#define WIDE_PORT 32768u

enum { SET_PORTS = 0, SET_NOPORTS = 1 };

struct part {
	struct cls_tree tree;
	uint32_t min_id, max_id;	/* of the rules in the tree */
};

struct set {
	bool built, failed;
	uint32_t nparts;
	struct part part[UXT_CLS_PARTS];
};

struct uxt_cls_chain {
	const struct uxt_chain *src;
	uint32_t nrules;
	struct set set[2];		/* SET_PORTS, SET_NOPORTS */
	uint64_t build_ns;
	uint64_t bytes;
};

_Static_assert(UXT_CLS_PARTS <= 32, "descended is a 32-bit mask");

int uxt_cls_mode_parse(const char *s, enum uxt_cls_mode *mode)
{
	if (!s || !*s || strcmp(s, "auto") == 0)
		*mode = UXT_CLS_AUTO;
	else if (strcmp(s, "on") == 0)
		*mode = UXT_CLS_ON;
	else if (strcmp(s, "off") == 0)
		*mode = UXT_CLS_OFF;
	else
		return -1;
	return 0;
}

const char *uxt_cls_mode_name(enum uxt_cls_mode mode)
{
	switch (mode) {
	case UXT_CLS_ON:
		return "on";
	case UXT_CLS_OFF:
		return "off";
	default:
		return "auto";
	}
}

/* Tables */

struct uxt_cls_table *uxt_cls_table_new(const struct uxt_table *t,
					enum uxt_cls_mode mode)
{
	uint32_t min = mode == UXT_CLS_ON ? 1 : UXT_CLS_MIN_RULES;
	struct uxt_cls_table *ct;
	bool any = false;

	if (mode == UXT_CLS_OFF || !t)
		return NULL;
	for (uint32_t c = 0; c < t->nchains; c++)
		if (t->chains[c]->nrules >= min)
			any = true;
	if (!any)
		return NULL;
	ct = calloc(1, sizeof(*ct));
	if (!ct)
		return NULL;
	ct->chain = calloc(t->nchains, sizeof(*ct->chain));
	if (!ct->chain) {
		free(ct);
		return NULL;
	}
	ct->nchains = t->nchains;
	for (uint32_t c = 0; c < t->nchains; c++) {
		if (t->chains[c]->nrules < min)
			continue;
		ct->chain[c] = calloc(1, sizeof(*ct->chain[c]));
		if (!ct->chain[c])
			continue;	/* walked without one */
		ct->chain[c]->src = t->chains[c];
		ct->chain[c]->nrules = t->chains[c]->nrules;
	}
	return ct;
}

static void set_free(struct set *s)
{
	for (uint32_t p = 0; p < s->nparts; p++)
		cls_tree_free(&s->part[p].tree);
	s->nparts = 0;
}

void uxt_cls_table_free(struct uxt_cls_table *ct)
{
	if (!ct)
		return;
	for (uint32_t c = 0; c < ct->nchains; c++) {
		if (!ct->chain[c])
			continue;
		set_free(&ct->chain[c]->set[SET_PORTS]);
		set_free(&ct->chain[c]->set[SET_NOPORTS]);
		free(ct->chain[c]);
	}
	free(ct->chain);
	free(ct);
}

void uxt_cls_table_stats(const struct uxt_cls_table *ct,
			 struct uxt_cls_stats *st)
{
	if (!ct)
		return;
	for (uint32_t c = 0; c < ct->nchains; c++) {
		const struct uxt_cls_chain *ch = ct->chain[c];
		bool built = false;

		if (!ch)
			continue;
		for (int s = 0; s < 2; s++) {
			if (!ch->set[s].built)
				continue;
			built = true;
			st->trees += ch->set[s].nparts;
			for (uint32_t p = 0; p < ch->set[s].nparts; p++)
				if (ch->set[s].part[p].tree.depth > st->max_depth)
					st->max_depth = ch->set[s].part[p].tree.depth;
		}
		if (!built)
			continue;
		st->chains++;
		st->rules += ch->nrules;
		st->bytes += ch->bytes;
		st->build_ns += ch->build_ns;
	}
}

/* Rules as boxes */

/* The interval of addresses a & m == v & m covers, widened to the leading
 * ones of m when m is not a prefix mask. */
static void addr_range(uint32_t v_be, uint32_t m_be, bool inv, uint32_t *lo,
		       uint32_t *hi)
{
	uint32_t v = ntohl(v_be), m = ntohl(m_be), p;
	unsigned int ones;

	if (inv) {
		*lo = 0;
		*hi = 0xFFFFFFFFu;
		return;
	}
	/* the leading ones of m */
	ones = m == 0xFFFFFFFFu ? 32 : (unsigned int)__builtin_clz(~m);
	p = ones ? ~0u << (32 - ones) : 0;
	*lo = v & p;
	*hi = (v & p) | ~p;
}

/* The whole transport header a port check needs, by protocol. */
static unsigned int proto_hdrlen(uint16_t proto)
{
	return proto == 6 ? 20 : proto == 17 ? 8 : 0;
}

/*
 * The box of rule r.  *ports: the box is not empty with its port ranges
 * (else no packet whose ports count can match it); returns false when no
 * packet at all can match it (a protocol beyond 255).
 */
static bool rule_box(const struct uxt_rule *r, struct cls_box *b, bool *ports)
{
	const struct uxt_ip *ip = &r->ip;
	const struct uxt_xrec *m = uxt_rule_first_match(r);

	for (unsigned int d = 0; d < CLS_NDIMS; d++) {
		b->lo[d] = 0;
		b->hi[d] = cls_dim_max[d];
	}
	*ports = true;
	addr_range(ip->src, ip->smsk, ip->invflags & UXT_INV_SRCIP,
		   &b->lo[CLS_SRC], &b->hi[CLS_SRC]);
	addr_range(ip->dst, ip->dmsk, ip->invflags & UXT_INV_DSTIP,
		   &b->lo[CLS_DST], &b->hi[CLS_DST]);
	if (ip->proto && !(ip->invflags & UXT_INV_PROTO)) {
		if (ip->proto > cls_dim_max[CLS_PROTO])
			return false;
		b->lo[CLS_PROTO] = b->hi[CLS_PROTO] = ip->proto;
	}
	/* the ports of a first tcp/udp match naming the rule's protocol */
	if ((const char *)m < (const char *)r + r->target_offset &&
	    proto_hdrlen(ip->proto) && !(ip->invflags & UXT_INV_PROTO)) {
		const struct uxt_ext *ext = uxt_ext_by_id(m->ext);
		uint16_t sp[2] = {0, 0xFFFF}, dp[2] = {0, 0xFFFF};
		unsigned int need = 0;

		if (ext && ext->cls_ports && ext->proto == ip->proto &&
		    ext->cls_ports(m->data, sp, dp, &need) &&
		    need <= proto_hdrlen(ip->proto)) {
			b->lo[CLS_SPORT] = sp[0];
			b->hi[CLS_SPORT] = sp[1];
			b->lo[CLS_DPORT] = dp[0];
			b->hi[CLS_DPORT] = dp[1];
			/* an empty range never matches a packet whose
			 * ports count */
			if (sp[0] > sp[1] || dp[0] > dp[1])
				*ports = false;
		}
	}
	return true;
}

static unsigned int group_of(const struct cls_box *b, bool with_ports)
{
	bool ws = (uint64_t)b->hi[CLS_SRC] - b->lo[CLS_SRC] + 1 > WIDE_ADDR;
	bool wd = (uint64_t)b->hi[CLS_DST] - b->lo[CLS_DST] + 1 > WIDE_ADDR;

	if (!ws || !wd || !with_ports)
		return (unsigned int)ws * 2 + wd;
	return 3 + (b->hi[CLS_SPORT] - b->lo[CLS_SPORT] >= WIDE_PORT) * 2u +
	       (b->hi[CLS_DPORT] - b->lo[CLS_DPORT] >= WIDE_PORT);
}

static uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Builds set s (SET_PORTS or SET_NOPORTS) of chain ch.  On failure the set
 * is marked failed and the chain is walked without it. */
static void set_build(struct uxt_cls_chain *ch, int which)
{
	struct set *s = &ch->set[which];
	bool with_ports = which == SET_PORTS;
	uint32_t n = ch->nrules, cnt[UXT_CLS_PARTS] = {0};
	struct cls_box *box = malloc((size_t)(n ? n : 1) * sizeof(*box));
	uint32_t *ids = malloc((size_t)(n ? n : 1) * sizeof(*ids));
	uint8_t *grp = malloc(n ? n : 1);
	uint64_t t0 = clock_ns();

	s->built = true;
	if (!box || !ids || !grp)
		goto fail;
	for (uint32_t j = 0; j < n; j++) {
		bool ports;

		grp[j] = UINT8_MAX;
		if (!rule_box(ch->src->rules[j], &box[j], &ports) ||
		    (with_ports && !ports))
			continue;
		grp[j] = (uint8_t)group_of(&box[j], with_ports);
		cnt[grp[j]]++;
	}
	for (unsigned int g = 0; g < UXT_CLS_PARTS; g++) {
		struct part *p = &s->part[s->nparts];
		uint32_t k = 0;

		if (!cnt[g])
			continue;
		for (uint32_t j = 0; j < n; j++)
			if (grp[j] == g)
				ids[k++] = j;
		if (cls_tree_build(&p->tree, box, ids, k,
				   with_ports ? CLS_DIMS_ALL : CLS_DIMS_NOPORTS,
				   LEAF_RULES, (size_t)k * BUDGET_PER_RULE + BUDGET_EXTRA))
			goto fail;
		p->min_id = ids[0];
		p->max_id = ids[k - 1];
		ch->bytes += cls_tree_bytes(&p->tree);
		s->nparts++;
	}
	free(box);
	free(ids);
	free(grp);
	ch->build_ns += clock_ns() - t0;
	return;
fail:
	free(box);
	free(ids);
	free(grp);
	set_free(s);
	s->failed = true;
}

/* Queries */

/* The packet's key; whether its ports count (see classify.h). */
static void read_key(struct uxt_cls_walk *w)
{
	const struct uxt_iphdr *iph = uxt_iph(w->pkt);
	const uint8_t *th = NULL;
	unsigned int need = proto_hdrlen(iph->protocol);

	w->key[CLS_SRC] = ntohl(iph->saddr);
	w->key[CLS_DST] = ntohl(iph->daddr);
	w->key[CLS_PROTO] = iph->protocol;
	w->key[CLS_SPORT] = w->key[CLS_DPORT] = 0;
	w->key_state = 1;
	if (!need)
		return;	/* no rule with ports can match another protocol */
	if (w->fragoff == 0)
		th = uxt_pkt_header(w->pkt, w->thoff, need);
	if (!th) {
		w->key_state = 2;
		return;
	}
	w->key[CLS_SPORT] = (uint32_t)th[0] << 8 | th[1];
	w->key[CLS_DPORT] = (uint32_t)th[2] << 8 | th[3];
}

/* The first entry of ent[lo..n) whose rule is k or later. */
static uint32_t lower_bound(const struct cls_ent *ent, uint32_t lo, uint32_t n,
			    uint32_t k)
{
	uint32_t hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (ent[mid].id < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The first rule at or after k, and before bound, of the leaf pc whose box
 * holds key; UINT32_MAX when there is none before bound.  pc->pos and
 * pc->found carry what is known from one query to the next: no entry
 * before pos whose rule is pc->k or later holds the key, and when found,
 * the entry at pos does.
 */
static uint32_t part_next(struct uxt_cls_pcur *pc, const uint32_t *key,
			  uint32_t k, uint32_t bound)
{
	const struct cls_ent *ent = pc->ent;
	uint32_t i;

	if (k < pc->k) {
		pc->pos = lower_bound(ent, 0, pc->n, k);
		pc->found = false;
	} else if (pc->found) {
		if (ent[pc->pos].id >= k) {
			pc->k = k;
			return ent[pc->pos].id;
		}
		pc->found = false;
		pc->pos = lower_bound(ent, pc->pos + 1, pc->n, k);
	} else if (pc->pos < pc->n && ent[pc->pos].id < k) {
		pc->pos = lower_bound(ent, pc->pos + 1, pc->n, k);
	}
	pc->k = k;
	for (i = pc->pos; i < pc->n && ent[i].id < bound; i++)
		if (cls_ent_holds(&ent[i], key)) {
			pc->pos = i;
			pc->found = true;
			return ent[i].id;
		}
	pc->pos = i;
	return UINT32_MAX;
}

/*
 * The packet's leaf in every tree of s that holds a rule at or after k, the
 * descents side by side, a level of each at a time: they are independent,
 * so the processor overlaps their loads.  Each leaf's first entries are
 * fetched before they are read.
 */
static void descend(const struct set *s, struct uxt_cls_cur *cur,
		    const uint32_t *key, uint32_t k)
{
	const struct cls_node *nd[UXT_CLS_PARTS];
	uint32_t active = 0;

	for (uint32_t p = 0; p < s->nparts; p++)
		if (s->part[p].max_id >= k) {
			nd[p] = s->part[p].tree.node;
			active |= 1u << p;
		}
	while (active) {
		for (uint32_t p = 0; p < s->nparts; p++) {
			const struct cls_tree *t = &s->part[p].tree;
			uint32_t info;

			if (!(active & (1u << p)))
				continue;
			info = nd[p]->info;
			if ((info & 7u) != CLS_LEAF) {
				nd[p] = &t->node[(info >> 3) +
						 (key[info & 7u] > nd[p]->thr)];
				continue;
			}
			active &= ~(1u << p);
			cur->p[p].ent = &t->ent[info >> 3];
			cur->p[p].n = nd[p]->thr;
			cur->p[p].pos = 0;
			cur->p[p].k = 0;
			cur->p[p].found = false;
			cur->descended |= 1u << p;
			__builtin_prefetch(cur->p[p].ent);
		}
	}
}

uint32_t uxt_cls_next_slow(struct uxt_cls_table *ct, struct uxt_cls_walk *w,
			   uint32_t chain, uint32_t k)
{
	struct uxt_cls_chain *ch = ct->chain[chain];
	struct uxt_cls_cur *cur = NULL;
	struct set *s;
	uint32_t best = ch->nrules;

	if (k >= ch->nrules)
		return k;
	if (!w->key_state)
		read_key(w);
	s = &ch->set[w->key_state == 1 ? SET_PORTS : SET_NOPORTS];
	if (!s->built)
		set_build(ch, w->key_state == 1 ? SET_PORTS : SET_NOPORTS);
	if (s->failed)
		return k;
	for (int i = 0; i < UXT_CLS_SLOTS; i++)
		if (w->cur[i].chain == chain) {
			cur = &w->cur[i];
			break;
		}
	if (!cur) {
		cur = &w->cur[w->next_slot];
		w->next_slot = (uint8_t)((w->next_slot + 1) % UXT_CLS_SLOTS);
		cur->chain = chain;
		cur->descended = 0;
		descend(s, cur, w->key, k);
	}
	for (uint32_t p = 0; p < s->nparts; p++) {
		const struct part *pt = &s->part[p];
		struct uxt_cls_pcur *pc = &cur->p[p];
		uint32_t r;

		if (pt->max_id < k || pt->min_id >= best)
			continue;
		if (!(cur->descended & (1u << p))) {
			pc->ent = cls_tree_leaf(&pt->tree, w->key, &pc->n);
			pc->pos = 0;
			pc->k = 0;
			pc->found = false;
			cur->descended |= 1u << p;
		}
		r = part_next(pc, w->key, k, best);
		if (r < best)
			best = r;
	}
	return best;
}
