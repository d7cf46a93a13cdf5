/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ICMP tracker (nf_conntrack_proto_icmp.c), kernel-behaviour.md 4.4.
 *
 * Tuple: the id (bytes 4-5 of the header, whatever the type) and type and
 * code.  Only the queries echo (8), timestamp (13), information (15) and
 * address mask (17) create entries; their answers are the reply
 * direction (invmap: 8/0, 13/14, 15/16, 17/18).  Errors (3, 4, 5, 11, 12)
 * are looked up by the header they quote, inverted: found, the error is
 * RELATED (RELATED_REPLY when it goes the reply way) and no entry is made;
 * not found, or sent to another address than the entry's, INVALID.  Types
 * above 18, and a bad checksum on the way in, are INVALID.
 */
#include <arpa/inet.h>
#include <string.h>

#include "ct_track.h"
#include "engine.h"

#define NR_ICMP_TYPES 18

/* Reply type + 1 of each query and answer; 0: none */
static const uint8_t invmap[19] = {
	[8] = 0 + 1,  [0] = 8 + 1,   [13] = 14 + 1, [14] = 13 + 1,
	[15] = 16 + 1, [16] = 15 + 1, [17] = 18 + 1, [18] = 17 + 1,
};

static const bool valid_new[19] = {[8] = true, [13] = true, [15] = true, [17] = true};

static uint8_t tuple_type(const struct uxt_ct_tuple *t)
{
	return (uint8_t)(ntohs(t->dport) >> 8);
}

static uint8_t tuple_code(const struct uxt_ct_tuple *t)
{
	return (uint8_t)(ntohs(t->dport) & 0xFF);
}

bool uxt_ct_icmp_tuple(const struct uxt_pkt *pkt, unsigned int dataoff,
		       struct uxt_ct_tuple *tuple)
{
	const uint8_t *h = uxt_pkt_header(pkt, dataoff, 8);

	if (!h)
		return false;
	tuple->dport = htons((uint16_t)(h[0] << 8 | h[1]));
	memcpy(&tuple->sport, h + 4, 2);
	return true;
}

bool uxt_ct_icmp_invert(struct uxt_ct_tuple *inv, const struct uxt_ct_tuple *orig)
{
	uint8_t type = tuple_type(orig);

	if (type >= sizeof(invmap) || !invmap[type])
		return false;
	inv->sport = orig->sport;
	inv->dport = htons((uint16_t)((invmap[type] - 1) << 8 | tuple_code(orig)));
	return true;
}

int uxt_ct_icmp_packet(const struct ct_pkt *c, struct uxt_ct *ct, uint8_t ctinfo)
{
	uint8_t type = tuple_type(&ct->tuple[UXT_CT_DIR_ORIGINAL]);

	/* only the queries make entries; the entry stays after the answer,
	 * for duplicates */
	if (type >= sizeof(valid_new) || !valid_new[type])
		return CT_INVALID;
	ct_refresh_acct(c, ct, ctinfo, ct_settings(c)->icmp_timeout);
	return CT_ACCEPT;
}

static bool icmp_is_err(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* nf_conntrack_inet_error(): the quoted datagram, inverted, is one of our
 * connections */
static int inet_error(const struct ct_pkt *c, const struct uxt_ct_template *tmpl,
		      unsigned int inner)
{
	struct uxt_ct_tuple orig, innertuple;
	unsigned int dataoff;
	enum uxt_ct_dir dir = UXT_CT_DIR_ORIGINAL;
	struct uxt_ct *ct;
	uint16_t zone;
	uint8_t zone_dir;

	ct_pkt_zone(c, tmpl, &zone, &zone_dir);
	if (!ct_get_tuple(c->pkt, inner, &orig, &dataoff))
		return CT_INVALID;
	/* the inverse of what the quoted datagram's sender sent */
	if (!uxt_ct_invert_tuple(&innertuple, &orig))
		return CT_INVALID;
	ct = ct_lookup(c, &innertuple, zone, zone_dir, &dir);
	if (!ct)
		return CT_INVALID;
	/* the error must go where the connection's packets of that
	 * direction go */
	if (uxt_iph(c->pkt)->daddr != ct->tuple[dir].dst) {
		char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
		uint32_t od = uxt_iph(c->pkt)->daddr;

		inet_ntop(AF_INET, &od, a, sizeof(a));
		inet_ntop(AF_INET, &ct->tuple[dir].dst, b, sizeof(b));
		ct_log_invalid(c, CT_IPPROTO_ICMP, "outer daddr %s != inner %s",
			       a, b);
		return CT_INVALID;
	}
	c->pkt->ct = ct;
	c->pkt->ctinfo = dir == UXT_CT_DIR_REPLY ? UXT_CT_RELATED_REPLY :
						   UXT_CT_RELATED;
	return CT_ACCEPT;
}

int uxt_ct_icmp_error(const struct ct_pkt *c, const struct uxt_ct_template *tmpl)
{
	const uint8_t *h = uxt_pkt_header(c->pkt, c->dataoff, 8);

	if (!h) {
		ct_log_invalid(c, CT_IPPROTO_ICMP, "short packet");
		return CT_INVALID;
	}
	if (ct_settings(c)->checksum && c->hook == UXT_HOOK_PRE_ROUTING &&
	    ct_l4_csum_bad(c->pkt, c->dataoff, 0, 0)) {
		ct_log_invalid(c, CT_IPPROTO_ICMP, "bad hw icmp checksum");
		return CT_INVALID;
	}
	/* RFC 1122 3.2.2: unknown types are discarded */
	if (h[0] > NR_ICMP_TYPES) {
		ct_log_invalid(c, CT_IPPROTO_ICMP, "invalid icmp type");
		return CT_INVALID;
	}
	if (!icmp_is_err(h[0]))
		return CT_ACCEPT;
	return inet_error(c, tmpl, c->dataoff + 8);
}
