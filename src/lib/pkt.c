/* SPDX-License-Identifier: BSD-2-Clause */
#include "pkt.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

uint16_t uxt_pkt_fragoff(const struct uxt_pkt *p)
{
	return ntohs(uxt_iph(p)->frag_off) & UXT_IP_OFFSET;
}

int uxt_pkt_init_copy(struct uxt_pkt *p, const void *data, uint32_t len,
		      uint32_t cap)
{
	memset(p, 0, sizeof(*p));
	if (cap < len)
		cap = len;
	p->owned = malloc(cap ? cap : 1);
	if (!p->owned)
		return -1;
	p->data = p->owned;
	p->cap = cap;
	p->len = len;
	if (len)
		memcpy(p->data, data, len);
	return 0;
}

void uxt_pkt_release(struct uxt_pkt *p)
{
	free(p->owned);
	p->owned = NULL;
	p->data = NULL;
	p->len = p->cap = 0;
}

int uxt_pkt_clone(struct uxt_pkt *dst, const struct uxt_pkt *src)
{
	struct uxt_pkt tmp;

	if (uxt_pkt_init_copy(&tmp, src->data, src->len, src->cap))
		return -1;
	*dst = *src;
	dst->owned = tmp.owned;
	dst->data = tmp.data;
	dst->cap = tmp.cap;
	return 0;
}

uint16_t uxt_csum(const void *data, size_t len, uint32_t sum)
{
	const unsigned char *p = data;

	while (len > 1) {
		sum += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return htons((uint16_t)~sum);
}

void uxt_pkt_csum_help(struct uxt_pkt *p)
{
	unsigned int start = uxt_ip_hlen(p);
	uint16_t sum;

	if (!p->csum_partial)
		return;
	p->csum_partial = false;
	if (start > p->len || p->csum_offset + 2u > p->len)
		return;
	sum = uxt_csum(p->data + start, p->len - start, 0);
	memcpy(p->data + p->csum_offset, &sum, 2);
}

uint16_t uxt_ip_csum(const struct uxt_iphdr *iph, unsigned int hlen)
{
	return uxt_csum(iph, hlen, 0);
}

void uxt_ip_send_check(struct uxt_pkt *p)
{
	struct uxt_iphdr *iph = uxt_iph(p);

	iph->check = 0;
	iph->check = uxt_ip_csum(iph, uxt_ip_hlen(p));
}

uint32_t uxt_pseudo_sum(uint32_t saddr, uint32_t daddr, uint8_t proto,
			uint16_t len)
{
	uint32_t s = ntohl(saddr), d = ntohl(daddr);

	return (s >> 16) + (s & 0xFFFF) + (d >> 16) + (d & 0xFFFF) + proto + len;
}

/* RFC 1624: HC' = ~(~HC + ~m + m') */
void uxt_csum_replace2(uint16_t *sum, uint16_t from, uint16_t to)
{
	uint32_t s = (uint16_t)~ntohs(*sum);

	s += (uint16_t)~ntohs(from);
	s += ntohs(to);
	while (s >> 16)
		s = (s & 0xFFFF) + (s >> 16);
	*sum = htons((uint16_t)~s);
}

void uxt_csum_replace4(uint16_t *sum, uint32_t from, uint32_t to)
{
	uxt_csum_replace2(sum, htons((uint16_t)(ntohl(from) >> 16)),
			  htons((uint16_t)(ntohl(to) >> 16)));
	uxt_csum_replace2(sum, htons((uint16_t)ntohl(from)),
			  htons((uint16_t)ntohl(to)));
}

const char *uxt_pkt_rcv_check(struct uxt_pkt *p)
{
	const struct uxt_iphdr *iph;
	unsigned int ihl, tot;

	if (p->pkt_type == UXT_PACKET_OTHERHOST)
		return "not for this host (PACKET_OTHERHOST)";
	if (p->len < sizeof(struct uxt_iphdr))
		return "shorter than an IP header";
	iph = uxt_iph(p);
	ihl = uxt_ip_hlen(p);
	if (ihl < 20 || (iph->ver_ihl >> 4) != 4)
		return "bad IP version or header length";
	if (p->len < ihl)
		return "shorter than its IP header length";
	if (uxt_ip_csum(iph, ihl) != 0)
		return "bad IP header checksum";
	tot = ntohs(iph->tot_len);
	if (p->len < tot)
		return "truncated (total length beyond the frame)";
	if (tot < ihl)
		return "total length shorter than the header";
	/* trailing link-layer padding is not part of the datagram */
	p->len = tot;
	return NULL;
}
