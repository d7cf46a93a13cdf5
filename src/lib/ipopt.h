/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * IPv4 options in the packet path, as net/ipv4/ip_options.c and its
 * callers handle them (Linux 6.18):
 *
 *   uxt_ipopt_rcv()       ip_rcv_options(): a received datagram's options
 *                         checked and compiled (record route and timestamp
 *                         filled in), source routes followed
 *   uxt_ipopt_strict_gw() ip_forward()'s strict-source-route check
 *   uxt_ipopt_forward()   ip_forward_options(), after FORWARD
 *   uxt_ipopt_echo()      __ip_options_echo(): the options of an ICMP error
 *   uxt_ipopt_build()     ip_options_build(): writing them into its header
 *   uxt_ipopt_fragment()  ip_options_fragment(): pieces after the first
 *
 * The compiled state travels with the packet (uxt_pkt.opt, the kernel's
 * IPCB(skb)->opt).  docs/packet-path.md ("IP options") says what is
 * modelled and what is not.
 */
#ifndef UXT_IPOPT_H
#define UXT_IPOPT_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

/* Option types (IPOPT_*) */
#define UXT_IPOPT_END 0
#define UXT_IPOPT_NOOP 1
#define UXT_IPOPT_RR 7
#define UXT_IPOPT_TIMESTAMP 68
#define UXT_IPOPT_SEC 130
#define UXT_IPOPT_LSRR 131
#define UXT_IPOPT_CIPSO 134
#define UXT_IPOPT_SID 136
#define UXT_IPOPT_SSRR 137
#define UXT_IPOPT_RA 148

/* Most option bytes a header holds. */
#define UXT_IPOPT_MAX 40

/*
 * ip_rcv_options(): for a datagram received with options (IHL above 5),
 * after input routing (rt, whose src is fib_compute_spec_dst's address)
 * and before local delivery or forwarding.  Sets pkt->opt, fills in
 * record-route and timestamp options as the kernel does (the header
 * checksum is left as it was, as the kernel leaves it), sends ICMP
 * parameter problem for a bad option, and follows a source route: one
 * that goes on from here replaces *rt with the route to its next hop.
 * Returns NULL when the datagram goes on, else why it is dropped (pkt is
 * left to the caller).
 */
const char *uxt_ipopt_rcv(struct uxt_ns *ns, struct uxt_pkt *pkt,
			  const struct uxt_iface *dev,
			  struct uxt_route_result *rt);

/* ip_forward(): a strict source route whose next hop is not on a link of
 * this host (rt_uses_gateway): ICMP "source route failed" and drop. */
bool uxt_ipopt_strict_gw(const struct uxt_pkt *pkt,
			 const struct uxt_route_result *rt);

/* ip_forward_options(): the outgoing address into record route, the next
 * hop of a source route into the destination, and a new header checksum
 * when anything changed since the options were compiled. */
void uxt_ipopt_forward(struct uxt_ns *ns, struct uxt_pkt *pkt,
		       const struct uxt_route_result *rt);

/* The options of a reply about a datagram (__ip_options_echo). */
struct uxt_ipopt_reply {
	struct uxt_ip_options opt;	/* offsets in the reply's header */
	unsigned char data[UXT_IPOPT_MAX];
};

/*
 * __ip_options_echo(): the options an ICMP error about pkt carries, from
 * pkt->opt: record route and timestamp copied with room taken for this
 * host's entry, a source route reversed (opt.faddr, its first hop, is
 * where the error is routed).  Returns 0, or -1 when the kernel refuses
 * (EINVAL: then no error is sent).
 */
int uxt_ipopt_echo(const struct uxt_host *h, const struct uxt_pkt *pkt,
		   struct uxt_ipopt_reply *r);

/*
 * ip_options_build(): r's options into the header at iph (whose source
 * address is set and whose IHL already counts them), with daddr, the
 * reply's real destination, at the end of a source route and the time
 * now_ns in a timestamp.
 */
void uxt_ipopt_build(unsigned char *iph, const struct uxt_ipopt_reply *r,
		     uint32_t daddr, uint64_t now_ns);

/*
 * ip_options_fragment(): in the header iph of the pieces after the
 * first, the options without the "copied" bit become NOPs; opt (the
 * datagram's compiled options: nothing happens when it has none) forgets
 * its record route and timestamp.
 */
void uxt_ipopt_fragment(unsigned char *iph, struct uxt_ip_options *opt);

/* inet_current_timestamp(): milliseconds since midnight UT, network
 * order. */
uint32_t uxt_ipopt_timestamp(uint64_t now_ns);

#endif
