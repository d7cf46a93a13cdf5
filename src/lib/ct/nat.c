/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAT (nat.h): the IPv4 part of nf_nat_core.c, nf_nat_proto.c,
 * nf_nat_masquerade.c and nf_nat_redirect.c as Linux 6.18 has them.
 *
 *   uxt_nat_hook()          nf_nat_ipv4_fn and its hook wrappers: related
 *                           ICMP errors translated, else nf_nat_inet_fn
 *                           (the nat chain for the first packet of each
 *                           manip, a null binding if no target made one,
 *                           then nf_nat_packet); at OUTPUT the packet is
 *                           routed again when its connection's destination
 *                           was translated (nf_nat_ipv4_local_fn)
 *   uxt_nat_setup_info()    nf_nat_setup_info and get_unique_tuple
 *   manip_pkt()             nf_nat_ipv4_manip_pkt: addresses, ports, ICMP
 *                           ids, GRE call ids, with incremental checksum
 *                           updates (partial checksums: only the
 *                           pseudo-header part), UDP's zero checksum kept,
 *                           SCTP's CRC32c recomputed
 *
 * The connection table is conntrack.c's (ct.h): tuple_taken, alter_reply,
 * the bysource walk.  Random numbers come from the namespace's generator.
 */
#include "nat.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_track.h"
#include "engine.h"
#include "ext.h"
#include "host.h"
#include "pkt.h"

#define NAT_TABLE 1			/* uxt_table_defs index of "nat" */
#define NAT_MAX_ATTEMPTS 128
#define NAT_HARDER_THRESH (NAT_MAX_ATTEMPTS / 4)

#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_GRE 47
#define P_SCTP 132
#define P_UDPLITE 136

/* Tuples */

static bool tuple_eq(const struct uxt_ct_tuple *a, const struct uxt_ct_tuple *b)
{
	return a->src == b->src && a->dst == b->dst && a->sport == b->sport &&
	       a->dport == b->dport && a->proto == b->proto;
}

/* nf_ct_invert_tuple(); an ICMP type without an answer keeps no port
 * part, as the kernel's leaves it zeroed */
static void invert(struct uxt_ct_tuple *inv, const struct uxt_ct_tuple *t)
{
	if (uxt_ct_invert_tuple(inv, t))
		return;
	memset(inv, 0, sizeof(*inv));
	inv->src = t->dst;
	inv->dst = t->src;
	inv->proto = t->proto;
}

enum uxt_nat_manip uxt_nat_hook_manip(unsigned int hook)
{
	return hook == UXT_HOOK_POST_ROUTING || hook == UXT_HOOK_LOCAL_IN ?
		       UXT_NAT_MANIP_SRC : UXT_NAT_MANIP_DST;
}

bool uxt_nat_initialized(const struct uxt_ct *ct, enum uxt_nat_manip manip)
{
	return (ct->status & (manip == UXT_NAT_MANIP_SRC ? UXT_IPS_SRC_NAT_DONE :
							   UXT_IPS_DST_NAT_DONE)) != 0;
}

/* nf_ct_l4proto->allow_clash: UDP, UDP-Lite and the generic tracker */
static bool allow_clash(uint8_t proto)
{
	switch (proto) {
	case P_TCP:
	case P_ICMP:
	case P_GRE:
	case P_SCTP:
	case 58:	/* ICMPv6 */
		return false;
	default:
		return true;
	}
}

/* Is this tuple taken? */

/* nf_nat_used_tuple(): the reply such a tuple would have is another
 * entry's tuple */
static bool used_tuple(struct uxt_ct_table *t, const struct uxt_ct_tuple *tuple,
		       const struct uxt_ct *ct)
{
	struct uxt_ct_tuple reply;

	invert(&reply, tuple);
	return uxt_ct_tuple_taken(t, &reply, ct);
}

/* nf_nat_used_tuple_new(): the same, but a clash with an entry of the
 * reverse flow that nobody translates is left to clash resolution */
static bool used_tuple_new(struct uxt_ct_table *t,
			   const struct uxt_ct_tuple *tuple,
			   const struct uxt_ct *ct)
{
	const uint32_t uses_nat = UXT_IPS_NAT_MASK | UXT_IPS_SEQ_ADJUST;
	enum uxt_ct_dir dir = UXT_CT_DIR_ORIGINAL;
	struct uxt_ct *other;

	if (!used_tuple(t, tuple, ct))
		return false;
	if (!allow_clash(ct->tuple[UXT_CT_DIR_ORIGINAL].proto))
		return true;
	if (ct->status & uses_nat)
		return true;
	other = uxt_ct_find(t, tuple, ct->zone, &dir);
	if (!other) {
		struct uxt_ct_tuple reply;

		invert(&reply, tuple);
		other = uxt_ct_find(t, &reply, ct->zone, &dir);
		if (!other)
			return false;
	}
	if (dir != UXT_CT_DIR_REPLY || (other->status & uses_nat))
		return true;
	return !(tuple_eq(&other->tuple[UXT_CT_DIR_ORIGINAL],
			  &ct->tuple[UXT_CT_DIR_REPLY]) &&
		 tuple_eq(&other->tuple[UXT_CT_DIR_REPLY],
			  &ct->tuple[UXT_CT_DIR_ORIGINAL]));
}

/* nf_nat_may_kill(): a closing connection someone source-translated */
static bool may_kill(const struct uxt_ct *ct, uint32_t flags)
{
	if (ct->proto.tcp.state < UXT_TCP_TIME_WAIT)
		return false;
	if (flags & (UXT_IPS_FIXED_TIMEOUT | UXT_IPS_DYING))
		return false;
	return (flags & UXT_IPS_SRC_NAT) != 0;
}

/*
 * nf_nat_used_tuple_harder(): in the last attempts to find a port for a
 * TCP SYN, an old connection in TIME_WAIT (or later) holding the port is
 * evicted when the new one's sequence numbers have moved past its own.
 */
static bool used_tuple_harder(struct uxt_ct_table *t,
			      const struct uxt_ct_tuple *tuple,
			      struct uxt_ct *ct, unsigned int attempts_left)
{
	enum uxt_ct_dir dir = UXT_CT_DIR_ORIGINAL;
	struct uxt_ct_tuple reply;
	struct uxt_ct *other;
	uint32_t flags;

	invert(&reply, tuple);
	if (attempts_left > NAT_HARDER_THRESH || tuple->proto != P_TCP ||
	    ct->proto.tcp.state != UXT_TCP_SYN_SENT)
		return uxt_ct_tuple_taken(t, &reply, ct);
	other = uxt_ct_find(t, &reply, ct->zone, &dir);
	if (!other)
		return false;
	if (dir == UXT_CT_DIR_ORIGINAL || other == ct)
		return true;
	flags = other->status;
	if (!may_kill(other, flags))
		return true;
	/* nf_seq_has_advanced() */
	if ((int32_t)(ct->proto.tcp.seen[0].td_end -
		      other->proto.tcp.seen[0].td_end) <= 0)
		return true;
	if (ct_kill(t, other))
		return (flags & (UXT_IPS_OFFLOAD | UXT_IPS_HW_OFFLOAD)) != 0;
	return true;
}

/* Ranges */

static bool addr_in_range(const struct uxt_ct_tuple *t,
			  const struct uxt_nat_range *range)
{
	return ntohl(t->src) >= ntohl(range->min_addr) &&
	       ntohl(t->src) <= ntohl(range->max_addr);
}

/* l4proto_in_range(): the manipulable part of the tuple within min..max */
static bool l4_in_range(const struct uxt_ct_tuple *t, enum uxt_nat_manip manip,
			uint16_t min, uint16_t max)
{
	uint16_t port;

	switch (t->proto) {
	case P_ICMP:
		port = t->sport;	/* the id, whatever the manip */
		break;
	case P_GRE:
	case P_TCP:
	case P_UDP:
	case P_UDPLITE:
	case P_SCTP:
		port = manip == UXT_NAT_MANIP_SRC ? t->sport : t->dport;
		break;
	default:
		return true;
	}
	return ntohs(port) >= ntohs(min) && ntohs(port) <= ntohs(max);
}

/* nf_in_range(): would source-mapping to this tuple meet the range? */
static bool in_range(const struct uxt_ct_tuple *t,
		     const struct uxt_nat_range *range)
{
	if ((range->flags & UXT_NAT_R_MAP_IPS) && !addr_in_range(t, range))
		return false;
	if (!(range->flags & UXT_NAT_R_PROTO_SPECIFIED))
		return true;
	return l4_in_range(t, UXT_NAT_MANIP_SRC, range->min_proto,
			   range->max_proto);
}

/* find_appropriate_src(): a mapping this source already has (another
 * connection from the same address, port and protocol) that fits */
struct appropriate {
	const struct uxt_ct_tuple *tuple;
	const struct uxt_nat_range *range;
	struct uxt_ct_tuple *result;
};

static int appropriate_one(struct uxt_ct *ct, void *arg)
{
	struct appropriate *a = arg;
	struct uxt_ct_tuple r;

	/* same_src(): the walk compared address, port, protocol, zone */
	if (ct->status & UXT_IPS_DYING)
		return 0;
	invert(&r, &ct->tuple[UXT_CT_DIR_REPLY]);
	r.dst = a->tuple->dst;
	r.dport = a->tuple->dport;
	r.proto = a->tuple->proto;
	if (!in_range(&r, a->range))
		return 0;
	*a->result = r;
	return 1;
}

static bool find_appropriate_src(struct uxt_ct_table *t, uint16_t zone,
				 const struct uxt_ct_tuple *tuple,
				 struct uxt_ct_tuple *result,
				 const struct uxt_nat_range *range)
{
	struct appropriate a = {.tuple = tuple, .range = range, .result = result};

	return uxt_ct_walk_by_source(t, tuple, zone, appropriate_one, &a) != 0;
}

/* jhash2() (Bob Jenkins' lookup3, as include/linux/jhash.h has it) */
static uint32_t rol32(uint32_t w, unsigned int s)
{
	return (w << s) | (w >> (32 - s));
}

static uint32_t jhash2(const uint32_t *k, uint32_t length, uint32_t initval)
{
	uint32_t a, b, c;

	a = b = c = 0xdeadbeefu + (length << 2) + initval;
	while (length > 3) {
		a += k[0];
		b += k[1];
		c += k[2];
		a -= c; a ^= rol32(c, 4); c += b;
		b -= a; b ^= rol32(a, 6); a += c;
		c -= b; c ^= rol32(b, 8); b += a;
		a -= c; a ^= rol32(c, 16); c += b;
		b -= a; b ^= rol32(a, 19); a += c;
		c -= b; c ^= rol32(b, 4); b += a;
		length -= 3;
		k += 3;
	}
	switch (length) {
	case 3:
		c += k[2];
		/* fall through */
	case 2:
		b += k[1];
		/* fall through */
	case 1:
		a += k[0];
		c ^= b; c -= rol32(b, 14);
		a ^= c; a -= rol32(c, 11);
		b ^= a; b -= rol32(a, 25);
		c ^= b; c -= rol32(b, 16);
		a ^= c; a -= rol32(c, 4);
		b ^= a; b -= rol32(a, 14);
		c ^= b; c -= rol32(b, 24);
		break;
	default:
		break;
	}
	return c;
}

static uint32_t reciprocal_scale(uint32_t val, uint32_t ep_ro)
{
	return (uint32_t)(((uint64_t)val * ep_ro) >> 32);
}

/*
 * find_best_ips_proto(): the address within the range, by a hash of the
 * source and destination (--persistent: the source only), so that a
 * client keeps its address across connections.
 */
static void find_best_ips(uint16_t zone, struct uxt_ct_tuple *tuple,
			  const struct uxt_nat_range *range,
			  enum uxt_nat_manip manip)
{
	uint32_t *var = manip == UXT_NAT_MANIP_SRC ? &tuple->src : &tuple->dst;
	/* union nf_inet_addr: the IPv4 address, then zeroes */
	uint32_t key[4] = {tuple->src, 0, 0, 0};
	uint32_t j, minip, maxip;

	if (!(range->flags & UXT_NAT_R_MAP_IPS))
		return;
	if (range->min_addr == range->max_addr) {
		*var = range->min_addr;
		return;
	}
	j = jhash2(key, 4, range->flags & UXT_NAT_R_PERSISTENT ? 0 :
							       tuple->dst ^ zone);
	minip = ntohl(range->min_addr);
	maxip = ntohl(range->max_addr);
	*var = htonl(minip + reciprocal_scale(j, maxip - minip + 1));
}

/*
 * nf_nat_l4proto_unique_tuple(): the port (ICMP id) within the range, or
 * for a source without one within the class of the original port (1-511,
 * 600-1023, 1024-65535), from a random start (DNAT without --random: the
 * start of the range), 128 tries at most, then from other random starts
 * with the window halved down to 16.
 */
static void unique_tuple(struct uxt_ns *ns, struct uxt_ct_table *t,
			 struct uxt_ct_tuple *tuple,
			 const struct uxt_nat_range *range,
			 enum uxt_nat_manip manip, struct uxt_ct *ct)
{
	unsigned int range_size, min, max, i, attempts;
	uint16_t *keyptr, off;

	switch (tuple->proto) {
	case P_ICMP:
		keyptr = &tuple->sport;
		if (!(range->flags & UXT_NAT_R_PROTO_SPECIFIED)) {
			min = 0;
			range_size = 65536;
		} else {
			min = ntohs(range->min_proto);
			range_size = ntohs(range->max_proto) - min + 1u;
		}
		goto find_free_id;
	case P_GRE:
		/* only a PPTP child connection (a helper's) changes keys;
		 * helpers are not modelled */
		return;
	case P_UDP:
	case P_UDPLITE:
	case P_TCP:
	case P_SCTP:
		keyptr = manip == UXT_NAT_MANIP_SRC ? &tuple->sport : &tuple->dport;
		break;
	default:
		return;
	}
	if (!(range->flags & UXT_NAT_R_PROTO_SPECIFIED)) {
		/* a destination's port never changes without a range */
		if (manip == UXT_NAT_MANIP_DST)
			return;
		if (ntohs(*keyptr) < 1024) {
			/* loose convention: below 512 is credential passing */
			if (ntohs(*keyptr) < 512) {
				min = 1;
				range_size = 511;
			} else {
				min = 600;
				range_size = 1023 - 600 + 1;
			}
		} else {
			min = 1024;
			range_size = 65535 - 1024 + 1;
		}
	} else {
		min = ntohs(range->min_proto);
		max = ntohs(range->max_proto);
		if (max < min) {
			unsigned int x = max;

			max = min;
			min = x;
		}
		range_size = max - min + 1;
	}
find_free_id:
	if (range->flags & UXT_NAT_R_PROTO_OFFSET)
		off = (uint16_t)(ntohs(*keyptr) - ntohs(range->base_proto));
	else if ((range->flags & UXT_NAT_R_RANDOM_ALL) ||
		 manip != UXT_NAT_MANIP_DST)
		off = (uint16_t)uxt_ns_random_u32(ns);
	else
		off = 0;
	attempts = range_size < NAT_MAX_ATTEMPTS ? range_size : NAT_MAX_ATTEMPTS;
	for (;;) {
		for (i = 0; i < attempts; i++, off++) {
			*keyptr = htons((uint16_t)(min + off % range_size));
			if (!used_tuple_harder(t, tuple, ct, attempts - i))
				return;
		}
		if (attempts >= range_size || attempts < 16)
			return;
		attempts /= 2;
		off = (uint16_t)uxt_ns_random_u32(ns);
	}
}

/*
 * get_unique_tuple(): for a source manip without --random(-fully), the
 * original tuple if it fits and is free, else a mapping the source
 * already has; then the address by hash and, if the port does not fit or
 * is taken, a port by unique_tuple().
 */
static void get_unique_tuple(struct uxt_ns *ns, struct uxt_ct_table *t,
			     struct uxt_ct_tuple *tuple,
			     const struct uxt_ct_tuple *orig,
			     const struct uxt_nat_range *range,
			     struct uxt_ct *ct, enum uxt_nat_manip manip)
{
	if (manip == UXT_NAT_MANIP_SRC && !(range->flags & UXT_NAT_R_RANDOM_ALL)) {
		if (in_range(orig, range)) {
			if (!used_tuple_new(t, orig, ct)) {
				*tuple = *orig;
				return;
			}
		} else if (find_appropriate_src(t, ct->zone, orig, tuple, range)) {
			if (!used_tuple(t, tuple, ct))
				return;
		}
	}
	*tuple = *orig;
	find_best_ips(ct->zone, tuple, range, manip);
	if (!(range->flags & UXT_NAT_R_RANDOM_ALL)) {
		if (range->flags & UXT_NAT_R_PROTO_SPECIFIED) {
			if (!(range->flags & UXT_NAT_R_PROTO_OFFSET) &&
			    l4_in_range(tuple, manip, range->min_proto,
					range->max_proto) &&
			    (range->min_proto == range->max_proto ||
			     !used_tuple(t, tuple, ct)))
				return;
		} else if (!used_tuple(t, tuple, ct)) {
			return;
		}
	}
	unique_tuple(ns, t, tuple, range, manip, ct);
}

unsigned int uxt_nat_setup_info(struct uxt_ns *ns, struct uxt_ct *ct,
				const struct uxt_nat_range *range,
				enum uxt_nat_manip manip)
{
	struct uxt_ct_table *t = uxt_ns_ct(ns);
	struct uxt_ct_tuple curr, chosen;

	/* a confirmed entry keeps what it has */
	if (!ct || ct->confirmed || (ct->status & UXT_IPS_CONFIRMED))
		return UXT_NF_ACCEPT;
	if (uxt_nat_initialized(ct, manip))
		return UXT_NF_DROP;
	/* what we have looks like the inverse of the reply: the original
	 * tuple with the other manip's translation */
	invert(&curr, &ct->tuple[UXT_CT_DIR_REPLY]);
	get_unique_tuple(ns, t, &chosen, &curr, range, ct, manip);
	if (!tuple_eq(&chosen, &curr)) {
		struct uxt_ct_tuple reply;

		invert(&reply, &chosen);
		uxt_ct_alter_reply(t, ct, &reply);
		ct->status |= manip == UXT_NAT_MANIP_SRC ? UXT_IPS_SRC_NAT :
							   UXT_IPS_DST_NAT;
	}
	/* the bysource index of the kernel (the source manip) is
	 * conntrack.c's, which indexes every confirmed entry */
	ct->status |= manip == UXT_NAT_MANIP_DST ? UXT_IPS_DST_NAT_DONE :
						   UXT_IPS_SRC_NAT_DONE;
	return UXT_NF_ACCEPT;
}

/* __nf_nat_alloc_null_binding(): the identity for the address (taken
 * from the reply, in case the other manip changed it); the port may still
 * move on a clash */
static unsigned int null_binding(struct uxt_ns *ns, struct uxt_ct *ct,
				 enum uxt_nat_manip manip)
{
	uint32_t a = manip == UXT_NAT_MANIP_SRC ? ct->tuple[UXT_CT_DIR_REPLY].dst :
						  ct->tuple[UXT_CT_DIR_REPLY].src;
	struct uxt_nat_range range = {
		.flags = UXT_NAT_R_MAP_IPS, .min_addr = a, .max_addr = a,
	};

	return uxt_nat_setup_info(ns, ct, &range, manip);
}

/* Rewriting packets */

static uint16_t get16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static void put16(unsigned char *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* csum_replace4() on a field that may sit at any alignment */
static void csum_replace4_at(unsigned char *sum, uint32_t from, uint32_t to)
{
	uint16_t s = get16(sum);

	uxt_csum_replace4(&s, from, to);
	put16(sum, s);
}

static void csum_replace2_at(unsigned char *sum, uint16_t from, uint16_t to)
{
	uint16_t s = get16(sum);

	uxt_csum_replace2(&s, from, to);
	put16(sum, s);
}

/*
 * inet_proto_csum_replace4/2(): a full checksum is updated; a partial one
 * (CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not
 * complemented) only for what the pseudo header holds, the addresses.
 */
static void proto_csum_replace4(const struct uxt_pkt *pkt, unsigned char *sum,
				uint32_t from, uint32_t to, bool pseudohdr)
{
	if (!pkt->csum_partial) {
		csum_replace4_at(sum, from, to);
	} else if (pseudohdr) {
		/* the pseudo sum plus ~from plus to: csum_replace4 on the
		 * complement */
		uint16_t s = (uint16_t)~get16(sum);

		uxt_csum_replace4(&s, from, to);
		put16(sum, (uint16_t)~s);
	}
}

static void proto_csum_replace2(const struct uxt_pkt *pkt, unsigned char *sum,
				uint16_t from, uint16_t to)
{
	/* ports are not in the pseudo header */
	if (!pkt->csum_partial)
		csum_replace2_at(sum, from, to);
}

/* nf_csum_update(): the address the manip changes, in the transport
 * checksum (pseudo header) */
static void csum_update(const struct uxt_pkt *pkt, unsigned int iphdroff,
			unsigned char *check, const struct uxt_ct_tuple *t,
			enum uxt_nat_manip manip)
{
	const unsigned char *iph = pkt->data + iphdroff;
	uint32_t oldip, newip;

	if (manip == UXT_NAT_MANIP_SRC) {
		oldip = get32(iph + 12);
		newip = t->src;
	} else {
		oldip = get32(iph + 16);
		newip = t->dst;
	}
	proto_csum_replace4(pkt, check, oldip, newip, true);
}

/* CRC32c (Castagnoli, reflected), for SCTP */
static uint32_t crc32c(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return crc;
}

/* Each returns false when the packet cannot be written as needed
 * (skb_ensure_writable failing: shorter than the header it needs). */

static bool tcp_manip(struct uxt_pkt *pkt, unsigned int iphdroff,
		      unsigned int hdroff, const struct uxt_ct_tuple *t,
		      enum uxt_nat_manip manip)
{
	/* 8 bytes are all an ICMP error need quote; the checksum is
	 * beyond them */
	unsigned int hdrsize = pkt->len >= hdroff + 20 ? 20 : 8;
	unsigned char *hdr, *portp;
	uint16_t newport, oldport;

	if (hdroff + hdrsize > pkt->len)
		return false;
	hdr = pkt->data + hdroff;
	portp = manip == UXT_NAT_MANIP_SRC ? hdr : hdr + 2;
	newport = manip == UXT_NAT_MANIP_SRC ? t->sport : t->dport;
	oldport = get16(portp);
	put16(portp, newport);
	if (hdrsize < 20)
		return true;
	csum_update(pkt, iphdroff, hdr + 16, t, manip);
	proto_csum_replace2(pkt, hdr + 16, oldport, newport);
	return true;
}

static bool udp_manip(struct uxt_pkt *pkt, unsigned int iphdroff,
		      unsigned int hdroff, const struct uxt_ct_tuple *t,
		      enum uxt_nat_manip manip, bool lite)
{
	unsigned char *hdr, *portp;
	uint16_t newport;

	if (hdroff + 8 > pkt->len)
		return false;
	hdr = pkt->data + hdroff;
	portp = manip == UXT_NAT_MANIP_SRC ? hdr : hdr + 2;
	newport = manip == UXT_NAT_MANIP_SRC ? t->sport : t->dport;
	/* a UDP checksum of 0 means none: it stays so */
	if (lite || get16(hdr + 6)) {
		csum_update(pkt, iphdroff, hdr + 6, t, manip);
		proto_csum_replace2(pkt, hdr + 6, get16(portp), newport);
		if (!get16(hdr + 6))
			put16(hdr + 6, 0xFFFF);		/* CSUM_MANGLED_0 */
	}
	put16(portp, newport);
	return true;
}

static bool sctp_manip(struct uxt_pkt *pkt, unsigned int hdroff,
		       const struct uxt_ct_tuple *t, enum uxt_nat_manip manip)
{
	unsigned int hdrsize = pkt->len >= hdroff + 12 ? 12 : 8;
	unsigned char *hdr;
	uint32_t crc;

	if (hdroff + hdrsize > pkt->len)
		return false;
	hdr = pkt->data + hdroff;
	if (manip == UXT_NAT_MANIP_SRC)
		put16(hdr, t->sport);
	else
		put16(hdr + 2, t->dport);
	if (hdrsize < 12 || pkt->csum_partial)
		return true;
	/* sctp_compute_cksum(): CRC32c with the field zeroed, little
	 * endian */
	memset(hdr + 8, 0, 4);
	crc = ~crc32c(~0u, hdr, pkt->len - hdroff);
	hdr[8] = (unsigned char)crc;
	hdr[9] = (unsigned char)(crc >> 8);
	hdr[10] = (unsigned char)(crc >> 16);
	hdr[11] = (unsigned char)(crc >> 24);
	return true;
}

static bool icmp_manip(struct uxt_pkt *pkt, unsigned int hdroff,
		       const struct uxt_ct_tuple *t)
{
	unsigned char *hdr;

	if (hdroff + 8 > pkt->len)
		return false;
	hdr = pkt->data + hdroff;
	switch (hdr[0]) {
	case 0:		/* echo reply, echo, timestamp, information and
			 * address mask requests and replies */
	case 8:
	case 13:
	case 14:
	case 15:
	case 16:
	case 17:
	case 18:
		break;
	default:
		return true;
	}
	proto_csum_replace2(pkt, hdr + 2, get16(hdr + 4), t->sport);
	put16(hdr + 4, t->sport);
	return true;
}

static bool gre_manip(struct uxt_pkt *pkt, unsigned int hdroff,
		      const struct uxt_ct_tuple *t, enum uxt_nat_manip manip)
{
	unsigned char *hdr;

	/* struct pptp_gre_header without its two optional words */
	if (hdroff + 8 > pkt->len)
		return false;
	hdr = pkt->data + hdroff;
	/* the source key is not in the packet */
	if (manip != UXT_NAT_MANIP_DST)
		return true;
	switch (hdr[1] & 0x07) {
	case 0:		/* GREv0 is not translated */
		return true;
	case 1:		/* PPTP: the call id */
		put16(hdr + 6, t->dport);
		return true;
	default:
		return false;
	}
}

/* nf_nat_ipv4_manip_pkt(): the datagram at iphdroff (0, or the one an
 * ICMP error quotes) made to look as target says, for manip */
static bool manip_pkt(struct uxt_pkt *pkt, unsigned int iphdroff,
		      const struct uxt_ct_tuple *target, enum uxt_nat_manip manip)
{
	unsigned char *iph;
	unsigned int hdroff;
	bool ok = true;

	if (iphdroff + 20 > pkt->len)
		return false;
	hdroff = iphdroff + (unsigned int)(pkt->data[iphdroff] & 0x0F) * 4u;
	switch (target->proto) {
	case P_TCP:
		ok = tcp_manip(pkt, iphdroff, hdroff, target, manip);
		break;
	case P_UDP:
		ok = udp_manip(pkt, iphdroff, hdroff, target, manip, false);
		break;
	case P_UDPLITE:
		ok = udp_manip(pkt, iphdroff, hdroff, target, manip, true);
		break;
	case P_SCTP:
		ok = sctp_manip(pkt, hdroff, target, manip);
		break;
	case P_ICMP:
		ok = icmp_manip(pkt, hdroff, target);
		break;
	case P_GRE:
		ok = gre_manip(pkt, hdroff, target, manip);
		break;
	default:
		/* unknown protocols pass unmodified */
		break;
	}
	if (!ok)
		return false;
	iph = pkt->data + iphdroff;
	if (manip == UXT_NAT_MANIP_SRC) {
		csum_replace4_at(iph + 10, get32(iph + 12), target->src);
		memcpy(iph + 12, &target->src, 4);
	} else {
		csum_replace4_at(iph + 10, get32(iph + 16), target->dst);
		memcpy(iph + 16, &target->dst, 4);
	}
	return true;
}

/* nf_nat_manip_pkt(): the packet made to look like the inverse of the
 * other direction's tuple */
static unsigned int manip_by_ct(struct uxt_pkt *pkt, const struct uxt_ct *ct,
				enum uxt_nat_manip manip, enum uxt_ct_dir dir)
{
	struct uxt_ct_tuple target;

	invert(&target, &ct->tuple[!dir]);
	return manip_pkt(pkt, 0, &target, manip) ? UXT_NF_ACCEPT : UXT_NF_DROP;
}

/* The status bit that says whether packets of this direction are
 * rewritten at a hook of this manip: the manip's own for the original
 * direction, the other's for replies. */
static uint32_t nat_statusbit(enum uxt_nat_manip manip, enum uxt_ct_dir dir)
{
	uint32_t bit = manip == UXT_NAT_MANIP_SRC ? UXT_IPS_SRC_NAT : UXT_IPS_DST_NAT;

	return dir == UXT_CT_DIR_REPLY ? bit ^ UXT_IPS_NAT_MASK : bit;
}

/* nf_nat_packet() */
static unsigned int nat_packet(struct uxt_ct *ct, uint8_t ctinfo,
			       unsigned int hook, struct uxt_pkt *pkt)
{
	enum uxt_nat_manip manip = uxt_nat_hook_manip(hook);
	enum uxt_ct_dir dir = uxt_ctinfo_dir(ctinfo);

	if (ct->status & nat_statusbit(manip, dir))
		return manip_by_ct(pkt, ct, manip, dir);
	return UXT_NF_ACCEPT;
}

/*
 * nf_nat_icmp_reply_translation(): an ICMP error about a translated
 * connection: the datagram it quotes gets the other direction's tuple
 * (the reverse manip), its checksum is made again, and the outer header
 * is translated as a packet of the error's own direction would be.
 * False: drop it.
 */
static bool icmp_reply_translation(struct uxt_pkt *pkt, struct uxt_ct *ct,
				   uint8_t ctinfo, unsigned int hook)
{
	enum uxt_ct_dir dir = uxt_ctinfo_dir(ctinfo);
	enum uxt_nat_manip manip = uxt_nat_hook_manip(hook);
	unsigned int hdrlen = uxt_ip_hlen(pkt);
	struct uxt_ct_tuple target;
	unsigned char *icmph;

	/* the ICMP header and the quoted IP header must be there */
	if (hdrlen + 8 + 20 > pkt->len)
		return false;
	/* nf_ip_checksum() of the whole message */
	if (uxt_csum(pkt->data + hdrlen, pkt->len - hdrlen, 0) != 0)
		return false;
	icmph = pkt->data + hdrlen;
	if (icmph[0] == 5) {
		/* a redirect only about a connection bound both ways
		 * without translation */
		if ((ct->status & UXT_IPS_NAT_DONE_MASK) != UXT_IPS_NAT_DONE_MASK)
			return false;
		if (ct->status & UXT_IPS_NAT_MASK)
			return false;
	}
	if (!(ct->status & nat_statusbit(manip, dir)))
		return true;
	if (!manip_pkt(pkt, hdrlen + 8, &ct->tuple[!dir],
		       manip == UXT_NAT_MANIP_SRC ? UXT_NAT_MANIP_DST :
						    UXT_NAT_MANIP_SRC))
		return false;
	if (!pkt->csum_partial) {
		uint16_t sum;

		icmph = pkt->data + hdrlen;
		put16(icmph + 2, 0);
		sum = uxt_csum(icmph, pkt->len - hdrlen, 0);
		put16(icmph + 2, sum);
	}
	/* the outer header as the reply to an incoming packet */
	invert(&target, &ct->tuple[!dir]);
	target.proto = P_ICMP;
	return manip_pkt(pkt, 0, &target, manip);
}

/* nf_nat_oif_changed(): a MASQUERADEd connection's packet going out of
 * another device than the one it was bound to */
static bool oif_changed(unsigned int hook, uint8_t ctinfo,
			const struct uxt_ct *ct, const struct uxt_iface *out)
{
	return ct->masq_ifindex && hook == UXT_HOOK_POST_ROUTING &&
	       uxt_ctinfo_dir(ctinfo) == UXT_CT_DIR_ORIGINAL &&
	       (!out || ct->masq_ifindex != out->index);
}

/* nf_nat_inet_fn() */
static unsigned int inet_fn(struct uxt_ns *ns, unsigned int hook,
			    struct uxt_pkt *pkt, const struct uxt_iface *in,
			    const struct uxt_iface *out)
{
	struct uxt_ct *ct = pkt->ct;
	enum uxt_nat_manip manip = uxt_nat_hook_manip(hook);
	unsigned int v;

	switch (pkt->ctinfo) {
	case UXT_CT_RELATED:
	case UXT_CT_RELATED_REPLY:
	case UXT_CT_NEW:
		if (!uxt_nat_initialized(ct, manip)) {
			v = uxt_ns_run_table(ns, NAT_TABLE, hook, pkt, in, out);
			if (v != UXT_NF_ACCEPT)
				return v;
			if (uxt_nat_initialized(ct, manip))
				break;
			v = null_binding(ns, ct, manip);
			if (v != UXT_NF_ACCEPT)
				return v;
		} else if (oif_changed(hook, pkt->ctinfo, ct, out)) {
			goto oif_changed;
		}
		break;
	default:
		/* ESTABLISHED: the chains are not consulted */
		if (oif_changed(hook, pkt->ctinfo, ct, out))
			goto oif_changed;
		break;
	}
	return nat_packet(ct, pkt->ctinfo, hook, pkt);
oif_changed:
	{
		struct ct_pkt c = {.ns = ns, .t = uxt_ns_ct(ns), .pkt = pkt,
				   .hook = hook, .now = uxt_ns_time(ns)};

		ct_kill_acct(&c, ct, pkt->ctinfo);
	}
	return UXT_NF_DROP;
}

unsigned int uxt_nat_hook(struct uxt_ns *ns, unsigned int hook,
			  struct uxt_pkt *pkt, const struct uxt_iface *in,
			  const struct uxt_iface *out)
{
	struct uxt_ct *ct = pkt->ct;
	unsigned int v;

	/* nf_nat_ipv4_fn(): no entry (untracked, invalid), no NAT */
	if (!ct || (ct->status & UXT_IPS_TEMPLATE))
		return UXT_NF_ACCEPT;
	if ((pkt->ctinfo == UXT_CT_RELATED || pkt->ctinfo == UXT_CT_RELATED_REPLY) &&
	    uxt_iph(pkt)->protocol == P_ICMP)
		v = icmp_reply_translation(pkt, ct, pkt->ctinfo, hook) ?
			    UXT_NF_ACCEPT : UXT_NF_DROP;
	else
		v = inet_fn(ns, hook, pkt, in, out);
	/* nf_nat_ipv4_local_fn(): a connection whose destination is
	 * translated is routed again (REDIRECT in OUTPUT ends on lo) */
	if (v == UXT_NF_ACCEPT && hook == UXT_HOOK_LOCAL_OUT && pkt->ct) {
		enum uxt_ct_dir dir = uxt_ctinfo_dir(pkt->ctinfo);

		ct = pkt->ct;
		if (ct->tuple[dir].dst != ct->tuple[!dir].src &&
		    uxt_ns_reroute(ns, pkt))
			v = UXT_NF_DROP;
	}
	return v;
}

/* The targets' helpers */

unsigned int uxt_nat_masquerade(struct uxt_ns *ns, struct uxt_pkt *pkt,
				const struct uxt_nat_range *range,
				const struct uxt_iface *out)
{
	struct uxt_ct *ct = pkt->ct;
	const struct uxt_host *host = uxt_ns_host(ns);
	struct uxt_nat_range r;
	uint32_t nh, newsrc = 0;

	if (!ct || !out)
		return UXT_NF_ACCEPT;
	/* a locally generated packet from 0.0.0.0 is not masqueraded */
	if (ct->tuple[UXT_CT_DIR_ORIGINAL].src == 0)
		return UXT_NF_ACCEPT;
	/* rt_nexthop(): the route's gateway, else the destination */
	nh = pkt->nexthop;
	if (!nh && host) {
		struct uxt_route_result rt;
		const char *reason = NULL;

		if (uxt_host_route_output(host, uxt_iph(pkt)->daddr, out, &rt,
					  &reason) == 0)
			nh = rt.nexthop;
	}
	if (!nh)
		nh = uxt_iph(pkt)->daddr;
	if (host)
		newsrc = uxt_host_select_addr(host, out, nh, UXT_SCOPE_UNIVERSE);
	if (!newsrc) {
		char line[64];

		snprintf(line, sizeof(line), "%s ate my IP address", out->name);
		uxt_ns_log(ns, 6, line);
		return UXT_NF_DROP;
	}
	/* nf_ct_nat_ext_add(): only an unconfirmed entry gets it */
	if (!ct->confirmed)
		ct->masq_ifindex = out->index;
	r = *range;
	r.flags |= UXT_NAT_R_MAP_IPS;
	r.min_addr = r.max_addr = newsrc;
	return uxt_nat_setup_info(ns, ct, &r, UXT_NAT_MANIP_SRC);
}

unsigned int uxt_nat_redirect(struct uxt_ns *ns, struct uxt_pkt *pkt,
			      const struct uxt_nat_range *range,
			      unsigned int hook, const struct uxt_iface *in)
{
	struct uxt_nat_range r;
	uint32_t newdst;

	if (hook == UXT_HOOK_LOCAL_OUT) {
		/* local packets go to loopback */
		newdst = htonl(0x7F000001u);
	} else {
		/* the first address of the incoming device */
		newdst = uxt_iface_primary_addr(in);
		if (!newdst)
			return UXT_NF_DROP;
	}
	r = *range;
	r.flags |= UXT_NAT_R_MAP_IPS;
	r.min_addr = r.max_addr = newdst;
	return uxt_nat_setup_info(ns, pkt->ct, &r, UXT_NAT_MANIP_DST);
}

/* MASQUERADE and the host's changes */

struct masq_flush {
	int ifindex;
	uint32_t addr;
	bool by_addr;
	struct uxt_ct **victims;
	size_t n, cap;
};

static int masq_collect(struct uxt_ct *ct, void *arg)
{
	struct masq_flush *f = arg;

	if (!f->ifindex || ct->masq_ifindex != f->ifindex)
		return 0;
	if (f->by_addr && ct->tuple[UXT_CT_DIR_REPLY].dst != f->addr)
		return 0;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct uxt_ct **v = realloc(f->victims, cap * sizeof(*v));

		if (!v)
			return 1;
		f->victims = v;
		f->cap = cap;
	}
	f->victims[f->n++] = ct;
	return 0;
}

void uxt_nat_flush_masq_addr(struct uxt_ct_table *t, int ifindex, uint32_t addr)
{
	struct masq_flush f = {.ifindex = ifindex, .addr = addr, .by_addr = true};

	if (!t || !ifindex)
		return;
	uxt_ct_table_walk(t, masq_collect, &f);
	for (size_t i = 0; i < f.n; i++)
		uxt_ct_destroy(t, f.victims[i]);
	free(f.victims);
}

static bool has_addr(const struct uxt_iface *d, uint32_t addr)
{
	for (unsigned int i = 0; i < d->naddrs; i++)
		if (d->addrs[i].addr == addr)
			return true;
	return false;
}

void uxt_nat_host_changed(struct uxt_ct_table *t, const struct uxt_host *old,
			  const struct uxt_host *now)
{
	if (!t || !old || old == now)
		return;
	for (unsigned int i = 0; i < old->nifaces; i++) {
		const struct uxt_iface *o = &old->ifaces[i];
		const struct uxt_iface *n = now ? uxt_host_iface_by_index(now, o->index) :
						  NULL;

		if (o->up && (!n || !n->up)) {
			/* NETDEV_DOWN (a device taken away goes down first) */
			uxt_ct_flush_masq(t, o->index);
			continue;
		}
		if (!n)
			continue;
		/* inetaddr NETDEV_DOWN for each address removed */
		for (unsigned int k = 0; k < o->naddrs; k++)
			if (!has_addr(n, o->addrs[k].addr))
				uxt_nat_flush_masq_addr(t, o->index, o->addrs[k].addr);
	}
}
