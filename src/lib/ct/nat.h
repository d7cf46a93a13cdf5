/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * NAT of a namespace (nf_nat, Linux 6.18 for IPv4): bindings of tracked
 * connections to translated addresses and ports, and the rewriting of
 * their packets.  docs/nat.md describes the whole.
 *
 * A binding is made once per connection and manip, for the first packet
 * that meets the nat table at a hook of that manip (kernel-behaviour.md
 * 1.5): DST at PREROUTING and OUTPUT, SRC at INPUT and POSTROUTING.  A NAT
 * target (SNAT, DNAT, MASQUERADE, REDIRECT) makes it with
 * uxt_nat_setup_info(); a chain that ends without one leaves a null
 * binding.  A binding alters the unconfirmed entry's reply tuple, so that
 * replies are recognised, and sets IPS_SRC_NAT / IPS_DST_NAT when it
 * changes something, IPS_SRC_NAT_DONE / IPS_DST_NAT_DONE always.  From
 * then on every packet of the connection is rewritten at the hooks of
 * that manip by uxt_nat_hook() (ct.h), replies the other way round, and
 * ICMP errors about the connection have their quoted datagram and their
 * outer header translated.
 *
 * The port choice of the kernel draws random numbers (get_random_u16);
 * here they come from the namespace's generator (uxt_ns_random_u32 in
 * engine.h), seeded per namespace.  Everything else (the address chosen
 * in a range, jhash2 of the addresses; the original port kept when it is
 * free; the search order from a given start) is the kernel's.
 */
#ifndef UXT_NAT_H
#define UXT_NAT_H

#include <stdbool.h>
#include <stdint.h>

#include "ct.h"

struct uxt_host;
struct uxt_iface;
struct uxt_ns;
struct uxt_pkt;

/* enum nf_nat_manip_type */
enum uxt_nat_manip {
	UXT_NAT_MANIP_SRC = 0,
	UXT_NAT_MANIP_DST = 1,
};

/* NF_NAT_RANGE_* (the values of <linux/netfilter/nf_nat.h>, which the
 * targets' records carry) */
#define UXT_NAT_R_MAP_IPS 0x01
#define UXT_NAT_R_PROTO_SPECIFIED 0x02
#define UXT_NAT_R_PROTO_RANDOM 0x04
#define UXT_NAT_R_PERSISTENT 0x08
#define UXT_NAT_R_PROTO_RANDOM_FULLY 0x10
#define UXT_NAT_R_PROTO_OFFSET 0x20
#define UXT_NAT_R_RANDOM_ALL (UXT_NAT_R_PROTO_RANDOM | UXT_NAT_R_PROTO_RANDOM_FULLY)

/* struct nf_nat_range2 for IPv4; everything in network order.  The
 * "proto" values are ports, the ICMP id, or GRE keys. */
struct uxt_nat_range {
	uint32_t flags;
	uint32_t min_addr, max_addr;
	uint16_t min_proto, max_proto;
	uint16_t base_proto;		/* PROTO_OFFSET (DNAT's /base) */
};

/* HOOK2MANIP(): SRC at POSTROUTING and INPUT, DST elsewhere. */
enum uxt_nat_manip uxt_nat_hook_manip(unsigned int hook);

/* nf_nat_initialized(): the manip's binding is made. */
bool uxt_nat_initialized(const struct uxt_ct *ct, enum uxt_nat_manip manip);

/*
 * nf_nat_setup_info(): binds the unconfirmed entry ct for manip within
 * range (get_unique_tuple), and returns a netfilter verdict (ACCEPT; DROP
 * when the manip is already bound).  A confirmed entry is left alone
 * (ACCEPT).
 */
unsigned int uxt_nat_setup_info(struct uxt_ns *ns, struct uxt_ct *ct,
				 const struct uxt_nat_range *range,
				 enum uxt_nat_manip manip);

/*
 * nf_nat_masquerade_ipv4() at POSTROUTING: SNAT of pkt's entry to the
 * address the host would choose on out toward the packet's next hop
 * (inet_select_addr), with range's ports and flags; the entry remembers
 * out (ct->masq_ifindex).  No binding for a connection from 0.0.0.0; DROP,
 * and the kernel's "DEV ate my IP address", when out has no address.
 */
unsigned int uxt_nat_masquerade(struct uxt_ns *ns, struct uxt_pkt *pkt,
				const struct uxt_nat_range *range,
				const struct uxt_iface *out);

/*
 * nf_nat_redirect_ipv4(): DNAT of pkt's entry to this host, with range's
 * ports and flags: at OUTPUT to 127.0.0.1, at PREROUTING to the first
 * (primary) address of in; DROP when in has none.
 */
unsigned int uxt_nat_redirect(struct uxt_ns *ns, struct uxt_pkt *pkt,
			      const struct uxt_nat_range *range,
			      unsigned int hook, const struct uxt_iface *in);

/*
 * What the kernel's MASQUERADE notifiers do when the host changes
 * (rtnetlink; the engine calls this when a namespace's host model is
 * replaced, uxt_ns_set_host): a device that went down or went away loses
 * every entry MASQUERADE bound to it (NETDEV_DOWN); an address removed
 * from a device loses the entries bound to the device whose reply goes to
 * that address (inetaddr NETDEV_DOWN).  [DESTROY] events for each.
 */
void uxt_nat_host_changed(struct uxt_ct_table *t, const struct uxt_host *old,
			  const struct uxt_host *now);
/* The address event alone: entries of ifindex whose reply destination is
 * addr. */
void uxt_nat_flush_masq_addr(struct uxt_ct_table *t, int ifindex,
			     uint32_t addr);

#endif
