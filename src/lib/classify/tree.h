/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Split trees: the search structure inside the classifier (classify.h).
 *
 * A rule is a box: one closed interval per dimension (source and
 * destination address, source and destination port, protocol).  A tree
 * cuts the space in two at a time (HyperSplit: one dimension, one value per
 * node) until a region holds few rules or cannot be cut usefully; each leaf
 * lists, in rule order, every rule whose box meets its region.  Looking a
 * point up is a descent to the one leaf whose region holds it: the rules
 * that can hold the point are all in that leaf's list.
 *
 * Internal to src/lib/classify.
 */
#ifndef UXT_CLS_TREE_H
#define UXT_CLS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	CLS_SRC = 0,
	CLS_DST,
	CLS_SPORT,
	CLS_DPORT,
	CLS_PROTO,
	CLS_NDIMS
};

#define CLS_DIMS_ALL 0x1Fu
#define CLS_DIMS_NOPORTS ((1u << CLS_SRC) | (1u << CLS_DST) | (1u << CLS_PROTO))

/* The whole space: the largest value of each dimension. */
extern const uint32_t cls_dim_max[CLS_NDIMS];

struct cls_box {
	uint32_t lo[CLS_NDIMS], hi[CLS_NDIMS];
};

/*
 * A node: internal, it sends a point whose value in dimension (info & 7)
 * is at most thr to node (info >> 3) and the others to the node after it;
 * a leaf (info & 7 == CLS_LEAF) lists thr rules at ent[info >> 3], in
 * ascending rule order.
 */
#define CLS_LEAF 7u
struct cls_node {
	uint32_t thr;
	uint32_t info;
};

/*
 * A rule in a leaf list: its number and its box, kept beside it so that a
 * leaf is checked in one or two cache lines.  Dimensions the tree does not
 * cut hold their whole range.
 */
struct cls_ent {
	uint32_t id;
	uint32_t src_lo, src_hi, dst_lo, dst_hi;
	uint16_t sp_lo, sp_hi, dp_lo, dp_hi;
	uint8_t pr_lo, pr_hi;
	uint16_t pad;
};

struct cls_tree {
	struct cls_node *node;
	struct cls_ent *ent;
	size_t nnode, nent;		/* used */
	size_t cap_node, cap_ent;
	uint32_t depth;			/* deepest leaf */
	uint32_t nleaf;			/* leaves */
};

/*
 * Builds the tree of the rules ids[0..n) (ascending), whose boxes are
 * box[id] (within cls_dim_max), cutting only the dimensions in dims (bits
 * of CLS_*); the leaves' entries hold the whole range in the others.  A
 * region becomes a leaf when it holds at most binth rules, when no cut in
 * dims leaves both halves with fewer rules, at depth 64, and, once the
 * leaves hold more than budget entries, whenever it is reached.  Returns
 * 0, or -1 when out of memory.
 */
int cls_tree_build(struct cls_tree *t, const struct cls_box *box,
		   const uint32_t *ids, uint32_t n, unsigned int dims,
		   uint32_t binth, size_t budget);
void cls_tree_free(struct cls_tree *t);
/* Bytes the tree holds. */
size_t cls_tree_bytes(const struct cls_tree *t);

/* The leaf of the region holding key: its first entry, *n entries. */
static inline const struct cls_ent *cls_tree_leaf(const struct cls_tree *t,
						  const uint32_t key[CLS_NDIMS],
						  uint32_t *n)
{
	const struct cls_node *nd = t->node;
	uint32_t info = nd->info;

	while ((info & 7u) != CLS_LEAF) {
		nd = &t->node[(info >> 3) + (key[info & 7u] > nd->thr)];
		info = nd->info;
	}
	*n = nd->thr;
	return &t->ent[info >> 3];
}

/* Whether the box of e holds key. */
static inline bool cls_ent_holds(const struct cls_ent *e,
				const uint32_t key[CLS_NDIMS])
{
	return key[CLS_SRC] - e->src_lo <= e->src_hi - e->src_lo &&
	       key[CLS_DST] - e->dst_lo <= (uint32_t)(e->dst_hi - e->dst_lo) &&
	       key[CLS_SPORT] - e->sp_lo <= (uint32_t)(e->sp_hi - e->sp_lo) &&
	       key[CLS_DPORT] - e->dp_lo <= (uint32_t)(e->dp_hi - e->dp_lo) &&
	       key[CLS_PROTO] - e->pr_lo <= (uint32_t)(e->pr_hi - e->pr_lo);
}

#endif
