/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Rules.
 *
 * A rule is the kernel's ipt_entry in spirit: a header part (uxt_ip), a
 * counter pair, zero or more match records and exactly one target record.
 * It is one contiguous, relocatable block of bytes with no pointers, so the
 * state file can hold rules exactly as they are used in memory and a loaded
 * ruleset can point straight into the mapped file.
 *
 *   struct uxt_rule | match record ... | target record
 *
 * Records (struct uxt_xrec) carry the id of their extension (the index in
 * uxt_extensions[]) and the extension's private data, ext->size bytes.
 * Every size is a multiple of 8 so that records stay aligned.
 *
 * A rule without -j/-g has a standard target whose verdict is
 * UXT_V_CONTINUE; -j CHAIN and -g CHAIN store the chain name (goto is the
 * UXT_F_GOTO flag of the header part, as in the kernel).
 */
#ifndef UXT_RULE_H
#define UXT_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UXT_IFNAMSIZ 16
/* XT_EXTENSION_MAXNAMELEN: chain, match and target names are shorter */
#define UXT_NAME_MAX 29
#define UXT_CHAIN_NAMESZ 32
#define UXT_ALIGN(x) (((x) + 7u) & ~7u)

/* uxt_ip.flags (IPT_F_*) */
#define UXT_F_FRAG 0x01
#define UXT_F_GOTO 0x02
#define UXT_F_MASK 0x03

/* uxt_ip.invflags (IPT_INV_*) */
#define UXT_INV_VIA_IN 0x01
#define UXT_INV_VIA_OUT 0x02
#define UXT_INV_TOS 0x04
#define UXT_INV_SRCIP 0x08
#define UXT_INV_DSTIP 0x10
#define UXT_INV_FRAG 0x20
#define UXT_INV_PROTO 0x40
#define UXT_INV_MASK 0x7F

struct uxt_ip {
	uint32_t src, dst;	/* network byte order, already masked */
	uint32_t smsk, dmsk;
	char iniface[UXT_IFNAMSIZ], outiface[UXT_IFNAMSIZ];
	unsigned char iniface_mask[UXT_IFNAMSIZ], outiface_mask[UXT_IFNAMSIZ];
	uint16_t proto;
	uint8_t flags;
	uint8_t invflags;
};

struct uxt_counters {
	uint64_t pcnt, bcnt;
};

struct uxt_rule {
	uint32_t size;		/* whole record, multiple of 8 */
	uint16_t target_offset;	/* from the start of the rule */
	uint16_t nmatches;
	struct uxt_counters counters;
	struct uxt_ip ip;
	uint32_t pad;
};

struct uxt_xrec {
	uint16_t size;		/* header and data, multiple of 8 */
	uint16_t ext;		/* index in uxt_extensions[] */
	uint32_t pad;
	unsigned char data[];
};

/* Standard target verdicts (the data of the "standard" target). */
enum uxt_verdict {
	UXT_V_CONTINUE = 0,	/* no target: go on with the next rule */
	UXT_V_ACCEPT,
	UXT_V_DROP,
	UXT_V_QUEUE,
	UXT_V_RETURN,
	UXT_V_JUMP,		/* -j/-g chain: chain holds the name */
};

struct uxt_std_target {
	int32_t verdict;
	char chain[UXT_CHAIN_NAMESZ];
	uint32_t pad;
};

static inline struct uxt_xrec *uxt_rule_first_match(const struct uxt_rule *r)
{
	return (struct uxt_xrec *)((char *)r + sizeof(*r));
}

static inline struct uxt_xrec *uxt_xrec_next(const struct uxt_xrec *x)
{
	return (struct uxt_xrec *)((char *)x + x->size);
}

static inline struct uxt_xrec *uxt_rule_target(const struct uxt_rule *r)
{
	return (struct uxt_xrec *)((char *)r + r->target_offset);
}

#define uxt_rule_foreach_match(r, m)                                        \
	for ((m) = uxt_rule_first_match(r);                                  \
	     (char *)(m) < (char *)(r) + (r)->target_offset;                  \
	     (m) = uxt_xrec_next(m))

/* The standard target data of r, or NULL when r has an extension target. */
const struct uxt_std_target *uxt_rule_std(const struct uxt_rule *r);

/* True if the header part and the match list are empty (kernel's
 * unconditional()). */
bool uxt_rule_unconditional(const struct uxt_rule *r);

/*
 * Compares two rules as libiptc's is_same() does for -D and -C: header part,
 * the sequence of matches (extension and its first usersize bytes), and the
 * target.  Counters are ignored.
 */
bool uxt_rule_same(const struct uxt_rule *a, const struct uxt_rule *b);

/* Names of verdicts as iptables prints them ("ACCEPT"...), "" for CONTINUE. */
const char *uxt_verdict_name(int verdict);
/* The text of the target column: verdict, chain name or extension name. */
const char *uxt_rule_target_name(const struct uxt_rule *r);

#endif
