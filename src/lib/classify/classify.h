/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The classifier: an accelerator for the rule walk of large chains
 * (architecture decision 8, docs/classifier.md).
 *
 * For one chain it answers "the first rule at or after position k whose
 * header part can match this packet", conservatively: the answer may be a
 * rule that then fails its full match (the walk checks every rule it
 * reaches as before), but no rule before it can match.  The rules it skips
 * are exactly rules the kernel's walk would leave at ip_packet_match(), or
 * at the port check of a first tcp/udp match, which for the packets it is
 * used on fails without any effect (no hotdrop, no state): so the walk,
 * every counter, every log line and every verdict are those of the plain
 * walk.
 *
 * What a rule is indexed by (anything else counts as "any"):
 *   source and destination address  the prefix of the mask's leading ones,
 *                                    unless inverted
 *   protocol                         unless 0 or inverted
 *   source and destination port      from the rule's first match, when its
 *                                    extension says how (ext.h, cls_ports:
 *                                    tcp, udp) and the rule names that
 *                                    protocol without "!"; an inverted port
 *                                    option is not indexed
 * Interfaces, the fragment flag and every other match are left to the
 * walk.  The ports of a packet count only when it is not a fragment and
 * holds the whole transport header (TCP 20 bytes, UDP 8): a fragment or a
 * truncated header is classified without ports, so that every rule with a
 * tcp/udp first match stays a candidate and its match runs (and hotdrops)
 * as in the kernel.
 *
 * The structure (classify.c, tree.c): a chain's rules are split in up to
 * seven groups by the size of their address (and, for rules wide in both
 * addresses, port) ranges, and each group gets a split tree (tree.h) whose
 * leaves list candidate rules in order.  A query descends each group's
 * tree to the packet's leaf once per walk and then moves forward in the
 * leaves as the walk moves forward in the chain.
 *
 * Classifiers are built on first use by the packet path (uxt_cls_next), one
 * chain at a time, never when a ruleset is compiled: loading or changing a
 * ruleset costs nothing more.  Only chains with at least
 * UXT_CLS_MIN_RULES rules get one in UXT_CLS_AUTO mode; UXT_CLS_ON gives
 * every non-empty chain one (tests), UXT_CLS_OFF none.  If building runs
 * out of memory the chain is walked without one.
 *
 * Not thread-safe, as the namespace that holds it.
 */
#ifndef UXT_CLASSIFY_H
#define UXT_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkt.h"
#include "table.h"

enum uxt_cls_mode {
	UXT_CLS_AUTO = 0,	/* chains of UXT_CLS_MIN_RULES rules or more */
	UXT_CLS_ON,		/* every chain with a rule */
	UXT_CLS_OFF,		/* none: the plain walk */
};

#define UXT_CLS_MIN_RULES 32

/* "on", "off" or "auto" (NULL or "" is auto); -1 for anything else. */
int uxt_cls_mode_parse(const char *s, enum uxt_cls_mode *mode);
const char *uxt_cls_mode_name(enum uxt_cls_mode mode);

/* What the classifiers of a table hold (added up by uxt_cls_table_stats). */
struct uxt_cls_stats {
	uint32_t chains;	/* chains with a classifier built */
	uint32_t trees;		/* group trees built */
	uint64_t rules;		/* rules of those chains */
	uint64_t bytes;		/* memory of the built structures */
	uint64_t build_ns;	/* time spent building them */
	uint32_t max_depth;	/* deepest leaf of any tree */
};

struct uxt_cls_chain;

/* The classifiers of one compiled table, by chain index; NULL where a
 * chain has none. */
struct uxt_cls_table {
	uint32_t nchains;
	struct uxt_cls_chain **chain;
};

/*
 * For table t in the given mode: which chains get a classifier (nothing is
 * built yet).  NULL when none does (or mode is UXT_CLS_OFF, or out of
 * memory: the walk then goes without).  t must stay alive and unchanged
 * while the result is used.
 */
struct uxt_cls_table *uxt_cls_table_new(const struct uxt_table *t,
					enum uxt_cls_mode mode);
void uxt_cls_table_free(struct uxt_cls_table *ct);
void uxt_cls_table_stats(const struct uxt_cls_table *ct,
			 struct uxt_cls_stats *st);

/* The state of one walk (one do_table call), on its stack. */
#define UXT_CLS_PARTS 7
#define UXT_CLS_SLOTS 4

struct uxt_cls_pcur {
	const void *ent;	/* the leaf's entries */
	uint32_t n;		/* how many */
	uint32_t pos;		/* see classify.c, part_next() */
	uint32_t k;
	bool found;
};

struct uxt_cls_cur {
	uint32_t chain;		/* UINT32_MAX: unused */
	uint32_t descended;	/* bit p: p[p] holds its leaf */
	struct uxt_cls_pcur p[UXT_CLS_PARTS];
};

struct uxt_cls_walk {
	const struct uxt_pkt *pkt;
	uint16_t fragoff, thoff;
	uint8_t key_state;	/* 0: not read yet, 1: with ports, 2: without */
	uint8_t next_slot;
	uint32_t key[5];
	struct uxt_cls_cur cur[UXT_CLS_SLOTS];
};

/* A walk of pkt begins; fragoff and thoff as the walk's (xt_action_param). */
static inline void uxt_cls_walk_init(struct uxt_cls_walk *w,
				     const struct uxt_pkt *pkt,
				     uint16_t fragoff, uint16_t thoff)
{
	w->pkt = pkt;
	w->fragoff = fragoff;
	w->thoff = thoff;
	w->key_state = 0;
	w->next_slot = 0;
	for (int i = 0; i < UXT_CLS_SLOTS; i++)
		w->cur[i].chain = UINT32_MAX;
}

/* The packet may have changed (a target ran): read it again. */
static inline void uxt_cls_walk_reset(struct uxt_cls_walk *w)
{
	uxt_cls_walk_init(w, w->pkt, w->fragoff, w->thoff);
}

uint32_t uxt_cls_next_slow(struct uxt_cls_table *ct, struct uxt_cls_walk *w,
			   uint32_t chain, uint32_t k);

/*
 * The first rule (0-based index in the chain) at or after k whose header
 * part can match the walk's packet, or the chain's rule count when none
 * can (its tail: policy or RETURN).  k itself for a chain without a
 * classifier.  Builds the chain's classifier on first use.
 */
static inline uint32_t uxt_cls_next(struct uxt_cls_table *ct,
				    struct uxt_cls_walk *w, uint32_t chain,
				    uint32_t k)
{
	if (chain >= ct->nchains || !ct->chain[chain])
		return k;
	return uxt_cls_next_slow(ct, w, chain, k);
}

#endif
