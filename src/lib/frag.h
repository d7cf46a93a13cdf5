/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * IPv4 fragments: reassembly before local delivery (ip_defrag, and before
 * the tables when connection tracking is on), fragmentation on output
 * (ip_fragment / ip_do_fragment), with the kernel's rules for overlaps,
 * timeouts (net.ipv4.ipfrag_time, 30 s) and the ICMP time-exceeded
 * "fragment reassembly time exceeded" it sends.
 */
#ifndef UXT_FRAG_H
#define UXT_FRAG_H

#include <stdint.h>

#include "engine.h"

struct uxt_frag_queue;

/* Who reassembles (the kernel's defrag "user", part of a queue's key). */
enum uxt_defrag_user {
	UXT_DEFRAG_LOCAL_DELIVER = 0,	/* ip_local_deliver */
	UXT_DEFRAG_CONNTRACK_IN = 1,	/* nf_defrag_ipv4 at PREROUTING */
	UXT_DEFRAG_CONNTRACK_OUT = 2,	/* nf_defrag_ipv4 at OUTPUT */
};

struct uxt_frag_settings {
	uint32_t timeout_s;		/* net.ipv4.ipfrag_time, 30 */
	uint32_t high_thresh;		/* net.ipv4.ipfrag_high_thresh, 4 MiB */
	uint32_t max_dist;		/* net.ipv4.ipfrag_max_dist, 64 */
};

struct uxt_frag_queue *uxt_frag_queue_new(void);
void uxt_frag_queue_free(struct uxt_frag_queue *q);
void uxt_frag_get_settings(const struct uxt_frag_queue *q,
			   struct uxt_frag_settings *s);
void uxt_frag_set_settings(struct uxt_frag_queue *q,
			   const struct uxt_frag_settings *s);
/* Drops incomplete datagrams older than the timeout at now_ns, sending
 * "fragment reassembly time exceeded" for those whose first fragment
 * came. */
void uxt_frag_expire(struct uxt_frag_queue *q, struct uxt_ns *ns,
		     uint64_t now_ns);
/*
 * Adds a fragment.  Returns 1 when pkt now holds the whole datagram
 * (frag_max_size set to its largest fragment), 0 when it was kept waiting
 * for the rest, -1 when it was dropped.  pkt is consumed unless 1.
 */
int uxt_frag_add(struct uxt_frag_queue *q, struct uxt_ns *ns,
		 struct uxt_pkt *pkt);
/*
 * The same for a given user.  On -1 pkt is left to the caller, to report
 * the drop with *reason and release; on 0 it was kept (queued, or in the
 * queue when an allocation for the whole datagram failed: then *reason is
 * set); on 1 pkt holds the whole datagram.
 */
int uxt_frag_add_user(struct uxt_frag_queue *q, struct uxt_ns *ns,
		      struct uxt_pkt *pkt, enum uxt_defrag_user user,
		      const char **reason);
/* How many datagrams are waiting for fragments. */
unsigned int uxt_frag_pending(const struct uxt_frag_queue *q);
/*
 * Sends pkt out of dev in fragments of at most mtu, the route's MTU (or
 * the frag_max_size it was reassembled from), consuming pkt.  A datagram with
 * DF that may not be fragmented is dropped with ICMP "fragmentation
 * needed" to its sender, as ip_fragment() does.
 */
void uxt_fragment(struct uxt_ns *ns, struct uxt_pkt *pkt,
		  const struct uxt_iface *dev, uint32_t mtu);

#endif
