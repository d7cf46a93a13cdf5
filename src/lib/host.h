/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The host model: what the kernel's routing decisions and netfilter's
 * matches need to know about the machine a ruleset runs on.
 *
 *   interfaces  name, index, type, MAC, MTU, up/loopback, IPv4 addresses
 *   routes      the main table: destination/prefix, gateway, device,
 *               preferred source, metric, type (unicast, blackhole,
 *               unreachable, prohibit)
 *   settings    IPv4 forwarding
 *
 * Local and broadcast addresses follow from the interface addresses, as the
 * kernel's local table does.  A host comes from the current network
 * namespace (host_netlink.c) or from a small text file (uxt_host_parse,
 * format in docs/host.md), so a ruleset can be tried for another machine.
 *
 * Interfaces live in one allocation made on the first uxt_host_add_iface,
 * sized for UXT_HOST_MAX_IFACES, so pointers to them stay valid for the
 * host's lifetime.  docs/host.md lists what routing models and leaves out.
 */
#ifndef UXT_HOST_H
#define UXT_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define UXT_HOST_MAX_IFACES 256
#define UXT_HOST_MAX_ADDRS 16

/* Scopes of addresses and routes (RT_SCOPE_*). */
enum uxt_scope {
	UXT_SCOPE_UNIVERSE = 0,
	UXT_SCOPE_SITE = 200,
	UXT_SCOPE_LINK = 253,
	UXT_SCOPE_HOST = 254,
	UXT_SCOPE_NOWHERE = 255,
};

struct uxt_ifaddr {
	uint32_t addr;		/* network order */
	uint8_t prefixlen;
	uint32_t broadcast;	/* network order, 0 if none */
	bool secondary;
	uint8_t scope;		/* enum uxt_scope; 127/8 addresses are HOST */
};

struct uxt_iface {
	char name[16];
	int index;
	uint16_t type;		/* UXT_ARPHRD_* */
	unsigned char mac[8];
	uint8_t mac_len;
	uint32_t mtu;
	bool up;
	bool loopback;
	struct uxt_ifaddr addrs[UXT_HOST_MAX_ADDRS];
	unsigned int naddrs;
	uint8_t rp_filter;	/* effective rp_filter: max(conf/all, conf/DEV):
				 * 0 off, 1 strict, 2 loose */
	bool accept_source_route; /* effective accept_source_route: conf/all
				   * and conf/DEV both on */
	bool send_redirects;	/* conf/all or conf/DEV send_redirects */
	bool shared_media;	/* conf/all or conf/DEV shared_media */
};

enum uxt_route_type {
	UXT_RTN_NONE = 0,	/* input: no route matched (ENETUNREACH) */
	UXT_RTN_UNICAST = 1,
	UXT_RTN_LOCAL = 2,
	UXT_RTN_BROADCAST = 3,
	UXT_RTN_MULTICAST = 5,
	UXT_RTN_BLACKHOLE = 6,
	UXT_RTN_UNREACHABLE = 7,
	UXT_RTN_PROHIBIT = 8,
};

struct uxt_route {
	uint32_t dst;		/* network order, masked */
	uint8_t dst_len;
	uint8_t type;		/* enum uxt_route_type */
	uint32_t gateway;	/* network order, 0: directly connected */
	int oif;		/* interface index, 0 for non-unicast */
	uint32_t prefsrc;	/* network order, 0: choose */
	uint32_t metric;
	uint8_t scope;		/* enum uxt_scope: LINK for a unicast route
				 * without gateway, else UNIVERSE */
	uint32_t mtu;		/* the route's mtu metric, 0: the device's */
};

struct uxt_host {
	struct uxt_iface *ifaces;
	unsigned int nifaces;
	struct uxt_route *routes;
	unsigned int nroutes;
	bool forwarding;
	/* how often the host may send ICMP errors */
	struct uxt_icmp_settings {
		uint32_t ratelimit_ms;	/* net.ipv4.icmp_ratelimit, 1000 */
		uint32_t ratemask;	/* net.ipv4.icmp_ratemask, 6168 */
		uint32_t msgs_per_sec;	/* net.ipv4.icmp_msgs_per_sec, 1000 */
		uint32_t msgs_burst;	/* net.ipv4.icmp_msgs_burst, 50 */
	} icmp;
};

/* A fresh namespace's ICMP settings. */
extern const struct uxt_icmp_settings uxt_icmp_default_settings;

/*
 * The result of a routing decision.
 *
 * Input: LOCAL, BROADCAST and MULTICAST (224.0.0.1, the one group every
 * interface that is up has joined) are for this host, and dev is lo as in
 * the kernel's input route; UNICAST is to be forwarded out of dev.  When
 * forwarding is on, a datagram no route lets through gets type NONE or the
 * refusing route's type, with the errno the kernel's route carries, from
 * which ip_error() picks its ICMP error: ENETUNREACH (NONE: net
 * unreachable), EHOSTUNREACH (UNREACHABLE: host unreachable), EACCES
 * (PROHIBIT: code 13, administratively prohibited), EINVAL (BLACKHOLE:
 * nothing is sent).  With forwarding off the function returns -1 instead:
 * the kernel drops such a datagram silently.
 *
 * Output: UNICAST, LOCAL (dev lo), BROADCAST, MULTICAST.
 *
 * error is 0 when the datagram goes on, else the errno of the decision,
 * also when the function returns -1: what ip route get would answer.
 * reason, a static string, says why whenever error is set.
 */
struct uxt_route_result {
	enum uxt_route_type type;	/* UNICAST (forward or send), LOCAL,
					 * BROADCAST, MULTICAST, or the refusing
					 * kinds */
	const struct uxt_iface *dev;	/* output device */
	uint32_t nexthop;		/* gateway or the destination itself */
	uint32_t src;			/* output: the source address the kernel
					 * picks; input: the address the host
					 * answers from (fib_compute_spec_dst) */
	uint32_t mtu;			/* the route's MTU (dst_mtu) */
	int error;			/* see above */
	bool redirect;			/* input: forwarded back out of the
					 * interface it came in on toward a
					 * sender on that link: the kernel
					 * sends the sender a redirect
					 * (IPSKB_DOREDIRECT) */
};

void uxt_host_init(struct uxt_host *h);
void uxt_host_free(struct uxt_host *h);
struct uxt_iface *uxt_host_add_iface(struct uxt_host *h, const char *name,
				     int index);
int uxt_host_add_route(struct uxt_host *h, const struct uxt_route *r);

const struct uxt_iface *uxt_host_iface_by_name(const struct uxt_host *h,
					       const char *name);
const struct uxt_iface *uxt_host_iface_by_index(const struct uxt_host *h,
						int index);
/* The loopback interface, if the host has one. */
const struct uxt_iface *uxt_host_loopback(const struct uxt_host *h);

/* An address of one of the interfaces (the kernel's local table). */
bool uxt_host_is_local(const struct uxt_host *h, uint32_t addr);
/* 255.255.255.255 or the broadcast address of a subnet of dev. */
bool uxt_host_is_broadcast(const struct uxt_host *h,
			   const struct uxt_iface *dev, uint32_t addr);
/* Whether dev has joined the multicast group (ip_check_mc_rcu). */
bool uxt_host_mc_joined(const struct uxt_host *h, const struct uxt_iface *dev,
			uint32_t group);
/*
 * fib_compute_spec_dst(): the address the host answers a datagram from
 * saddr to daddr received on dev from, when its input route has the given
 * type: daddr itself for a local route, else the preferred source toward
 * saddr.  What an input route's src holds; for datagrams that keep the
 * route they were sent with (looped back).
 */
uint32_t uxt_host_spec_dst(const struct uxt_host *h, const struct uxt_iface *dev,
			   uint32_t saddr, uint32_t daddr,
			   enum uxt_route_type type);
/* The first (primary) address of dev, 0 if none (REDIRECT, MASQUERADE). */
uint32_t uxt_iface_primary_addr(const struct uxt_iface *dev);
/*
 * inet_select_addr(): the source address the host uses on dev toward dst
 * within scope (enum uxt_scope): a primary address of dev, preferably in
 * dst's subnet, else the first fitting primary address of any interface;
 * 0 if none (MASQUERADE's choice).
 */
uint32_t uxt_host_select_addr(const struct uxt_host *h,
			      const struct uxt_iface *dev, uint32_t dst,
			      unsigned int scope);

/*
 * Input routing of a datagram received on dev (ip_route_input): LOCAL,
 * BROADCAST or MULTICAST for this host, UNICAST to forward (when
 * forwarding is on), or a refusing type.  Returns 0, or -1 with *reason
 * set when the kernel drops the datagram (martian source or destination,
 * a group not joined, not for this host while forwarding is off).
 *
 * Datagrams a host sends to itself come back through lo with the route
 * they were sent with (the kernel keeps skb_dst); routing them again here
 * would find them martian, as ip_route_input would.
 */
int uxt_host_route_input(const struct uxt_host *h, const struct uxt_iface *dev,
			 uint32_t saddr, uint32_t daddr,
			 struct uxt_route_result *res, const char **reason);
/* Output routing (ip_route_output) to daddr, optionally bound to oif. */
int uxt_host_route_output(const struct uxt_host *h, uint32_t daddr,
			  const struct uxt_iface *oif,
			  struct uxt_route_result *res, const char **reason);
/* The same for a socket bound to the source address saddr (0: unbound). */
int uxt_host_route_output_src(const struct uxt_host *h, uint32_t saddr,
			      uint32_t daddr, const struct uxt_iface *oif,
			      struct uxt_route_result *res,
			      const char **reason);
/* The same with FLOWI_FLAG_ANYSRC, for a reply the kernel makes from the
 * address a datagram was sent to (ip_route_me_harder, REJECT's reset):
 * saddr need not be local, but a loopback source still cannot leave
 * through another device. */
int uxt_host_route_output_anysrc(const struct uxt_host *h, uint32_t saddr,
				 uint32_t daddr, const struct uxt_iface *oif,
				 struct uxt_route_result *res,
				 const char **reason);
/* "unicast", "local", "broadcast", "multicast", "blackhole", ... */
const char *uxt_route_type_name(enum uxt_route_type type);

/* The host of the calling process's network namespace (rtnetlink). */
int uxt_host_from_netns(struct uxt_host *h, struct uxt_err *err);
/* A host described in a text file (see docs/host.md). */
int uxt_host_from_file(struct uxt_host *h, const char *path,
		       struct uxt_err *err);
/* The same from text in memory; name is what error messages call it. */
int uxt_host_parse(struct uxt_host *h, const char *text, size_t len,
		   const char *name, struct uxt_err *err);
/* The host in the file format, which uxt_host_parse reads back. */
struct uxt_buf;
void uxt_host_format(const struct uxt_host *h, struct uxt_buf *out);

#endif
