/* SPDX-License-Identifier: BSD-2-Clause */
/* Interim: being written (reassembly and fragmentation). */
#include "frag.h"

#include <stdlib.h>

struct uxt_frag_queue {
	int unused;
};

struct uxt_frag_queue *uxt_frag_queue_new(void)
{
	return calloc(1, sizeof(struct uxt_frag_queue));
}

void uxt_frag_queue_free(struct uxt_frag_queue *q)
{
	free(q);
}

void uxt_frag_expire(struct uxt_frag_queue *q, struct uxt_ns *ns,
		     uint64_t now_ns)
{
	(void)q;
	(void)ns;
	(void)now_ns;
}

int uxt_frag_add(struct uxt_frag_queue *q, struct uxt_ns *ns,
		 struct uxt_pkt *pkt)
{
	(void)q;
	(void)ns;
	(void)pkt;
	return 1;
}

void uxt_fragment(struct uxt_ns *ns, struct uxt_pkt *pkt,
		  const struct uxt_iface *dev)
{
	uxt_ns_xmit_fragment(ns, pkt, dev);
}
