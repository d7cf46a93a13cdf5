/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Inside connection tracking: what conntrack.c (the table, nf_conntrack_in,
 * confirm) and the protocol trackers (tcp.c, udp.c, icmp.c, generic.c)
 * share.  Not for use outside src/lib/ct.
 *
 * A tracker's packet function is nf_conntrack_*_packet: it returns a
 * verdict, CT_ACCEPT when the packet is part of the connection, or the
 * negated verdict the kernel returns for a packet it refuses: CT_INVALID
 * (-NF_ACCEPT: the packet goes on without an entry), CT_DROP (-NF_DROP)
 * or CT_REPEAT (-NF_REPEAT: the entry was killed, look up again).
 */
#ifndef UXT_CT_TRACK_H
#define UXT_CT_TRACK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "ct.h"
#include "pkt.h"

#define CT_ACCEPT 1
#define CT_INVALID (-1)
#define CT_DROP 0
#define CT_REPEAT (-4)

#define CT_NSEC 1000000000ull

#define CT_IPPROTO_ICMP 1
#define CT_IPPROTO_TCP 6
#define CT_IPPROTO_UDP 17
#define CT_IPPROTO_GRE 47
#define CT_IPPROTO_UDPLITE 136
#define CT_IPPROTO_RAW 255

/* The packet a tracker looks at, and where (nf_hook_state). */
struct ct_pkt {
	struct uxt_ns *ns;
	struct uxt_ct_table *t;
	struct uxt_pkt *pkt;
	unsigned int hook;
	unsigned int dataoff;		/* where the L4 header starts */
	uint64_t now;
};

/* conntrack.c's services to the trackers */

const struct uxt_ct_settings *ct_settings(const struct ct_pkt *c);
/* nf_ct_refresh_acct(): a new timeout of secs seconds from now (unless the
 * timeout is fixed), and the packet counted in its direction */
void ct_refresh_acct(const struct ct_pkt *c, struct uxt_ct *ct,
		     uint8_t ctinfo, uint32_t secs);
/* the same without counting (nf_ct_refresh) */
void ct_refresh(const struct ct_pkt *c, struct uxt_ct *ct, uint32_t secs);
/* nf_ct_kill_acct(): counts the packet, then removes the entry ([DESTROY]);
 * false if it was already going */
bool ct_kill_acct(const struct ct_pkt *c, struct uxt_ct *ct, uint8_t ctinfo);
bool ct_kill(struct uxt_ct_table *t, struct uxt_ct *ct);
/* nf_conntrack_event_cache() */
void ct_event_cache(struct uxt_ct *ct, enum uxt_ct_event ev);
/* nf_l4proto_log_invalid(): a log line when nf_conntrack_log_invalid asks
 * for proto's */
void ct_log_invalid(const struct ct_pkt *c, uint8_t proto, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));
/* nf_ct_expires() in seconds of a confirmed entry */
uint64_t ct_expires_ns(const struct ct_pkt *c, const struct uxt_ct *ct);
/* sets a confirmed entry's absolute expiry */
void ct_set_timeout(struct uxt_ct_table *t, struct uxt_ct *ct, uint64_t abs_ns);
/* nf_conntrack_find_get() for the ICMP error's inner tuple: the entry and
 * the direction of the tuple that matched, or NULL */
struct uxt_ct *ct_lookup(const struct ct_pkt *c, const struct uxt_ct_tuple *tuple,
			 uint16_t zone, uint8_t zone_dir, enum uxt_ct_dir *dir);
/* the zone nf_conntrack_in uses for this packet (its template's) */
void ct_pkt_zone(const struct ct_pkt *c, const struct uxt_ct_template *tmpl,
		 uint16_t *zone, uint8_t *zone_dir);
/* nf_checksum(): whether the transport checksum of the packet (from
 * dataoff to the end, or cover bytes of it) is wrong, for the pseudo
 * header of proto (0: none, ICMP) */
bool ct_l4_csum_bad(const struct uxt_pkt *pkt, unsigned int dataoff,
		    unsigned int cover, uint8_t pseudo_proto);
/* nf_ct_get_tuple() of the datagram whose IP header starts at nhoff:
 * false if there is none to take (a later fragment, a short header) */
bool ct_get_tuple(const struct uxt_pkt *pkt, unsigned int nhoff,
		  struct uxt_ct_tuple *tuple, unsigned int *dataoff);

/* The trackers */

int uxt_ct_tcp_packet(const struct ct_pkt *c, struct uxt_ct *ct,
		      uint8_t ctinfo);
bool uxt_ct_tcp_can_early_drop(const struct uxt_ct *ct);
void uxt_ct_tcp_set_closing(struct uxt_ct_table *t, struct uxt_ct *ct);
const char *uxt_ct_tcp_state_name(uint8_t state);

int uxt_ct_udp_packet(const struct ct_pkt *c, struct uxt_ct *ct,
		      uint8_t ctinfo);
int uxt_ct_udplite_packet(const struct ct_pkt *c, struct uxt_ct *ct,
			  uint8_t ctinfo);

/* ICMP: the tuple's type/code, its inverse, the packet function, and the
 * error path (nf_conntrack_icmpv4_error): > 0 the packet goes on (with an
 * entry when it was a related error), <= 0 the negated verdict */
bool uxt_ct_icmp_tuple(const struct uxt_pkt *pkt, unsigned int dataoff,
		       struct uxt_ct_tuple *tuple);
bool uxt_ct_icmp_invert(struct uxt_ct_tuple *inv, const struct uxt_ct_tuple *orig);
int uxt_ct_icmp_packet(const struct ct_pkt *c, struct uxt_ct *ct,
		       uint8_t ctinfo);
int uxt_ct_icmp_error(const struct ct_pkt *c,
		      const struct uxt_ct_template *tmpl);

bool uxt_ct_gre_tuple(const struct uxt_pkt *pkt, unsigned int dataoff,
		      struct uxt_ct_tuple *tuple);
int uxt_ct_gre_packet(const struct ct_pkt *c, struct uxt_ct *ct,
		      uint8_t ctinfo);
int uxt_ct_generic_packet(const struct ct_pkt *c, struct uxt_ct *ct,
			  uint8_t ctinfo);

/* now + delta ns, saturating (a clock near its end never wraps) */
static inline uint64_t ct_time_add(uint64_t now, uint64_t delta)
{
	return delta > UINT64_MAX - now ? UINT64_MAX : now + delta;
}

/* sequence comparisons of the kernel (before/after) */
static inline bool ct_seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}
static inline bool ct_seq_after(uint32_t a, uint32_t b)
{
	return ct_seq_before(b, a);
}

#endif
