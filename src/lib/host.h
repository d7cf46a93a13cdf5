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
 */
#ifndef UXT_HOST_H
#define UXT_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define UXT_HOST_MAX_IFACES 256
#define UXT_HOST_MAX_ADDRS 16

struct uxt_ifaddr {
	uint32_t addr;		/* network order */
	uint8_t prefixlen;
	uint32_t broadcast;	/* network order, 0 if none */
	bool secondary;
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
};

enum uxt_route_type {
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
};

struct uxt_host {
	struct uxt_iface *ifaces;
	unsigned int nifaces;
	struct uxt_route *routes;
	unsigned int nroutes;
	bool forwarding;
};

/* The result of a routing decision. */
struct uxt_route_result {
	enum uxt_route_type type;	/* UNICAST (forward or send), LOCAL,
					 * BROADCAST, or the refusing kinds */
	const struct uxt_iface *dev;	/* output device */
	uint32_t nexthop;		/* gateway or the destination itself */
	uint32_t src;			/* source address the kernel would pick */
	uint32_t mtu;
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
/* The first (primary) address of dev, 0 if none (REDIRECT, MASQUERADE). */
uint32_t uxt_iface_primary_addr(const struct uxt_iface *dev);

/*
 * Input routing of a datagram received on dev (ip_route_input): LOCAL or
 * BROADCAST for this host, UNICAST to forward (when forwarding is on), or a
 * refusing type.  Returns 0, or -1 with *reason set when the kernel drops
 * the datagram (martian source or destination, no route).
 */
int uxt_host_route_input(const struct uxt_host *h, const struct uxt_iface *dev,
			 uint32_t saddr, uint32_t daddr,
			 struct uxt_route_result *res, const char **reason);
/* Output routing (ip_route_output) to daddr, optionally bound to oif. */
int uxt_host_route_output(const struct uxt_host *h, uint32_t daddr,
			  const struct uxt_iface *oif,
			  struct uxt_route_result *res, const char **reason);

/* The host of the calling process's network namespace (rtnetlink). */
int uxt_host_from_netns(struct uxt_host *h, struct uxt_err *err);
/* A host described in a text file (see docs/host.md). */
int uxt_host_from_file(struct uxt_host *h, const char *path,
		       struct uxt_err *err);

#endif
