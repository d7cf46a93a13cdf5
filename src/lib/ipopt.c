/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * IPv4 options (see ipopt.h), after net/ipv4/ip_options.c, ip_input.c
 * (ip_rcv_options), ip_forward.c and icmp.c of Linux 6.18.
 *
 * Offsets in struct uxt_ip_options count from the start of the IP header;
 * an option's pointer (its third byte) counts from the option's start, 1
 * being its first byte, so the slot it points at begins at opt[ptr - 1].
 * Every index used below is checked against the option's length, which
 * compilation checked against the header's.
 */
#include "ipopt.h"

#include <arpa/inet.h>
#include <string.h>

#include "icmp.h"

#define IPOPT_COPIED(o) ((o) & 0x80)

/* timestamp flags (the low nibble of the fourth byte) */
#define TS_TSONLY 0
#define TS_TSANDADDR 1
#define TS_PRESPEC 3

#define IPHDR_LEN 20u
#define MS_PER_DAY 86400000ull

uint32_t uxt_ipopt_timestamp(uint64_t now_ns)
{
	uint64_t ms = now_ns / 1000000u;

	return htonl((uint32_t)(ms % MS_PER_DAY));
}

static bool is_multicast(uint32_t a)
{
	return (ntohl(a) & 0xF0000000u) == 0xE0000000u;
}

/* inet_addr_type(addr) != RTN_UNICAST: an address a prespecified
 * timestamp names this host by (one of its own, a broadcast address of
 * its local table, 0.0.0.0/8, limited broadcast or multicast). */
static bool addr_is_ours(const struct uxt_host *h, uint32_t a)
{
	if ((ntohl(a) >> 24) == 0 || a == 0xFFFFFFFFu || is_multicast(a))
		return true;
	if (!h)
		return false;
	if (uxt_host_is_local(h, a))
		return true;
	for (unsigned int i = 0; i < h->nifaces; i++)
		if (h->ifaces[i].up && uxt_host_is_broadcast(h, &h->ifaces[i], a))
			return true;
	return false;
}

/* Compiling (__ip_options_compile with an skb) */

struct compile {
	struct uxt_ns *ns;
	unsigned char *iph;
	uint32_t spec_dst;		/* fib_compute_spec_dst() */
	unsigned char *err;		/* the byte the pointer names */
};

/* IPOPT_SSRR, IPOPT_LSRR: only checked here; followed later */
static bool compile_srr(struct compile *c, unsigned char *p,
			unsigned int optlen, struct uxt_ip_options *opt)
{
	if (optlen < 3)
		c->err = p + 1;
	else if (p[2] < 4)
		c->err = p + 2;
	else if (opt->srr)	/* RFC 1812 5.2.4.1: one source route */
		c->err = p;
	if (c->err)
		return false;
	opt->is_strictroute = p[0] == UXT_IPOPT_SSRR;
	opt->srr = (uint8_t)(p - c->iph);
	return true;
}

static bool compile_rr(struct compile *c, unsigned char *p,
		       unsigned int optlen, struct uxt_ip_options *opt)
{
	if (opt->rr)
		c->err = p;
	else if (optlen < 3)
		c->err = p + 1;
	else if (p[2] < 4)
		c->err = p + 2;
	if (c->err)
		return false;
	if (p[2] <= optlen) {
		if (p[2] + 3u > optlen) {
			c->err = p + 2;
			return false;
		}
		/* a received datagram records the address it came to */
		memcpy(&p[p[2] - 1], &c->spec_dst, 4);
		opt->is_changed = true;
		p[2] += 4;
		opt->rr_needaddr = true;
	}
	opt->rr = (uint8_t)(p - c->iph);
	return true;
}

static bool compile_ts(struct compile *c, unsigned char *p,
		       unsigned int optlen, struct uxt_ip_options *opt)
{
	unsigned char *timeptr = NULL;

	if (opt->ts)
		c->err = p;
	else if (optlen < 4)
		c->err = p + 1;
	else if (p[2] < 5)
		c->err = p + 2;
	if (c->err)
		return false;
	if (p[2] <= optlen) {
		if (p[2] + 3u > optlen) {
			c->err = p + 2;
			return false;
		}
		switch (p[3] & 0xF) {
		case TS_TSONLY:
			timeptr = &p[p[2] - 1];
			opt->ts_needtime = true;
			p[2] += 4;
			break;
		case TS_TSANDADDR:
			if (p[2] + 7u > optlen) {
				c->err = p + 2;
				return false;
			}
			memcpy(&p[p[2] - 1], &c->spec_dst, 4);
			timeptr = &p[p[2] + 3];
			opt->ts_needaddr = true;
			opt->ts_needtime = true;
			p[2] += 8;
			break;
		case TS_PRESPEC: {
			uint32_t addr;

			if (p[2] + 7u > optlen) {
				c->err = p + 2;
				return false;
			}
			memcpy(&addr, &p[p[2] - 1], 4);
			/* a slot naming another host waits for it */
			if (!addr_is_ours(uxt_ns_host(c->ns), addr))
				break;
			timeptr = &p[p[2] + 3];
			opt->ts_needtime = true;
			p[2] += 8;
			break;
		}
		default:
			/* unknown flags: accepted from the wire, left alone */
			break;
		}
		if (timeptr) {
			uint32_t now = uxt_ipopt_timestamp(uxt_ns_time(c->ns));

			memcpy(timeptr, &now, 4);
			opt->is_changed = true;
		}
	} else if ((p[3] & 0xF) != TS_PRESPEC) {
		/* full: count this host in the overflow nibble */
		unsigned int overflow = p[3] >> 4;

		if (overflow == 15) {
			c->err = p + 3;
			return false;
		}
		p[3] = (unsigned char)((p[3] & 0xF) | ((overflow + 1) << 4));
		opt->is_changed = true;
	}
	opt->ts = (uint8_t)(p - c->iph);
	return true;
}

/*
 * Returns 0, or -1 with *pointer set to the offending byte's offset in
 * the header.  Changes made before an error stay, as in the kernel.
 */
static int compile(struct uxt_ns *ns, struct uxt_pkt *pkt, uint32_t spec_dst,
		   uint32_t *pointer)
{
	struct uxt_ip_options *opt = &pkt->opt;
	struct compile c = {.ns = ns, .iph = pkt->data, .spec_dst = spec_dst};
	unsigned char *p = pkt->data + IPHDR_LEN;
	unsigned int l = opt->optlen;

	while (l > 0 && !c.err) {
		unsigned int optlen;

		if (*p == UXT_IPOPT_END) {
			/* what follows the end is made END too */
			for (p++, l--; l > 0; p++, l--) {
				if (*p != UXT_IPOPT_END) {
					*p = UXT_IPOPT_END;
					opt->is_changed = true;
				}
			}
			break;
		}
		if (*p == UXT_IPOPT_NOOP) {
			l--;
			p++;
			continue;
		}
		optlen = l >= 2 ? p[1] : 0;
		if (optlen < 2 || optlen > l) {
			c.err = p;
			break;
		}
		switch (*p) {
		case UXT_IPOPT_SSRR:
		case UXT_IPOPT_LSRR:
			compile_srr(&c, p, optlen, opt);
			break;
		case UXT_IPOPT_RR:
			compile_rr(&c, p, optlen, opt);
			break;
		case UXT_IPOPT_TIMESTAMP:
			compile_ts(&c, p, optlen, opt);
			break;
		case UXT_IPOPT_RA:
			if (optlen < 4)
				c.err = p + 1;
			else if (p[2] == 0 && p[3] == 0)
				opt->router_alert = (uint8_t)(p - c.iph);
			break;
		case UXT_IPOPT_CIPSO:
			/* cipso_v4_validate() with no CIPSO DOI configured:
			 * too short, else an unknown DOI */
			if (opt->cipso) {
				c.err = p;
				break;
			}
			opt->cipso = (uint8_t)(p - c.iph);
			c.err = optlen < 8 ? p + 1 : p + 2;
			break;
		default:
			/* security, stream ID, unknown: accepted as they are */
			break;
		}
		l -= optlen;
		p += optlen;
	}
	if (!c.err)
		return 0;
	*pointer = (uint32_t)(c.err - c.iph);
	return -1;
}

/* Source routes (ip_options_rcv_srr) */

static const char *rcv_srr(struct uxt_ns *ns, struct uxt_pkt *pkt,
			   const struct uxt_iface *dev,
			   struct uxt_route_result *rt)
{
	const struct uxt_host *h = uxt_ns_host(ns);
	struct uxt_ip_options *opt = &pkt->opt;
	unsigned char *p = pkt->data + opt->srr;
	unsigned int srrptr, srrspace = p[1];
	uint32_t nexthop = 0;

	if (pkt->pkt_type != UXT_PACKET_HOST)
		return "source route in a datagram not addressed to this host";
	if (rt->type == UXT_RTN_UNICAST) {
		/* passing through: a loose route goes on as routed */
		if (!opt->is_strictroute)
			return NULL;
		uxt_icmp_send(ns, pkt, UXT_ICMP_PARAMETERPROB, 0, 16u << 24);
		return "strict source route not through this host";
	}
	if (rt->type != UXT_RTN_LOCAL)
		return "source route to a broadcast, multicast or unroutable "
		       "address";
	if (!h)
		return "no host model";
	for (srrptr = p[2]; srrptr <= srrspace; srrptr += 4) {
		struct uxt_route_result next;
		const char *reason;

		if (srrptr + 3 > srrspace) {
			uxt_icmp_send(ns, pkt, UXT_ICMP_PARAMETERPROB, 0,
				      (uint32_t)(opt->srr + 2) << 24);
			return "source route pointer in the middle of an address";
		}
		memcpy(&nexthop, &p[srrptr - 1], 4);
		if (uxt_host_route_input(h, dev, uxt_iph(pkt)->saddr, nexthop,
					 &next, &reason) ||
		    (next.type != UXT_RTN_UNICAST && next.type != UXT_RTN_LOCAL))
			return "source route: no route to the next hop";
		*rt = next;
		if (next.type != UXT_RTN_LOCAL)
			break;
		/* an address of this host: on to the next one */
		uxt_iph(pkt)->daddr = nexthop;
		opt->is_changed = true;
	}
	if (srrptr <= srrspace) {
		opt->srr_is_hit = true;
		opt->nexthop = nexthop;
		opt->is_changed = true;
	}
	return NULL;
}

const char *uxt_ipopt_rcv(struct uxt_ns *ns, struct uxt_pkt *pkt,
			  const struct uxt_iface *dev,
			  struct uxt_route_result *rt)
{
	unsigned int hlen = uxt_ip_hlen(pkt);
	uint32_t pointer;

	if (hlen <= IPHDR_LEN || hlen > pkt->len)
		return NULL;
	memset(&pkt->opt, 0, sizeof(pkt->opt));
	pkt->opt.optlen = (uint8_t)(hlen - IPHDR_LEN);
	if (compile(ns, pkt, rt->src, &pointer)) {
		uxt_icmp_send(ns, pkt, UXT_ICMP_PARAMETERPROB, 0, pointer << 24);
		return "bad IP option";
	}
	if (!pkt->opt.srr)
		return NULL;
	if (dev && !dev->accept_source_route)
		return "source route option (accept_source_route is off)";
	return rcv_srr(ns, pkt, dev, rt);
}

/* Forwarding */

bool uxt_ipopt_strict_gw(const struct uxt_pkt *pkt,
			 const struct uxt_route_result *rt)
{
	uint32_t dst = pkt->opt.srr_is_hit ? pkt->opt.nexthop :
					     uxt_iph(pkt)->daddr;

	return pkt->opt.is_strictroute && rt->nexthop != dst;
}

/* ip_rt_get_source() for a forwarded datagram: the preferred source of
 * the route to its destination through the output device. */
static void put_source(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		       const struct uxt_route_result *rt, unsigned char *slot)
{
	const struct uxt_host *h = uxt_ns_host(ns);
	struct uxt_route_result out;
	const char *reason;
	uint32_t src = uxt_iface_primary_addr(rt->dev);

	if (h && uxt_host_route_output(h, uxt_iph(pkt)->daddr, rt->dev, &out,
				       &reason) == 0)
		src = out.src;
	memcpy(slot, &src, 4);
}

/* Whether the 4 bytes at offset off (from the option at start) lie within
 * the option's length. */
static bool slot_ok(const unsigned char *start, int off)
{
	return off >= 3 && off + 4 <= start[1];
}

void uxt_ipopt_forward(struct uxt_ns *ns, struct uxt_pkt *pkt,
		       const struct uxt_route_result *rt)
{
	struct uxt_ip_options *opt = &pkt->opt;
	unsigned char *raw = pkt->data;

	if (!opt->optlen || opt->optlen + IPHDR_LEN > uxt_ip_hlen(pkt))
		return;
	if (opt->rr_needaddr) {
		unsigned char *p = raw + opt->rr;

		if (slot_ok(p, p[2] - 5))
			put_source(ns, pkt, rt, &p[p[2] - 5]);
		opt->is_changed = true;
	}
	if (opt->srr_is_hit) {
		unsigned char *p = raw + opt->srr;
		unsigned int srrptr, srrspace = p[1];

		/* the next hop's slot gets the outgoing address */
		for (srrptr = p[2]; srrptr <= srrspace; srrptr += 4) {
			if (srrptr + 3 > srrspace)
				break;
			if (memcmp(&opt->nexthop, &p[srrptr - 1], 4) == 0)
				break;
		}
		if (srrptr + 3 <= srrspace) {
			opt->is_changed = true;
			uxt_iph(pkt)->daddr = opt->nexthop;
			put_source(ns, pkt, rt, &p[srrptr - 1]);
			p[2] = (unsigned char)(srrptr + 4);
		}
		if (opt->ts_needaddr) {
			p = raw + opt->ts;
			if (slot_ok(p, p[2] - 9))
				put_source(ns, pkt, rt, &p[p[2] - 9]);
			opt->is_changed = true;
		}
	}
	if (opt->is_changed) {
		opt->is_changed = false;
		uxt_ip_send_check(pkt);
	}
}

/* Replies */

/* An option of the received header: its start, or NULL if off lies
 * outside the options (the header cannot have changed since they were
 * compiled, but a reply never reads beyond them). */
static const unsigned char *src_opt(const struct uxt_pkt *pkt, unsigned int off)
{
	unsigned int hlen = uxt_ip_hlen(pkt);

	if (off < IPHDR_LEN || off + 2 > hlen || hlen > pkt->len ||
	    off + pkt->data[off + 1] > hlen)
		return NULL;
	return pkt->data + off;
}

/* record route: copied, with room for this host's address */
static int echo_rr(const struct uxt_ip_options *sopt, const unsigned char *s,
		   struct uxt_ipopt_reply *r)
{
	unsigned int optlen = s[1], soffset = s[2];
	unsigned char *d = r->data + r->opt.optlen;

	r->opt.rr = (uint8_t)(r->opt.optlen + IPHDR_LEN);
	memcpy(d, s, optlen);
	if (sopt->rr_needaddr && soffset <= optlen) {
		if (soffset + 3 > optlen)
			return -1;
		d[2] = (unsigned char)(soffset + 4);
		r->opt.rr_needaddr = true;
	}
	r->opt.optlen = (uint8_t)(r->opt.optlen + optlen);
	return 0;
}

/* timestamp: copied, with room for what this host adds */
static int echo_ts(const struct uxt_host *h, const struct uxt_ip_options *sopt,
		   const unsigned char *s, struct uxt_ipopt_reply *r)
{
	unsigned int optlen = s[1], soffset = s[2];
	unsigned char *d = r->data + r->opt.optlen;

	r->opt.ts = (uint8_t)(r->opt.optlen + IPHDR_LEN);
	memcpy(d, s, optlen);
	if (soffset <= optlen) {
		if (sopt->ts_needaddr) {
			if (soffset + 3 > optlen)
				return -1;
			r->opt.ts_needaddr = true;
			soffset += 4;
		}
		if (sopt->ts_needtime) {
			if (soffset + 3 > optlen)
				return -1;
			if ((d[3] & 0xF) != TS_PRESPEC) {
				r->opt.ts_needtime = true;
				soffset += 4;
			} else if (soffset + 7 <= optlen) {
				uint32_t addr;

				memcpy(&addr, &d[soffset - 1], 4);
				if (addr_is_ours(h, addr)) {
					r->opt.ts_needtime = true;
					soffset += 8;
				}
			}
		}
		d[2] = (unsigned char)soffset;
	}
	r->opt.optlen = (uint8_t)(r->opt.optlen + optlen);
	return 0;
}

/* source route: the addresses passed so far, in reverse order, the last
 * one (the previous hop) becoming the first hop of the reply */
static void echo_srr(const struct uxt_pkt *pkt, const struct uxt_ip_options *sopt,
		     const unsigned char *s, struct uxt_ipopt_reply *r)
{
	int optlen = s[1], soffset = s[2], doffset = 0;
	unsigned char *d = r->data + r->opt.optlen;
	uint32_t faddr = 0;

	if (soffset > optlen)
		soffset = optlen + 1;
	soffset -= 4;
	if (soffset > 3) {
		memcpy(&faddr, &s[soffset - 1], 4);
		for (soffset -= 4, doffset = 4; soffset > 3;
		     soffset -= 4, doffset += 4)
			memcpy(&d[doffset - 1], &s[soffset - 1], 4);
		/* RFC 1812: a route starting at the sender leaves it out */
		if (memcmp(&uxt_iph(pkt)->saddr, &s[soffset + 3], 4) == 0)
			doffset -= 4;
	}
	if (doffset > 3) {
		r->opt.faddr = faddr;
		d[0] = s[0];
		d[1] = (unsigned char)(doffset + 3);
		d[2] = 4;
		r->opt.srr = (uint8_t)(r->opt.optlen + IPHDR_LEN);
		r->opt.optlen = (uint8_t)(r->opt.optlen + doffset + 3);
		r->opt.is_strictroute = sopt->is_strictroute;
	}
}

int uxt_ipopt_echo(const struct uxt_host *h, const struct uxt_pkt *pkt,
		   struct uxt_ipopt_reply *r)
{
	const struct uxt_ip_options *sopt = &pkt->opt;
	const unsigned char *s;

	memset(r, 0, sizeof(*r));
	if (!sopt->optlen)
		return 0;
	/* the parts copied lie apart within the received options, so they
	 * fit in as many bytes together */
	if (sopt->rr && (s = src_opt(pkt, sopt->rr)) && echo_rr(sopt, s, r))
		return -1;
	if (sopt->ts && (s = src_opt(pkt, sopt->ts)) && echo_ts(h, sopt, s, r))
		return -1;
	if (sopt->srr && (s = src_opt(pkt, sopt->srr)))
		echo_srr(pkt, sopt, s, r);
	if (sopt->cipso && (s = src_opt(pkt, sopt->cipso)) &&
	    r->opt.optlen + s[1] <= UXT_IPOPT_MAX) {
		r->opt.cipso = (uint8_t)(r->opt.optlen + IPHDR_LEN);
		memcpy(r->data + r->opt.optlen, s, s[1]);
		r->opt.optlen = (uint8_t)(r->opt.optlen + s[1]);
	}
	while (r->opt.optlen & 3)
		r->data[r->opt.optlen++] = UXT_IPOPT_END;
	return 0;
}

void uxt_ipopt_build(unsigned char *iph, const struct uxt_ipopt_reply *r,
		     uint32_t daddr, uint64_t now_ns)
{
	const struct uxt_ip_options *opt = &r->opt;
	const unsigned char *saddr = iph + 12;

	memcpy(iph + IPHDR_LEN, r->data, opt->optlen);
	if (opt->srr)
		memcpy(iph + opt->srr + iph[opt->srr + 1] - 4, &daddr, 4);
	if (opt->rr_needaddr)
		memcpy(iph + opt->rr + iph[opt->rr + 2] - 5, saddr, 4);
	if (opt->ts_needaddr)
		memcpy(iph + opt->ts + iph[opt->ts + 2] - 9, saddr, 4);
	if (opt->ts_needtime) {
		uint32_t now = uxt_ipopt_timestamp(now_ns);

		memcpy(iph + opt->ts + iph[opt->ts + 2] - 5, &now, 4);
	}
}

/* Fragments */

void uxt_ipopt_fragment(unsigned char *iph, struct uxt_ip_options *opt)
{
	unsigned char *p = iph + IPHDR_LEN;
	unsigned int l = opt->optlen;

	if (l > UXT_IPOPT_MAX)
		l = UXT_IPOPT_MAX;
	while (l > 0) {
		unsigned int optlen;

		if (*p == UXT_IPOPT_END)
			return;
		if (*p == UXT_IPOPT_NOOP) {
			l--;
			p++;
			continue;
		}
		optlen = l >= 2 ? p[1] : 0;
		if (optlen < 2 || optlen > l)
			return;
		if (!IPOPT_COPIED(*p))
			memset(p, UXT_IPOPT_NOOP, optlen);
		l -= optlen;
		p += optlen;
	}
	opt->ts = 0;
	opt->rr = 0;
	opt->rr_needaddr = false;
	opt->ts_needaddr = false;
	opt->ts_needtime = false;
}
