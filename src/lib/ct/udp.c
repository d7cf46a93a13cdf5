/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The UDP and UDP-Lite trackers (nf_conntrack_proto_udp.c):
 * kernel-behaviour.md 4.3.  A UDP entry lives nf_conntrack_udp_timeout
 * seconds from its last packet until a reply was seen and it is older
 * than two seconds ("a stream"): then nf_conntrack_udp_timeout_stream and
 * ASSURED.  A truncated or malformed datagram, and one with a bad checksum
 * on the way in (nf_conntrack_checksum), is INVALID.  UDP-Lite: its
 * checksum coverage, a mandatory checksum, the UDP timeouts, and ASSURED
 * with the first packet after a reply.
 */
#include <arpa/inet.h>
#include <string.h>

#include "ct_track.h"
#include "engine.h"

#define UDP_STREAM_NS (2 * CT_NSEC)	/* the stream rule's two seconds */

struct udph {
	uint16_t sport, dport, len, check;
};

static const struct udph *udp_header(const struct ct_pkt *c, struct udph *h)
{
	const void *p = uxt_pkt_header(c->pkt, c->dataoff, sizeof(*h));

	if (!p)
		return NULL;
	memcpy(h, p, sizeof(*h));
	return h;
}

/* udp_error() */
static bool udp_error(const struct ct_pkt *c, uint8_t proto)
{
	unsigned int udplen = c->pkt->len - c->dataoff;
	struct udph h;

	if (!udp_header(c, &h)) {
		ct_log_invalid(c, proto, "short packet");
		return true;
	}
	if (ntohs(h.len) > udplen || ntohs(h.len) < sizeof(h)) {
		ct_log_invalid(c, proto, "truncated/malformed packet");
		return true;
	}
	/* no checksum */
	if (!h.check)
		return false;
	if (c->hook == UXT_HOOK_PRE_ROUTING && ct_settings(c)->checksum &&
	    ct_l4_csum_bad(c->pkt, c->dataoff, 0, CT_IPPROTO_UDP)) {
		ct_log_invalid(c, proto, "bad checksum");
		return true;
	}
	return false;
}

int uxt_ct_udp_packet(const struct ct_pkt *c, struct uxt_ct *ct, uint8_t ctinfo)
{
	const struct uxt_ct_settings *set = ct_settings(c);

	if (udp_error(c, CT_IPPROTO_UDP))
		return CT_INVALID;
	/* the stream rule counts from the entry's creation (start_ns) */
	if (ct->status & UXT_IPS_SEEN_REPLY) {
		uint32_t extra = set->udp_timeout;
		bool stream = false;

		/* still active after two seconds: a stream */
		if (c->now > ct_time_add(ct->start_ns, UDP_STREAM_NS)) {
			extra = set->udp_timeout_stream;
			stream = true;
		}
		ct_refresh_acct(c, ct, ctinfo, extra);
		/* never ASSURED after a NAT clash: they time out soon */
		if (ct->status & UXT_IPS_NAT_CLASH)
			return CT_ACCEPT;
		if (stream && !(ct->status & UXT_IPS_ASSURED)) {
			ct->status |= UXT_IPS_ASSURED;
			ct_event_cache(ct, UXT_IPCT_ASSURED);
		}
	} else {
		ct_refresh_acct(c, ct, ctinfo, set->udp_timeout);
	}
	return CT_ACCEPT;
}

/* udplite_error() */
static bool udplite_error(const struct ct_pkt *c)
{
	unsigned int udplen = c->pkt->len - c->dataoff, cscov;
	struct udph h;

	if (!udp_header(c, &h)) {
		ct_log_invalid(c, CT_IPPROTO_UDPLITE, "short packet");
		return true;
	}
	cscov = ntohs(h.len);
	if (cscov == 0) {
		cscov = udplen;
	} else if (cscov < sizeof(h) || cscov > udplen) {
		ct_log_invalid(c, CT_IPPROTO_UDPLITE, "invalid checksum coverage");
		return true;
	}
	if (!h.check) {
		ct_log_invalid(c, CT_IPPROTO_UDPLITE, "checksum missing");
		return true;
	}
	/* the pseudo header is UDP-Lite's (nf_checksum_partial) */
	if (c->hook == UXT_HOOK_PRE_ROUTING && ct_settings(c)->checksum &&
	    ct_l4_csum_bad(c->pkt, c->dataoff, cscov, CT_IPPROTO_UDPLITE)) {
		ct_log_invalid(c, CT_IPPROTO_UDPLITE, "bad checksum");
		return true;
	}
	return false;
}

int uxt_ct_udplite_packet(const struct ct_pkt *c, struct uxt_ct *ct,
			  uint8_t ctinfo)
{
	const struct uxt_ct_settings *set = ct_settings(c);

	if (udplite_error(c))
		return CT_INVALID;
	if (ct->status & UXT_IPS_SEEN_REPLY) {
		ct_refresh_acct(c, ct, ctinfo, set->udp_timeout_stream);
		if (ct->status & UXT_IPS_NAT_CLASH)
			return CT_ACCEPT;
		if (!(ct->status & UXT_IPS_ASSURED)) {
			ct->status |= UXT_IPS_ASSURED;
			ct_event_cache(ct, UXT_IPCT_ASSURED);
		}
	} else {
		ct_refresh_acct(c, ct, ctinfo, set->udp_timeout);
	}
	return CT_ACCEPT;
}
