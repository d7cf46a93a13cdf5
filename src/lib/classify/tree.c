/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Split trees (tree.h): building.
 *
 * A region's rules are kept sorted by the low end and by the high end of
 * their interval in every dimension the tree may cut.  The best cut of a
 * dimension is then found in one sweep over both orders: for a cut after
 * value v, L(v) rules reach the left half (low end <= v) and R(v) the
 * right half (high end > v); rules across v are in both.  The cut kept is
 * the one of least cost over all dimensions (cut_cost()), and the two
 * halves' orders are filtered out of the region's, never sorted again: a
 * rule's interval clipped to a half keeps its place in each order.
 *
 * Building is depth first; each region's lists are freed as soon as its
 * halves have theirs.
 */
#include "tree.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const uint32_t cls_dim_max[CLS_NDIMS] = {
	[CLS_SRC] = 0xFFFFFFFFu,
	[CLS_DST] = 0xFFFFFFFFu,
	[CLS_SPORT] = 0xFFFFu,
	[CLS_DPORT] = 0xFFFFu,
	[CLS_PROTO] = 0xFFu,
};

/* A rule in a region's sorted lists: an end of its interval (unclipped)
 * and its number. */
struct item {
	uint32_t v;
	uint32_t id;
};

/* The rules of one region, sorted by the low and by the high end of their
 * interval in each dimension cut (one allocation). */
struct rset {
	uint32_t n;
	struct item *by_lo[CLS_NDIMS], *by_hi[CLS_NDIMS];
	struct item *mem;
};

/* Balanced trees of 10^5 rules are 15-20 deep; a deeper one is cut short
 * (its deepest regions become leaves), which also bounds the recursion. */
#define CLS_MAX_DEPTH 64

struct region {
	uint32_t lo[CLS_NDIMS], hi[CLS_NDIMS];
};

struct builder {
	struct cls_tree *t;
	const struct cls_box *box;
	unsigned int dims;
	uint32_t binth;
	size_t budget;
	uint8_t *side;		/* by rule number: 1 left, 2 right of a cut */
	bool failed;
};

static int rset_alloc(struct rset *s, uint32_t n, unsigned int dims)
{
	unsigned int k = 0, nd = (unsigned int)__builtin_popcount(dims);

	/* each list has a spare slot at its end (split_set) */
	s->n = n;
	s->mem = malloc(((size_t)n + 1) * 2 * nd * sizeof(*s->mem));
	if (!s->mem)
		return -1;
	for (unsigned int d = 0; d < CLS_NDIMS; d++) {
		s->by_lo[d] = s->by_hi[d] = NULL;
		if (!(dims & (1u << d)))
			continue;
		s->by_lo[d] = s->mem + ((size_t)n + 1) * k++;
		s->by_hi[d] = s->mem + ((size_t)n + 1) * k++;
	}
	return 0;
}

/* Room for more nodes or leaf entries. */
static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	q = realloc(*p, c * size);
	if (!q)
		return false;
	*p = q;
	*cap = c;
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void make_leaf(struct builder *b, uint32_t node, const struct rset *s,
		      uint32_t depth)
{
	struct cls_tree *t = b->t;
	unsigned int d0 = (unsigned int)__builtin_ctz(b->dims);
	uint32_t *ids = malloc((size_t)(s->n ? s->n : 1) * sizeof(*ids));

	if (!ids || !grow((void **)&t->ent, &t->cap_ent, t->nent + s->n,
			  sizeof(*t->ent))) {
		free(ids);
		b->failed = true;
		return;
	}
	for (uint32_t i = 0; i < s->n; i++)
		ids[i] = s->by_lo[d0][i].id;
	qsort(ids, s->n, sizeof(*ids), cmp_u32);
	for (uint32_t i = 0; i < s->n; i++) {
		const struct cls_box *x = &b->box[ids[i]];
		struct cls_ent *e = &t->ent[t->nent + i];
		uint32_t lo[CLS_NDIMS], hi[CLS_NDIMS];

		for (unsigned int d = 0; d < CLS_NDIMS; d++) {
			bool cut = b->dims & (1u << d);

			lo[d] = cut ? x->lo[d] : 0;
			hi[d] = cut ? x->hi[d] : cls_dim_max[d];
		}
		e->id = ids[i];
		e->src_lo = lo[CLS_SRC];
		e->src_hi = hi[CLS_SRC];
		e->dst_lo = lo[CLS_DST];
		e->dst_hi = hi[CLS_DST];
		e->sp_lo = (uint16_t)lo[CLS_SPORT];
		e->sp_hi = (uint16_t)hi[CLS_SPORT];
		e->dp_lo = (uint16_t)lo[CLS_DPORT];
		e->dp_hi = (uint16_t)hi[CLS_DPORT];
		e->pr_lo = (uint8_t)lo[CLS_PROTO];
		e->pr_hi = (uint8_t)hi[CLS_PROTO];
		e->pad = 0;
	}
	free(ids);
	t->node[node].thr = s->n;
	t->node[node].info = (uint32_t)(t->nent << 3) | CLS_LEAF;
	t->nent += s->n;
	t->nleaf++;
	if (depth > t->depth)
		t->depth = depth;
}

/*
 * What a cut leaving l rules on the left and r on the right of n costs:
 * the larger half, which bounds the depth, plus the copies the cut makes
 * (rules in both halves), which is where the memory of a split tree goes.
 */
static uint64_t cut_cost(uint32_t l, uint32_t r, uint32_t n)
{
	uint32_t big = l > r ? l : r;

	return (uint64_t)big * 4 + (uint64_t)(l + r - n) * 3;
}

struct cut {
	bool ok;
	unsigned int dim;
	uint32_t v;
	uint32_t l, r;
	uint64_t cost;
};

/* The best cut of dimension d of region g (see the file comment). */
static void best_cut(const struct rset *s, const struct region *g,
		     unsigned int d, struct cut *best)
{
	const struct item *lo = s->by_lo[d], *hi = s->by_hi[d];
	const int64_t rlo = g->lo[d], rhi = g->hi[d];
	uint32_t n = s->n, ia = 0, il = 0, jh = 0;
	int64_t prev = rlo - 1;

	/* the ends clipped to the region */
#define CLO(i) ((int64_t)lo[i].v > rlo ? (int64_t)lo[i].v : rlo)
#define CHI(i) ((int64_t)hi[i].v < rhi ? (int64_t)hi[i].v : rhi)
	if (rlo >= rhi)
		return;
	for (;;) {
		int64_t a, c;
		uint32_t l, r;
		uint64_t cost;

		/* the next candidates above prev: just before a low end, or
		 * at a high end */
		while (ia < n && CLO(ia) <= prev + 1)
			ia++;
		while (jh < n && CHI(jh) <= prev)
			jh++;
		a = ia < n ? CLO(ia) - 1 : INT64_MAX;
		c = jh < n ? CHI(jh) : INT64_MAX;
		if (a < c)
			c = a;
		if (c >= rhi)
			break;
		prev = c;
		while (il < n && CLO(il) <= c)
			il++;
		while (jh < n && CHI(jh) <= c)
			jh++;
		l = il;
		r = n - jh;
		/* a cut that leaves every rule in one half is no progress */
		if (l == n || r == n)
			continue;
		cost = cut_cost(l, r, n);
		if (!best->ok || cost < best->cost) {
			best->ok = true;
			best->dim = d;
			best->v = (uint32_t)c;
			best->l = l;
			best->r = r;
			best->cost = cost;
		}
	}
#undef CLO
#undef CHI
}

/* Keeps the rules of in whose interval in dimension d reaches left of (or
 * at) v, or right of v, in the same order. */
static void split_set(const struct builder *b, const struct rset *in,
		      unsigned int d, uint32_t v, struct rset *left,
		      struct rset *right)
{
	uint8_t *side = b->side;

	for (uint32_t i = 0; i < in->n; i++)
		side[in->by_lo[d][i].id] = in->by_lo[d][i].v <= v;
	for (uint32_t i = 0; i < in->n; i++)
		side[in->by_hi[d][i].id] |= (uint8_t)((in->by_hi[d][i].v > v) << 1);
	for (unsigned int e = 0; e < CLS_NDIMS; e++) {
		if (!(b->dims & (1u << e)))
			continue;
		for (int k = 0; k < 2; k++) {
			const struct item *src = k ? in->by_hi[e] : in->by_lo[e];
			struct item *ol = k ? left->by_hi[e] : left->by_lo[e];
			struct item *orr = k ? right->by_hi[e] : right->by_lo[e];
			uint32_t nl = 0, nr = 0;

			/* without branches: both halves have a spare slot */
			for (uint32_t i = 0; i < in->n; i++) {
				unsigned int f = side[src[i].id];

				ol[nl] = src[i];
				nl += f & 1;
				orr[nr] = src[i];
				nr += f >> 1;
			}
		}
	}
}

static void build_node(struct builder *b, uint32_t node, struct rset *s,
		       struct region *g, uint32_t depth)
{
	struct cls_tree *t = b->t;
	struct cut best = {.ok = false};
	struct rset left, right;
	uint32_t child;

	if (b->failed)
		goto out;
	if (s->n > b->binth && t->nent <= b->budget && depth < CLS_MAX_DEPTH)
		for (unsigned int d = 0; d < CLS_NDIMS; d++)
			if (b->dims & (1u << d))
				best_cut(s, g, d, &best);
	if (!best.ok) {
		make_leaf(b, node, s, depth);
		goto out;
	}
	if (!grow((void **)&t->node, &t->cap_node, t->nnode + 2, sizeof(*t->node)) ||
	    rset_alloc(&left, best.l, b->dims)) {
		b->failed = true;
		goto out;
	}
	if (rset_alloc(&right, best.r, b->dims)) {
		free(left.mem);
		b->failed = true;
		goto out;
	}
	split_set(b, s, best.dim, best.v, &left, &right);
	free(s->mem);
	s->mem = NULL;
	child = (uint32_t)t->nnode;
	t->nnode += 2;
	t->node[node].thr = best.v;
	t->node[node].info = child << 3 | best.dim;
	{
		uint32_t hi = g->hi[best.dim];

		g->hi[best.dim] = best.v;
		build_node(b, child, &left, g, depth + 1);
		g->hi[best.dim] = hi;
	}
	{
		uint32_t lo = g->lo[best.dim];

		g->lo[best.dim] = best.v + 1;
		build_node(b, child + 1, &right, g, depth + 1);
		g->lo[best.dim] = lo;
	}
out:
	free(s->mem);
	s->mem = NULL;
}

/* The rules ids[0..n) as items of their low (or high) end in dimension d,
 * sorted: LSD radix sort, 8 bits a pass, over the bytes of the dimension's
 * range. */
static int sort_by(const struct cls_box *box, const uint32_t *ids, uint32_t n,
		   unsigned int d, bool high, struct item *out)
{
	struct item *tmp = malloc((size_t)(n ? n : 1) * sizeof(*tmp));
	struct item *a = out, *bb = tmp;
	unsigned int passes = d == CLS_PROTO ? 1 : (d == CLS_SPORT || d == CLS_DPORT) ? 2 : 4;

	if (!tmp)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		a[i].id = ids[i];
		a[i].v = high ? box[ids[i]].hi[d] : box[ids[i]].lo[d];
	}
	for (unsigned int p = 0; p < passes; p++) {
		uint32_t count[257] = {0};
		unsigned int sh = 8 * p;
		struct item *sw;

		for (uint32_t i = 0; i < n; i++)
			count[(a[i].v >> sh & 0xFF) + 1]++;
		for (unsigned int k = 0; k < 256; k++)
			count[k + 1] += count[k];
		for (uint32_t i = 0; i < n; i++)
			bb[count[a[i].v >> sh & 0xFF]++] = a[i];
		sw = a;
		a = bb;
		bb = sw;
	}
	if (a != out)
		memcpy(out, a, (size_t)n * sizeof(*out));
	free(tmp);
	return 0;
}

int cls_tree_build(struct cls_tree *t, const struct cls_box *box,
		   const uint32_t *ids, uint32_t n, unsigned int dims,
		   uint32_t binth, size_t budget)
{
	struct builder b = {
		.t = t,
		.box = box,
		.dims = dims & CLS_DIMS_ALL,
		.binth = binth,
		.budget = budget,
	};
	struct region g;
	struct rset s;

	memset(t, 0, sizeof(*t));
	if (!b.dims)
		b.dims = 1u << CLS_PROTO;
	for (unsigned int d = 0; d < CLS_NDIMS; d++) {
		g.lo[d] = 0;
		g.hi[d] = cls_dim_max[d];
	}
	b.side = calloc(n ? ids[n - 1] + 1 : 1, 1);
	if (!b.side || !grow((void **)&t->node, &t->cap_node, 1, sizeof(*t->node)) ||
	    rset_alloc(&s, n, b.dims)) {
		free(b.side);
		cls_tree_free(t);
		return -1;
	}
	t->nnode = 1;
	for (unsigned int d = 0; d < CLS_NDIMS; d++) {
		if (!(b.dims & (1u << d)))
			continue;
		if (sort_by(box, ids, n, d, false, s.by_lo[d]) ||
		    sort_by(box, ids, n, d, true, s.by_hi[d])) {
			free(s.mem);
			free(b.side);
			cls_tree_free(t);
			return -1;
		}
	}
	build_node(&b, 0, &s, &g, 0);
	free(b.side);
	if (b.failed) {
		cls_tree_free(t);
		return -1;
	}
	return 0;
}

void cls_tree_free(struct cls_tree *t)
{
	free(t->node);
	free(t->ent);
	memset(t, 0, sizeof(*t));
}

size_t cls_tree_bytes(const struct cls_tree *t)
{
	return t->nnode * sizeof(*t->node) + t->nent * sizeof(*t->ent);
}
