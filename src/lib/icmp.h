/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ICMP errors the host sends (net/ipv4/icmp.c icmp_send): destination
 * unreachable, time exceeded, parameter problem, with the kernel's rules
 * for when nothing is sent (fragments, ICMP errors, broadcasts, bad
 * checksums are the caller's business), its choice of source address, TOS
 * and TTL, quoting of the offending datagram (up to 576 bytes in all), and
 * its rate limits (icmp_ratelimit, icmp_ratemask, icmp_msgs_per_sec).
 */
#ifndef UXT_ICMP_H
#define UXT_ICMP_H

#include <stdint.h>

#include "engine.h"

#define UXT_ICMP_ECHOREPLY 0
#define UXT_ICMP_DEST_UNREACH 3
#define UXT_ICMP_SOURCE_QUENCH 4
#define UXT_ICMP_REDIRECT 5
#define UXT_ICMP_ECHO 8
#define UXT_ICMP_TIME_EXCEEDED 11
#define UXT_ICMP_PARAMETERPROB 12

#define UXT_ICMP_NET_UNREACH 0
#define UXT_ICMP_HOST_UNREACH 1
#define UXT_ICMP_PROT_UNREACH 2
#define UXT_ICMP_PORT_UNREACH 3
#define UXT_ICMP_FRAG_NEEDED 4
#define UXT_ICMP_SR_FAILED 5
#define UXT_ICMP_NET_ANO 9
#define UXT_ICMP_HOST_ANO 10
#define UXT_ICMP_PKT_FILTERED 13

/* Code of redirect. */
#define UXT_ICMP_REDIR_HOST 1

/* Codes of time exceeded. */
#define UXT_ICMP_EXC_TTL 0
#define UXT_ICMP_EXC_FRAGTIME 1

/*
 * icmp_send(): an error about pkt, sent as a locally generated packet
 * (uxt_ns_local_out) while pkt is being handled.  info is the 32-bit
 * "rest of header" in host order: the next-hop MTU for frag-needed, the
 * pointer << 24 for parameter problem, 0 otherwise.  The packet's
 * skb->dev is taken to be its input device (pkt->indev).
 */
void uxt_icmp_send(struct uxt_ns *ns, const struct uxt_pkt *pkt, uint8_t type,
		   uint8_t code, uint32_t info);
/*
 * The same where skb->dev is another device than the input one: the
 * output device when ip_fragment() refuses a datagram, the device a
 * fragment queue's first fragment came in on when reassembly times out.
 */
void uxt_icmp_send_dev(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		       uint8_t type, uint8_t code, uint32_t info,
		       const struct uxt_iface *skb_dev);
/*
 * The error input routing sends for a refused destination (ip_error):
 * nothing when forwarding is off; host unreachable for an unreachable
 * route, "communication administratively prohibited" (3/13) for a
 * prohibit route, net unreachable for no route at all (rt->type 0, the
 * kernel's RTN_UNSPEC), nothing for a blackhole; rate-limited per source
 * host (1 s a message, burst 5, the kernel's ip_rt_error_cost/burst),
 * sharing the per-host bucket with icmp_send's own limit, as both use the
 * same inet_peer.
 */
void uxt_icmp_route_error(struct uxt_ns *ns, const struct uxt_pkt *pkt,
			  const struct uxt_route_result *rt);
/*
 * The redirect ip_forward() sends for a datagram input routing marked
 * (rt->redirect), toward gw (network order), with the kernel's per-sender
 * backoff (ip_rt_send_redirect).
 */
void uxt_icmp_redirect(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		       uint32_t gw);

/*
 * The namespace's rate-limit state (the kernel keeps it per network
 * namespace: the inet_peer tree and icmp_global credit).  The engine
 * creates one per uxt_ns and hands it out through uxt_ns_icmp_limits();
 * the settings start at the kernel's defaults.
 */
struct uxt_icmp_limits;

/* struct uxt_icmp_settings: host.h, as the host model carries them */
struct uxt_icmp_limits *uxt_icmp_limits_new(void);
void uxt_icmp_limits_free(struct uxt_icmp_limits *lim);
void uxt_icmp_limits_get(const struct uxt_icmp_limits *lim,
			 struct uxt_icmp_settings *s);
void uxt_icmp_limits_set(struct uxt_icmp_limits *lim,
			 const struct uxt_icmp_settings *s);

/* The namespace's limiter state (engine.c). */
struct uxt_icmp_limits *uxt_ns_icmp_limits(struct uxt_ns *ns);

/*
 * Whether the route the kernel gives a datagram to daddr (from saddr) has
 * RTCF_BROADCAST or RTCF_MULTICAST: limited broadcast, multicast, a
 * subnet broadcast address of one of the host's interfaces, or 0 -> 0.
 * REJECT's TCP reset uses it too.
 */
bool uxt_icmp_route_is_bcast(const struct uxt_host *h, uint32_t saddr,
			     uint32_t daddr);

/* icmp_pointers[type].error: the types that are errors (3, 4, 5, 11, 12). */
bool uxt_icmp_type_is_error(uint8_t type);

#endif
