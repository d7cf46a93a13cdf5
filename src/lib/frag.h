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

struct uxt_frag_queue *uxt_frag_queue_new(void);
void uxt_frag_queue_free(struct uxt_frag_queue *q);
/* Drops incomplete datagrams older than the timeout at now_ns. */
void uxt_frag_expire(struct uxt_frag_queue *q, struct uxt_ns *ns,
		     uint64_t now_ns);
/*
 * Adds a fragment.  Returns 1 when pkt now holds the whole datagram
 * (frag_max_size set to its largest fragment), 0 when it was kept waiting
 * for the rest, -1 when it was dropped.  pkt is consumed unless 1.
 */
int uxt_frag_add(struct uxt_frag_queue *q, struct uxt_ns *ns,
		 struct uxt_pkt *pkt);
/* Sends pkt out of dev in fragments of at most dev's MTU (or the
 * frag_max_size it was reassembled from); consumes pkt. */
void uxt_fragment(struct uxt_ns *ns, struct uxt_pkt *pkt,
		  const struct uxt_iface *dev);

#endif
