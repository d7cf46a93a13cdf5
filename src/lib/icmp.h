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
#define UXT_ICMP_NET_ANO 9
#define UXT_ICMP_HOST_ANO 10
#define UXT_ICMP_PKT_FILTERED 13

/* icmp_send(): an error about pkt, sent as a locally generated packet. */
void uxt_icmp_send(struct uxt_ns *ns, const struct uxt_pkt *pkt, uint8_t type,
		   uint8_t code, uint32_t info);
/* The error input routing sends for a refused destination (ip_error). */
void uxt_icmp_route_error(struct uxt_ns *ns, const struct uxt_pkt *pkt,
			  const struct uxt_route_result *rt);

#endif
