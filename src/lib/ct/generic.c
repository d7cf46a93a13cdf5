/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Protocols without a tracker of their own (nf_conntrack_proto_generic.c):
 * an entry per address pair and protocol, nf_conntrack_generic_timeout
 * from its last packet, never ASSURED.  And GRE (nf_conntrack_proto_gre.c)
 * without the PPTP helper: keys 0 (version 0), or the call id as the
 * destination key for PPTP's enhanced GRE (version 1, PPP), the GRE
 * timeouts, ASSURED once a reply was seen.
 *
 * SCTP's tracker is not modelled: its entries (with their ports) are
 * generic ones.
 */
#include <arpa/inet.h>
#include <string.h>

#include "ct_track.h"

#define GRE_VERSION_MASK 0x0007
#define GRE_VERSION_1 1
#define GRE_PROTO_PPP 0x880B

int uxt_ct_generic_packet(const struct ct_pkt *c, struct uxt_ct *ct,
			  uint8_t ctinfo)
{
	ct_refresh_acct(c, ct, ctinfo, ct_settings(c)->generic_timeout);
	return CT_ACCEPT;
}

/* gre_pkt_to_tuple() */
bool uxt_ct_gre_tuple(const struct uxt_pkt *pkt, unsigned int dataoff,
		      struct uxt_ct_tuple *tuple)
{
	const uint8_t *h = uxt_pkt_header(pkt, dataoff, 4);
	uint16_t flags, proto;

	tuple->sport = tuple->dport = 0;
	if (!h)
		return true;
	flags = (uint16_t)(h[0] << 8 | h[1]);
	if ((flags & GRE_VERSION_MASK) != GRE_VERSION_1)
		/* like the generic tracker */
		return true;
	h = uxt_pkt_header(pkt, dataoff, 8);
	if (!h)
		return true;
	proto = (uint16_t)(h[2] << 8 | h[3]);
	if (proto != GRE_PROTO_PPP)
		return false;
	/* the call id; the source key comes from a keymap the PPTP helper
	 * fills, and there is none */
	memcpy(&tuple->dport, h + 6, 2);
	return true;
}

int uxt_ct_gre_packet(const struct ct_pkt *c, struct uxt_ct *ct, uint8_t ctinfo)
{
	const struct uxt_ct_settings *set = ct_settings(c);

	if (ct->status & UXT_IPS_SEEN_REPLY) {
		ct_refresh_acct(c, ct, ctinfo, set->gre_timeout_stream);
		if (!(ct->status & UXT_IPS_ASSURED)) {
			ct->status |= UXT_IPS_ASSURED;
			ct_event_cache(ct, UXT_IPCT_ASSURED);
		}
	} else {
		ct_refresh_acct(c, ct, ctinfo, set->gre_timeout);
	}
	return CT_ACCEPT;
}
