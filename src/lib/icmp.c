/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ICMP errors: icmp_send() and ip_error() of net/ipv4 (icmp.c, route.c),
 * with the rate limits of icmp.c and inetpeer.c.
 *
 * When nothing is sent (__icmp_send): the datagram was received as link
 * broadcast or multicast, its route is a broadcast or multicast one, it is
 * not the first fragment, or it is itself an ICMP error (or of an unknown
 * type, above 18) and the message would be an error too.
 *
 * The message: source address the datagram's destination when that is one
 * of ours, else the one output routing picks toward the sender; TOS
 * (tos & 0x1E) | 0xC0 for errors; TTL 64; DF clear; an ordinary IP ID; the
 * ICMP header, then as much of the datagram as seen at this point as keeps
 * the whole message within min(576, route MTU) bytes.  The datagram's IP
 * options are echoed (ipopt.h: record route and timestamp with this
 * host's entry, a source route reversed, and the message routed to its
 * first hop); when the kernel cannot echo them nothing is sent.
 *
 * Rate limits, in the order of kernels since 6.12 ("icmp: change the order
 * of rate limits"), all on the namespace clock counted in jiffies (HZ 250,
 * the reference kernel's):
 *   - types outside icmp_ratemask, and frag-needed, are never limited;
 *   - a datagram that came in through a loopback device is never limited;
 *   - the namespace-wide bucket (icmp_msgs_per_sec, icmp_msgs_burst) must
 *     have credit, refilled at most every 20 ms;
 *   - then the per-destination bucket (inet_peer rate_tokens): one
 *     message per icmp_ratelimit, burst 6, none when the reply leaves
 *     through loopback;
 *   - a message sent consumes one credit of the namespace bucket (the
 *     kernel takes 0, 1 or 2 at random, one on average).
 * ip_error() has its own cost and burst (1 s, 5 s) on the same peer
 * entry, so a refused route costs its sender two tokens per message.
 */
#include "icmp.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"
#include "host.h"
#include "ipopt.h"

/* The kernel's tick: limits are counted in jiffies. */
#define ICMP_HZ 250u
#define NS_PER_JIFFY (1000000000ull / ICMP_HZ)

/* inetpeer.c XRLIM_BURST_FACTOR */
#define XRLIM_BURST_FACTOR 6
/* route.c ip_rt_error_cost and ip_rt_error_burst */
#define RT_ERROR_COST ICMP_HZ
#define RT_ERROR_BURST (5 * ICMP_HZ)
/* inet_getpeer(): a new entry starts 60 s in the past, so its first
 * refill fills the bucket */
#define PEER_NEW_AGE (60 * ICMP_HZ)

#define NR_ICMP_TYPES 18
#define IPPROTO_ICMP_NUM 1
#define IPTOS_TOS_MASK 0x1E
#define IPTOS_PREC_INTERNETCONTROL 0xC0
#define ICMP_TTL 64
#define ICMP_MAX_LEN 576
#define ICMP_HDR_LEN 8
#define IP_HDR_LEN 20
/* 192.0.0.8, the source when none could be chosen */
#define ICMP_SADDR_DUMMY 0xC0000008u


struct icmp_peer {
	uint32_t addr;			/* network order */
	bool used;			/* the slot holds an entry */
	uint64_t rate_last;		/* jiffies */
	uint64_t rate_tokens;		/* jiffies */
	unsigned int n_redirects;
};

struct uxt_icmp_limits {
	struct uxt_icmp_settings set;
	/* icmp_global: credit may go below zero, as in the kernel */
	int64_t global_credit;
	uint64_t global_stamp;
	/* inet_peer entries, open addressing */
	struct icmp_peer *peers;
	size_t npeers, cap;
};

struct uxt_icmp_limits *uxt_icmp_limits_new(void)
{
	struct uxt_icmp_limits *lim = calloc(1, sizeof(*lim));

	if (!lim)
		return NULL;
	lim->set = uxt_icmp_default_settings;
	/* a namespace's first refill fills the bucket (jiffies start far
	 * from the zero stamp in the kernel) */
	lim->global_credit = lim->set.msgs_burst;
	return lim;
}

void uxt_icmp_limits_free(struct uxt_icmp_limits *lim)
{
	if (!lim)
		return;
	free(lim->peers);
	free(lim);
}

void uxt_icmp_limits_get(const struct uxt_icmp_limits *lim,
			 struct uxt_icmp_settings *s)
{
	*s = lim->set;
}

void uxt_icmp_limits_set(struct uxt_icmp_limits *lim,
			 const struct uxt_icmp_settings *s)
{
	lim->set = *s;
}

static uint64_t jiffies_of(uint64_t now_ns)
{
	return now_ns / NS_PER_JIFFY;
}

/* proc_dointvec_ms_jiffies: milliseconds to jiffies, rounded down */
static uint64_t ms_to_jiffies(uint32_t ms)
{
	return (uint64_t)ms * ICMP_HZ / 1000u;
}

/* Peers */

static size_t peer_slot(const struct uxt_icmp_limits *lim, uint32_t addr)
{
	/* Fibonacci hashing; cap is a power of two */
	uint32_t h = addr * 2654435761u;

	return (size_t)h & (lim->cap - 1);
}

static struct icmp_peer *peer_place(struct uxt_icmp_limits *lim,
				     const struct icmp_peer *p)
{
	size_t i = peer_slot(lim, p->addr);

	while (lim->peers[i].used)
		i = (i + 1) & (lim->cap - 1);
	lim->peers[i] = *p;
	lim->npeers++;
	return &lim->peers[i];
}

/*
 * Rebuilds the table with room for at least want entries, leaving out the
 * entries old enough that a new one would behave the same (their bucket
 * would refill to the full burst either way), as the kernel's garbage
 * collection of unused peers does later.
 */
static int peers_rehash(struct uxt_icmp_limits *lim, uint64_t now, size_t want)
{
	struct icmp_peer *old = lim->peers;
	size_t oldcap = lim->cap, cap = 64;
	uint64_t idle = PEER_NEW_AGE;
	uint64_t icmp_full = XRLIM_BURST_FACTOR * ms_to_jiffies(lim->set.ratelimit_ms);
	size_t live = 0;

	if (icmp_full > idle)
		idle = icmp_full;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used && now - old[i].rate_last < idle)
			live++;
	if (want < live + 1)
		want = live + 1;
	while (cap < want * 2)
		cap *= 2;
	lim->peers = calloc(cap, sizeof(*lim->peers));
	if (!lim->peers) {
		lim->peers = old;
		return -1;
	}
	lim->cap = cap;
	lim->npeers = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used && now - old[i].rate_last < idle)
			peer_place(lim, &old[i]);
	free(old);
	return 0;
}

/* inet_getpeer_v4(): the entry of addr, created if need be; NULL when
 * memory is short (the kernel then does not limit). */
static struct icmp_peer *peer_get(struct uxt_icmp_limits *lim, uint32_t addr,
				  uint64_t now)
{
	struct icmp_peer fresh = {
		.addr = addr,
		.used = true,
		.rate_last = now - PEER_NEW_AGE,
		.rate_tokens = 0,
	};
	size_t i;

	if (lim->cap) {
		for (i = peer_slot(lim, addr); lim->peers[i].used;
		     i = (i + 1) & (lim->cap - 1))
			if (lim->peers[i].addr == addr)
				return &lim->peers[i];
	}
	if ((lim->npeers + 1) * 2 > lim->cap &&
	    peers_rehash(lim, now, lim->npeers + 1))
		return NULL;
	return peer_place(lim, &fresh);
}

/* inet_peer_xrlim_allow() */
static bool peer_xrlim_allow(struct icmp_peer *peer, uint64_t timeout,
			     uint64_t now)
{
	uint64_t token = peer->rate_tokens, delta = now - peer->rate_last;

	if (delta) {
		peer->rate_last = now;
		token += delta;
		if (token > XRLIM_BURST_FACTOR * timeout)
			token = XRLIM_BURST_FACTOR * timeout;
	}
	if (token >= timeout) {
		peer->rate_tokens = token - timeout;
		return true;
	}
	peer->rate_tokens = token;
	return false;
}

/* The namespace bucket */

/* icmp_global_allow(): is there credit (refilling it if it is time)? */
static bool global_allow(struct uxt_icmp_limits *lim, uint64_t now)
{
	uint64_t delta, incr;

	if (lim->global_credit > 0)
		return true;
	delta = now - lim->global_stamp;
	if (delta > ICMP_HZ)
		delta = ICMP_HZ;
	if (delta < ICMP_HZ / 50)
		return false;
	incr = (uint64_t)lim->set.msgs_per_sec * delta / ICMP_HZ;
	if (!incr)
		return false;
	lim->global_stamp = now;
	lim->global_credit += (int64_t)incr;
	if (lim->global_credit > (int64_t)lim->set.msgs_burst)
		lim->global_credit = lim->set.msgs_burst;
	return true;
}

/* icmp_global_consume(): the kernel takes 0-2 credits at random; one is
 * its mean and keeps runs repeatable. */
static void global_consume(struct uxt_icmp_limits *lim)
{
	lim->global_credit--;
}

/* icmpv4_mask_allow(): types that are never limited */
static bool mask_allow(const struct uxt_icmp_limits *lim, uint8_t type,
		       uint8_t code)
{
	if (type > NR_ICMP_TYPES)
		return true;
	if (type == UXT_ICMP_DEST_UNREACH && code == UXT_ICMP_FRAG_NEEDED)
		return true;
	return !((1u << type) & lim->set.ratemask);
}

/* Helpers shared with REJECT */

/* The .error flag of the kernel's icmp_pointers: the five error types and
 * the unassigned or retired 1, 2, 6, 7, 9 and 10 (router advertisement and
 * solicitation), which RFC 1122 has silently discarded. */
bool uxt_icmp_type_is_error(uint8_t type)
{
	switch (type) {
	case 1:
	case 2:
	case UXT_ICMP_DEST_UNREACH:
	case UXT_ICMP_SOURCE_QUENCH:
	case UXT_ICMP_REDIRECT:
	case 6:
	case 7:
	case 9:
	case 10:
	case UXT_ICMP_TIME_EXCEEDED:
	case UXT_ICMP_PARAMETERPROB:
		return true;
	default:
		return false;
	}
}

static bool is_multicast(uint32_t addr)
{
	return (ntohl(addr) & 0xF0000000u) == 0xE0000000u;
}

bool uxt_icmp_route_is_bcast(const struct uxt_host *h, uint32_t saddr,
			     uint32_t daddr)
{
	if (daddr == 0xFFFFFFFFu || is_multicast(daddr) ||
	    (saddr == 0 && daddr == 0))
		return true;
	if (!h)
		return false;
	/* the local table's broadcast entries: any interface's */
	for (unsigned int i = 0; i < h->nifaces; i++)
		if (uxt_host_is_broadcast(h, &h->ifaces[i], daddr))
			return true;
	return false;
}

/* icmp_send */

/* Whether the datagram is an ICMP error (or of a type above 18): an error
 * about an error is never sent.  False too when its ICMP type byte is
 * missing: the kernel then sends nothing. */
static bool quotes_icmp_error(const struct uxt_pkt *pkt, bool *missing)
{
	const struct uxt_iphdr *iph = uxt_iph(pkt);
	const uint8_t *itp;

	*missing = false;
	if (iph->protocol != IPPROTO_ICMP_NUM)
		return false;
	itp = uxt_pkt_header(pkt, uxt_ip_hlen(pkt), 1);
	if (!itp) {
		*missing = true;
		return false;
	}
	return *itp > NR_ICMP_TYPES || uxt_icmp_type_is_error(*itp);
}

void uxt_icmp_send_dev(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		       uint8_t type, uint8_t code, uint32_t info,
		       const struct uxt_iface *skb_dev)
{
	const struct uxt_host *h = uxt_ns_host(ns);
	struct uxt_icmp_limits *lim = uxt_ns_icmp_limits(ns);
	uint64_t now = jiffies_of(uxt_ns_time(ns));
	const struct uxt_iphdr *iph;
	struct uxt_route_result rt;
	const char *reason = NULL;
	bool apply_ratelimit = false, missing;
	uint32_t saddr, room, data_len, total, hlen, dst;
	uint8_t tos;
	struct uxt_pkt reply;
	struct uxt_iphdr *niph;
	unsigned char *icmph;
	uint32_t info_be = htonl(info);
	struct uxt_ipopt_reply ropt;

	if (!h || pkt->len < IP_HDR_LEN)
		return;
	iph = uxt_iph(pkt);
	/* no replies to physical multicast/broadcast, nor to a broadcast or
	 * multicast route */
	if (pkt->pkt_type != UXT_PACKET_HOST ||
	    uxt_icmp_route_is_bcast(h, iph->saddr, iph->daddr))
		return;
	/* only to the first fragment */
	if (iph->frag_off & htons(UXT_IP_OFFSET))
		return;
	if (uxt_icmp_type_is_error(type) &&
	    (quotes_icmp_error(pkt, &missing) || missing))
		return;
	/* the namespace-wide limit, unless it came in through loopback */
	if (lim && !(skb_dev && skb_dev->loopback) && !mask_allow(lim, type, code)) {
		if (!global_allow(lim, now))
			return;
		apply_ratelimit = true;
	}
	/* the address it was sent to when its route carries RTCF_LOCAL: to
	 * this host, or sent out of lo (or looped back through it); a source
	 * route going on from here has the route to its next hop, which does
	 * not */
	saddr = !pkt->opt.srr_is_hit &&
				(uxt_host_is_local(h, iph->daddr) ||
				 (pkt->outdev && pkt->outdev->loopback) ||
				 (pkt->indev && pkt->indev->loopback)) ?
			iph->daddr : 0;
	tos = uxt_icmp_type_is_error(type) ?
		      (uint8_t)((iph->tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL) :
		      iph->tos;
	/* __ip_options_echo(): the datagram's options, reversed */
	if (uxt_ipopt_echo(h, pkt, &ropt))
		return;
	/* icmp_route_lookup(): toward the sender (the first hop of the
	 * reversed source route), from the address it wrote to when that is
	 * this host's */
	dst = ropt.opt.srr ? ropt.opt.faddr : iph->saddr;
	if (uxt_host_route_output_src(h, saddr, dst, NULL, &rt, &reason) ||
	    !rt.dev)
		return;
	if (!saddr)
		saddr = rt.src;
	/* icmpv4_xrlim_allow(): the per-destination bucket */
	if (apply_ratelimit) {
		uint64_t timeout = ms_to_jiffies(lim->set.ratelimit_ms);
		bool rc = true;

		if (!rt.dev->loopback && timeout) {
			struct icmp_peer *peer = peer_get(lim, dst, now);

			if (peer)
				rc = peer_xrlim_allow(peer, timeout, now);
		}
		if (!rc)
			return;
		global_consume(lim);
	}
	/* as much as fits in 576 bytes (or the route's MTU) */
	hlen = IP_HDR_LEN + ropt.opt.optlen;
	room = rt.mtu < ICMP_MAX_LEN ? rt.mtu : ICMP_MAX_LEN;
	if (room <= hlen + ICMP_HDR_LEN + IP_HDR_LEN)
		return;
	room -= hlen + ICMP_HDR_LEN;
	data_len = pkt->len < room ? pkt->len : room;
	if (!saddr)
		saddr = htonl(ICMP_SADDR_DUMMY);
	total = hlen + ICMP_HDR_LEN + data_len;
	if (uxt_pkt_init_copy(&reply, NULL, 0, total))
		return;
	reply.len = total;
	memset(reply.data, 0, hlen + ICMP_HDR_LEN);
	memcpy(reply.data + hlen + ICMP_HDR_LEN, pkt->data, data_len);
	niph = uxt_iph(&reply);
	niph->ver_ihl = (uint8_t)(0x40 | hlen / 4);
	niph->tos = tos;
	niph->tot_len = htons((uint16_t)total);
	niph->id = htons(uxt_ns_next_ip_id(ns, iph->saddr));
	niph->frag_off = 0;	/* the ICMP socket is IP_PMTUDISC_DONT */
	niph->ttl = ICMP_TTL;
	niph->protocol = IPPROTO_ICMP_NUM;
	niph->saddr = saddr;
	niph->daddr = dst;
	/* ip_options_build(), toward the sender at the route's end */
	if (ropt.opt.optlen) {
		uxt_ipopt_build(reply.data, &ropt, iph->saddr, uxt_ns_time(ns));
		reply.opt = ropt.opt;
	}
	uxt_ip_send_check(&reply);
	icmph = reply.data + hlen;
	icmph[0] = type;
	icmph[1] = code;
	memcpy(icmph + 4, &info_be, 4);
	{
		uint16_t sum = uxt_csum(icmph, ICMP_HDR_LEN + data_len, 0);

		memcpy(icmph + 2, &sum, 2);
	}
	/* IP4_REPLY_MARK: fwmark_reflect is off by default */
	reply.mark = 0;
	reply.tstamp_ns = uxt_ns_time(ns);
	/* nf_ct_attach() */
	uxt_ct_attach(&reply, pkt);
	uxt_ns_local_out(ns, &reply, &rt);
}

void uxt_icmp_send(struct uxt_ns *ns, const struct uxt_pkt *pkt, uint8_t type,
		   uint8_t code, uint32_t info)
{
	uxt_icmp_send_dev(ns, pkt, type, code, info, pkt->indev);
}

/* ip_error() */
void uxt_icmp_route_error(struct uxt_ns *ns, const struct uxt_pkt *pkt,
			  const struct uxt_route_result *rt)
{
	const struct uxt_host *h = uxt_ns_host(ns);
	struct uxt_icmp_limits *lim = uxt_ns_icmp_limits(ns);
	uint64_t now = jiffies_of(uxt_ns_time(ns));
	uint8_t code;

	/* with forwarding off the kernel refuses silently */
	if (!h || !h->forwarding || pkt->len < IP_HDR_LEN)
		return;
	switch ((int)rt->type) {
	case 0:
		code = UXT_ICMP_NET_UNREACH;
		break;
	case UXT_RTN_UNREACHABLE:
		code = UXT_ICMP_HOST_UNREACH;
		break;
	case UXT_RTN_PROHIBIT:
		code = UXT_ICMP_PKT_FILTERED;
		break;
	default:
		/* blackhole (EINVAL) and anything else: nothing */
		return;
	}
	if (lim) {
		struct icmp_peer *peer = peer_get(lim, uxt_iph(pkt)->saddr, now);

		if (peer) {
			peer->rate_tokens += now - peer->rate_last;
			if (peer->rate_tokens > RT_ERROR_BURST)
				peer->rate_tokens = RT_ERROR_BURST;
			peer->rate_last = now;
			if (peer->rate_tokens < RT_ERROR_COST)
				return;
			peer->rate_tokens -= RT_ERROR_COST;
		}
	}
	uxt_icmp_send(ns, pkt, UXT_ICMP_DEST_UNREACH, code, 0);
}

/* route.c ip_rt_redirect_number, ip_rt_redirect_load, ip_rt_redirect_silence */
#define REDIRECT_NUMBER 9
#define REDIRECT_LOAD (ICMP_HZ / 50)
#define REDIRECT_SILENCE (REDIRECT_LOAD << (REDIRECT_NUMBER + 1))

/* time_after(a, b) on jiffies */
static bool jiffies_after(uint64_t a, uint64_t b)
{
	return (int64_t)(b - a) < 0;
}

/*
 * ip_rt_send_redirect(): a host redirect to the sender of a datagram
 * forwarded back out of the interface it came in on, toward gw.  Per
 * sender, with exponential backoff (the n-th after REDIRECT_LOAD << n
 * jiffies), none after REDIRECT_NUMBER ignored ones until the sender has
 * been quiet for REDIRECT_SILENCE.  The peer entry is the one the ICMP
 * rate limit uses, as in the kernel.
 */
void uxt_icmp_redirect(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		       uint32_t gw)
{
	struct uxt_icmp_limits *lim = uxt_ns_icmp_limits(ns);
	uint64_t now = jiffies_of(uxt_ns_time(ns));
	struct icmp_peer *peer = lim ? peer_get(lim, uxt_iph(pkt)->saddr, now) :
				       NULL;

	if (!peer) {
		uxt_icmp_send(ns, pkt, UXT_ICMP_REDIRECT, UXT_ICMP_REDIR_HOST,
			      ntohl(gw));
		return;
	}
	if (jiffies_after(now, peer->rate_last + REDIRECT_SILENCE)) {
		peer->rate_tokens = 0;
		peer->n_redirects = 0;
	}
	if (peer->n_redirects >= REDIRECT_NUMBER) {
		peer->rate_last = now;
		return;
	}
	if (peer->n_redirects == 0 ||
	    jiffies_after(now, peer->rate_last +
				   ((uint64_t)REDIRECT_LOAD << peer->n_redirects))) {
		uxt_icmp_send(ns, pkt, UXT_ICMP_REDIRECT, UXT_ICMP_REDIR_HOST,
			      ntohl(gw));
		peer->rate_last = now;
		peer->n_redirects++;
	}
}
