/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The host model and IPv4 routing as net/ipv4 decides it (route.c
 * ip_route_input_slow, ip_route_input_mc, ip_route_output_key_hash_rcu,
 * __mkroute_output; fib_frontend.c fib_validate_source; devinet.c
 * inet_select_addr; fib_semantics.c fib_result_prefsrc), plus the text
 * format of docs/host.md (parser and printer).
 *
 * How a lookup works here.  Without policy rules the kernel keeps its
 * local and main tables in one trie, so a lookup takes the longest prefix
 * over both, the local table's entry first among equal prefixes, then the
 * lowest metric, then the older route.  Routes of the main table are the
 * host's; the local table is not stored but derived from the interface
 * addresses on every lookup, as fib_add_ifaddr() fills it:
 *
 *   every address          local A/32, scope host (kept while the device
 *                          is down: its nexthop has scope "nowhere")
 *   up devices             broadcast for an explicit brd, and the subnet
 *                          broadcast of a primary address below /31
 *   loopback devices       local PREFIX/LEN (127.0.0.0/8 on lo)
 *
 * Every entry points at its prefix source: the primary address of the
 * subnet.  A route whose device is down is dead (the kernel flushes it),
 * except host-scope ones.  Lookups take no TOS and no mark, so TOS routes
 * and policy rules do not exist in this model (docs/host.md).
 *
 * Addresses are in network order in the structures; the arithmetic below
 * converts to host order where it compares prefixes.
 */
#include "host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pkt.h"

/* IP_MAX_MTU: dst_mtu() never reports more */
#define IP_MAX_MTU 0xFFFFu
#define ALL_HOSTS_GROUP 0xE0000001u	/* 224.0.0.1, host order */
#define LOOPBACK_ADDR 0x7F000001u	/* 127.0.0.1, host order */
#define IFNAME_SIZE 16			/* IFNAMSIZ, with the NUL */

/* Basics */

const struct uxt_icmp_settings uxt_icmp_default_settings = {
	.ratelimit_ms = 1000, .ratemask = 6168,
	.msgs_per_sec = 1000, .msgs_burst = 50,
};

void uxt_host_init(struct uxt_host *h)
{
	memset(h, 0, sizeof(*h));
	h->icmp = uxt_icmp_default_settings;
}

void uxt_host_free(struct uxt_host *h)
{
	free(h->ifaces);
	free(h->routes);
	memset(h, 0, sizeof(*h));
}

struct uxt_iface *uxt_host_add_iface(struct uxt_host *h, const char *name,
				     int index)
{
	struct uxt_iface *d;

	if (!h->ifaces) {
		/* one allocation for good: route results and packets keep
		 * pointers to interfaces */
		h->ifaces = calloc(UXT_HOST_MAX_IFACES, sizeof(*h->ifaces));
		if (!h->ifaces)
			return NULL;
	}
	if (h->nifaces >= UXT_HOST_MAX_IFACES || strlen(name) >= sizeof(d->name))
		return NULL;
	d = &h->ifaces[h->nifaces++];
	memset(d, 0, sizeof(*d));
	strcpy(d->name, name);
	d->index = index;
	d->type = UXT_ARPHRD_ETHER;
	d->mtu = 1500;
	d->send_redirects = true;
	d->shared_media = true;
	return d;
}

int uxt_host_add_route(struct uxt_host *h, const struct uxt_route *r)
{
	struct uxt_route *n;

	if (r->dst_len > 32 || h->nroutes >= UINT_MAX / 2)
		return -1;
	n = realloc(h->routes, (h->nroutes + 1) * sizeof(*n));
	if (!n)
		return -1;
	h->routes = n;
	n[h->nroutes++] = *r;
	return 0;
}

const struct uxt_iface *uxt_host_iface_by_name(const struct uxt_host *h,
					       const char *name)
{
	for (unsigned int i = 0; i < h->nifaces; i++)
		if (strcmp(h->ifaces[i].name, name) == 0)
			return &h->ifaces[i];
	return NULL;
}

const struct uxt_iface *uxt_host_iface_by_index(const struct uxt_host *h,
						int index)
{
	for (unsigned int i = 0; i < h->nifaces; i++)
		if (h->ifaces[i].index == index)
			return &h->ifaces[i];
	return NULL;
}

const struct uxt_iface *uxt_host_loopback(const struct uxt_host *h)
{
	for (unsigned int i = 0; i < h->nifaces; i++)
		if (h->ifaces[i].loopback)
			return &h->ifaces[i];
	return NULL;
}

const char *uxt_route_type_name(enum uxt_route_type type)
{
	switch (type) {
	case UXT_RTN_NONE:
		return "none";
	case UXT_RTN_UNICAST:
		return "unicast";
	case UXT_RTN_LOCAL:
		return "local";
	case UXT_RTN_BROADCAST:
		return "broadcast";
	case UXT_RTN_MULTICAST:
		return "multicast";
	case UXT_RTN_BLACKHOLE:
		return "blackhole";
	case UXT_RTN_UNREACHABLE:
		return "unreachable";
	case UXT_RTN_PROHIBIT:
		return "prohibit";
	}
	return "unknown";
}

/* Address classes (arguments in network order) */

static uint32_t prefix_mask(unsigned int len)
{
	return len == 0 ? 0 : len >= 32 ? 0xFFFFFFFFu : 0xFFFFFFFFu << (32 - len);
}

static bool is_multicast(uint32_t a)
{
	return (ntohl(a) & 0xF0000000u) == 0xE0000000u;
}

/* 224.0.0.0/24: link-local groups, never routed */
static bool is_local_multicast(uint32_t a)
{
	return (ntohl(a) & 0xFFFFFF00u) == 0xE0000000u;
}

static bool is_lbcast(uint32_t a)
{
	return a == 0xFFFFFFFFu;
}

static bool is_loopback_addr(uint32_t a)
{
	return (ntohl(a) & 0xFF000000u) == 0x7F000000u;
}

/* ipv4_is_zeronet(): since Linux 5.3 only 0.0.0.0 itself, 0.0.0.0/8 being
 * ordinary unicast space */
static bool is_zero(uint32_t a)
{
	return a == 0;
}

static bool in_subnet(uint32_t a, const struct uxt_ifaddr *ifa)
{
	return ((ntohl(a) ^ ntohl(ifa->addr)) & prefix_mask(ifa->prefixlen)) == 0;
}

static bool is_reject_type(unsigned int type)
{
	return type == UXT_RTN_BLACKHOLE || type == UXT_RTN_UNREACHABLE ||
	       type == UXT_RTN_PROHIBIT;
}

/* The errno fib_props[] gives each refusing type. */
static int reject_errno(unsigned int type)
{
	switch (type) {
	case UXT_RTN_BLACKHOLE:
		return EINVAL;
	case UXT_RTN_UNREACHABLE:
		return EHOSTUNREACH;
	case UXT_RTN_PROHIBIT:
		return EACCES;
	}
	return 0;
}

static const char *reject_reason(unsigned int type)
{
	switch (type) {
	case UXT_RTN_BLACKHOLE:
		return "blackhole route";
	case UXT_RTN_UNREACHABLE:
		return "unreachable route";
	case UXT_RTN_PROHIBIT:
		return "prohibit route";
	}
	return "no route to the destination";
}

/* The primary address of a's subnet on dev: the prefix source of a's
 * local-table entries.  The kernel keeps the first address of a subnet as
 * the primary and makes later ones secondary. */
static const struct uxt_ifaddr *subnet_primary(const struct uxt_iface *dev,
					       const struct uxt_ifaddr *a)
{
	if (!a->secondary)
		return a;
	for (unsigned int i = 0; i < dev->naddrs; i++) {
		const struct uxt_ifaddr *p = &dev->addrs[i];

		if (!p->secondary && p->prefixlen == a->prefixlen &&
		    in_subnet(a->addr, p))
			return p;
	}
	return a;
}

/* Whether a primary address gets a subnet route (fib_add_ifaddr). */
static bool has_subnet_route(const struct uxt_ifaddr *a)
{
	uint32_t addr = ntohl(a->addr);
	uint32_t prefix = addr & prefix_mask(a->prefixlen);

	return !a->secondary && prefix != 0 &&
	       (prefix != addr || a->prefixlen < 32);
}

/* inet_lookup_ifaddr_rcu(): an address of any interface, up or down */
static const struct uxt_iface *ifaddr_owner(const struct uxt_host *h,
					    uint32_t addr)
{
	for (unsigned int i = 0; i < h->nifaces; i++)
		for (unsigned int j = 0; j < h->ifaces[i].naddrs; j++)
			if (h->ifaces[i].addrs[j].addr == addr)
				return &h->ifaces[i];
	return NULL;
}

/* The FIB */

/* One entry as a lookup sees it: a main-table route or a local-table
 * entry derived from an address. */
struct fib_entry {
	uint32_t dst;			/* host order, masked */
	uint8_t plen;
	uint8_t type;
	uint8_t scope;
	bool local_table;
	uint32_t metric;
	unsigned int seq;		/* age among equal entries */
	const struct uxt_iface *dev;	/* NULL for the refusing types */
	uint32_t gw;			/* network order */
	uint32_t prefsrc;		/* network order */
	uint32_t mtu;
};

struct fib_query {
	uint32_t daddr;			/* host order */
	int oif;			/* only nexthops through it; 0: any */
	uint8_t min_scope;		/* flowi4_scope */
	bool ignore_dead;		/* for checks of a route being added */
	/* main routes taken: those before upto, and those marked in
	 * also (the printer's view of what a reader will have parsed) */
	unsigned int upto;
	const bool *also;
	bool found;
	struct fib_entry best;
};

/* The trie's order: longest prefix, local table first, lowest metric,
 * oldest. */
static bool fib_before(const struct fib_entry *a, const struct fib_entry *b)
{
	if (a->plen != b->plen)
		return a->plen > b->plen;
	if (a->local_table != b->local_table)
		return a->local_table;
	if (a->metric != b->metric)
		return a->metric < b->metric;
	return a->seq < b->seq;
}

/* fib_table_lookup()'s tests of one alias, then keeps the best. */
static void fib_consider(struct fib_query *q, const struct fib_entry *e)
{
	if ((q->daddr & prefix_mask(e->plen)) != e->dst)
		return;
	if (e->scope < q->min_scope)
		return;
	/* a refusing route answers before any nexthop test */
	if (!is_reject_type(e->type)) {
		if (!e->dev)
			return;
		if (!q->ignore_dead && !e->dev->up && e->scope != UXT_SCOPE_HOST)
			return;
		if (q->oif && e->dev->index != q->oif)
			return;
	}
	if (!q->found || fib_before(e, &q->best)) {
		q->best = *e;
		q->found = true;
	}
}

static void local_entry(struct fib_query *q, unsigned int *seq,
			const struct uxt_iface *dev, uint32_t prefsrc,
			uint8_t type, uint32_t dst, unsigned int plen)
{
	struct fib_entry e = {
		.dst = dst & prefix_mask(plen),
		.plen = (uint8_t)plen,
		.type = type,
		.scope = type == UXT_RTN_LOCAL ? UXT_SCOPE_HOST : UXT_SCOPE_LINK,
		.local_table = true,
		.seq = (*seq)++,
		.dev = dev,
		.prefsrc = prefsrc,
	};

	fib_consider(q, &e);
}

/* The local table, derived from the addresses (see the top comment). */
static void fib_walk_local(const struct uxt_host *h, struct fib_query *q)
{
	unsigned int seq = 0;

	for (unsigned int i = 0; i < h->nifaces; i++) {
		const struct uxt_iface *dev = &h->ifaces[i];

		for (unsigned int j = 0; j < dev->naddrs; j++) {
			const struct uxt_ifaddr *a = &dev->addrs[j];
			uint32_t src = subnet_primary(dev, a)->addr;
			uint32_t addr = ntohl(a->addr);
			uint32_t mask = prefix_mask(a->prefixlen);

			local_entry(q, &seq, dev, src, UXT_RTN_LOCAL, addr, 32);
			if (dev->up && a->broadcast && !is_lbcast(a->broadcast))
				local_entry(q, &seq, dev, src, UXT_RTN_BROADCAST,
					    ntohl(a->broadcast), 32);
			if (!has_subnet_route(a))
				continue;
			if (dev->loopback)
				local_entry(q, &seq, dev, src, UXT_RTN_LOCAL,
					    addr, a->prefixlen);
			if (dev->up && a->prefixlen < 31)
				local_entry(q, &seq, dev, src, UXT_RTN_BROADCAST,
					    (addr & mask) | ~mask, 32);
		}
	}
}

static void fib_walk_main(const struct uxt_host *h, struct fib_query *q)
{
	for (unsigned int i = 0; i < h->nroutes; i++) {
		const struct uxt_route *r = &h->routes[i];
		struct fib_entry e = {
			.dst = ntohl(r->dst) & prefix_mask(r->dst_len),
			.plen = r->dst_len,
			.type = r->type,
			.scope = r->scope,
			.metric = r->metric,
			.seq = i,
			.gw = r->gateway,
			.prefsrc = r->prefsrc,
			.mtu = r->mtu,
		};

		if (r->type != UXT_RTN_UNICAST && !is_reject_type(r->type))
			continue;
		if (i >= q->upto && !(q->also && q->also[i]))
			continue;
		if (r->type == UXT_RTN_UNICAST)
			e.dev = uxt_host_iface_by_index(h, r->oif);
		fib_consider(q, &e);
	}
}

static int fib_run(const struct uxt_host *h, struct fib_query *q,
		   struct fib_entry *out)
{
	fib_walk_local(h, q);
	fib_walk_main(h, q);
	if (!q->found)
		return -ENETUNREACH;
	*out = q->best;
	return -reject_errno(q->best.type);
}

/* fib_lookup(): 0 with the entry, or -errno (ENETUNREACH when nothing
 * matches, the refusing type's errno when it matches first). */
static int fib_lookup(const struct uxt_host *h, uint32_t daddr, int oif,
		      struct fib_entry *out)
{
	struct fib_query q = {.daddr = ntohl(daddr), .oif = oif, .upto = UINT_MAX};

	return fib_run(h, &q, out);
}

bool uxt_host_is_local(const struct uxt_host *h, uint32_t addr)
{
	struct fib_entry e;

	return fib_lookup(h, addr, 0, &e) == 0 && e.type == UXT_RTN_LOCAL;
}

bool uxt_host_is_broadcast(const struct uxt_host *h,
			   const struct uxt_iface *dev, uint32_t addr)
{
	(void)h;
	if (is_lbcast(addr))
		return true;
	if (!dev)
		return false;
	for (unsigned int i = 0; i < dev->naddrs; i++) {
		const struct uxt_ifaddr *a = &dev->addrs[i];
		uint32_t mask = prefix_mask(a->prefixlen);

		if (a->broadcast && a->broadcast == addr)
			return true;
		if (has_subnet_route(a) && a->prefixlen < 31 &&
		    ntohl(addr) == ((ntohl(a->addr) & mask) | ~mask))
			return true;
	}
	return false;
}

uint32_t uxt_iface_primary_addr(const struct uxt_iface *dev)
{
	/* the kernel's address list starts with a primary address */
	return dev && dev->naddrs ? dev->addrs[0].addr : 0;
}

/* Source addresses */

/* inet_select_addr(): a primary address of dev within scope, preferably in
 * dst's subnet; else the first fitting primary address of any interface.
 * route_localnet is 0, so 127/8 addresses (scope host) only serve host
 * scope. */
static uint32_t select_addr(const struct uxt_host *h,
			    const struct uxt_iface *dev, uint32_t dst,
			    unsigned int scope)
{
	uint32_t addr = 0;

	if (dev) {
		for (unsigned int i = 0; i < dev->naddrs; i++) {
			const struct uxt_ifaddr *a = &dev->addrs[i];
			unsigned int s = a->scope < UXT_SCOPE_HOST ? a->scope :
								     UXT_SCOPE_HOST;

			if (a->secondary || s > scope)
				continue;
			if (!dst || in_subnet(dst, a))
				return a->addr;
			if (!addr)
				addr = a->addr;
		}
		if (addr)
			return addr;
	}
	for (unsigned int i = 0; i < h->nifaces; i++) {
		const struct uxt_iface *d = &h->ifaces[i];

		for (unsigned int j = 0; j < d->naddrs; j++) {
			const struct uxt_ifaddr *a = &d->addrs[j];

			if (!a->secondary && a->scope != UXT_SCOPE_LINK &&
			    a->scope <= scope)
				return a->addr;
		}
	}
	return 0;
}

uint32_t uxt_host_select_addr(const struct uxt_host *h,
			      const struct uxt_iface *dev, uint32_t dst,
			      unsigned int scope)
{
	return h ? select_addr(h, dev, dst, scope) : 0;
}

/* fib_result_prefsrc(): the route's src, else an address of its device
 * chosen for its gateway within the route's scope. */
static uint32_t entry_prefsrc(const struct uxt_host *h,
			      const struct fib_entry *e)
{
	if (e->prefsrc)
		return e->prefsrc;
	return select_addr(h, e->dev, e->gw, e->scope);
}

/* __ip_dev_find(): the device owning a local address, for a socket bound
 * to saddr. */
static const struct uxt_iface *local_addr_dev(const struct uxt_host *h,
					      uint32_t saddr)
{
	const struct uxt_iface *d = ifaddr_owner(h, saddr);
	struct fib_entry e;

	if (d)
		return d;
	/* e.g. 127.0.0.2: local through 127.0.0.0/8 */
	if (fib_lookup(h, saddr, 0, &e) == 0 && e.type == UXT_RTN_LOCAL)
		return e.dev;
	return NULL;
}

static uint32_t clamp_mtu(uint32_t mtu)
{
	return mtu > IP_MAX_MTU ? IP_MAX_MTU : mtu;
}

/* Input routing */

/*
 * fib_validate_source(): -EINVAL (martian) or -EXDEV (reverse path), else
 * 1 when the sender is directly connected to dev (the route toward it is
 * a connected one through dev), which is what lets a redirect be sent, or
 * 0.  Either error drops the datagram as a martian source; the input path
 * of Linux 6.18 reports every such drop as EINVAL (drop reasons), so that
 * is the errno the callers give.  accept_local is 0 (the default), so
 * without rp_filter only a datagram going back out of the interface it
 * came in on, with send_redirects on, gets the full check.
 */
static int validate_source(const struct uxt_host *h, uint32_t saddr, int oif,
			   const struct uxt_iface *dev)
{
	struct fib_entry e;
	int rpf = dev->rp_filter;

	if (!rpf && (dev->index != oif || !dev->send_redirects))
		return ifaddr_owner(h, saddr) ? -EINVAL : 0;
	/* __fib_validate_source(): a lookup toward the source */
	if (fib_lookup(h, saddr, 0, &e))
		return rpf ? -EXDEV : 0;
	if (e.type != UXT_RTN_UNICAST)
		return -EINVAL;
	/* the nexthop's scope is host for a connected route */
	if (e.dev == dev)
		return e.gw == 0;
	/* another interface leads to the source: strict mode refuses, and
	 * so does loose mode when dev has no address (its "last resort") */
	if (dev->naddrs == 0 || rpf == 1)
		return rpf ? -EXDEV : 0;
	/* loose mode: a route toward the source through dev, if any */
	if (fib_lookup(h, saddr, dev->index, &e) == 0 &&
	    e.type == UXT_RTN_UNICAST)
		return e.gw == 0;
	return 0;
}

/* inet_addr_onlink(): addr (and gw, unless 0) on a subnet of dev */
static bool addr_onlink(const struct uxt_iface *dev, uint32_t addr,
			uint32_t gw)
{
	bool addr_on = false, gw_on = gw == 0;

	for (unsigned int i = 0; i < dev->naddrs; i++) {
		const struct uxt_ifaddr *a = &dev->addrs[i];
		uint32_t mask = a->prefixlen ?
			htonl(0xFFFFFFFFu << (32 - a->prefixlen)) : 0;

		if (((a->addr ^ addr) & mask) == 0)
			addr_on = true;
		if (((a->addr ^ gw) & mask) == 0)
			gw_on = true;
	}
	return addr_on && gw_on;
}

static const char *martian_source_reason(int err)
{
	return err == -EXDEV ? "martian source: reverse path filter" :
			       "martian source: a local address, or a broadcast "
			       "route toward it";
}

/* fib_compute_spec_dst(): the address the host answers such a datagram
 * from */
static uint32_t spec_dst(const struct uxt_host *h, const struct uxt_iface *dev,
			 uint32_t saddr, uint32_t daddr, unsigned int type)
{
	struct fib_entry e;

	if (type == UXT_RTN_LOCAL)
		return daddr;
	if (!is_zero(saddr)) {
		if (fib_lookup(h, saddr, 0, &e) == 0)
			return entry_prefsrc(h, &e);
		return select_addr(h, dev, saddr, UXT_SCOPE_UNIVERSE);
	}
	return select_addr(h, dev, saddr, UXT_SCOPE_LINK);
}

uint32_t uxt_host_spec_dst(const struct uxt_host *h, const struct uxt_iface *dev,
			   uint32_t saddr, uint32_t daddr,
			   enum uxt_route_type type)
{
	return spec_dst(h, dev, saddr, daddr, type);
}

static int input_drop(struct uxt_route_result *res, const char **reason,
		      int error, const char *why)
{
	res->error = error;
	*reason = why;
	return -1;
}

static int input_deliver(const struct uxt_host *h, const struct uxt_iface *dev,
			 uint32_t saddr, uint32_t daddr, unsigned int type,
			 struct uxt_route_result *res)
{
	const struct uxt_iface *lo = uxt_host_loopback(h);

	res->type = (enum uxt_route_type)type;
	res->dev = lo;
	res->nexthop = daddr;
	res->src = spec_dst(h, dev, saddr, daddr, type);
	res->mtu = clamp_mtu(lo ? lo->mtu : 65536);
	return 0;
}

/* A host without sockets has joined one group, on every interface that is
 * up: 224.0.0.1, all hosts. */
bool uxt_host_mc_joined(const struct uxt_host *h, const struct uxt_iface *dev,
			uint32_t group)
{
	(void)h;
	return dev->up && ntohl(group) == ALL_HOSTS_GROUP;
}

/* ip_route_input_mc() */
static int input_multicast(const struct uxt_host *h,
			   const struct uxt_iface *dev, uint32_t saddr,
			   uint32_t daddr, struct uxt_route_result *res,
			   const char **reason)
{
	int err;

	if (!uxt_host_mc_joined(h, dev, daddr))
		return input_drop(res, reason, EINVAL,
				  "multicast group not joined");
	/* ip_mc_validate_source() */
	if (is_multicast(saddr) || is_lbcast(saddr))
		return input_drop(res, reason, EINVAL,
				  "martian source: multicast or broadcast address");
	if (is_loopback_addr(saddr))
		return input_drop(res, reason, EINVAL,
				  "martian source: loopback address");
	if (is_zero(saddr)) {
		/* IGMP may come from 0.0.0.0 to any group; this model has no
		 * protocol and 224.0.0.1 is link-local anyway */
		if (!is_local_multicast(daddr))
			return input_drop(res, reason, EINVAL,
					  "martian source: 0.0.0.0");
	} else {
		err = validate_source(h, saddr, 0, dev);
		if (err < 0)
			return input_drop(res, reason, EINVAL,
					  martian_source_reason(err));
	}
	return input_deliver(h, dev, saddr, daddr, UXT_RTN_MULTICAST, res);
}

int uxt_host_route_input(const struct uxt_host *h, const struct uxt_iface *dev,
			 uint32_t saddr, uint32_t daddr,
			 struct uxt_route_result *res, const char **reason)
{
	struct fib_entry e;
	int err;

	memset(res, 0, sizeof(*res));
	*reason = NULL;
	if (!dev)
		return input_drop(res, reason, ENODEV, "no input interface");
	if (is_multicast(daddr))
		return input_multicast(h, dev, saddr, daddr, res, reason);
	if (is_multicast(saddr) || is_lbcast(saddr))
		return input_drop(res, reason, EINVAL,
				  "martian source: multicast or broadcast address");
	if (is_lbcast(daddr) || (is_zero(saddr) && is_zero(daddr)))
		goto brd_input;
	if (is_zero(saddr))
		return input_drop(res, reason, EINVAL, "martian source: 0.0.0.0");
	if (is_zero(daddr))
		return input_drop(res, reason, EINVAL,
				  "martian destination: 0.0.0.0");
	/* route_localnet is 0: 127/8 never crosses an interface, lo included
	 * (looped-back datagrams keep the route they were sent with) */
	if (is_loopback_addr(daddr))
		return input_drop(res, reason, EINVAL,
				  "martian destination: loopback address");
	if (is_loopback_addr(saddr))
		return input_drop(res, reason, EINVAL,
				  "martian source: loopback address");

	err = fib_lookup(h, daddr, 0, &e);
	if (err) {
		if (!h->forwarding)
			goto not_forwarding;
		/* no_route: an unreachable input route carrying the error */
		res->type = err == -ENETUNREACH ? UXT_RTN_NONE :
						  (enum uxt_route_type)e.type;
		res->error = -err;
		res->src = spec_dst(h, dev, saddr, daddr, res->type);
		*reason = reject_reason(res->type);
		return 0;
	}
	if (e.type == UXT_RTN_BROADCAST)
		goto brd_input;
	if (e.type == UXT_RTN_LOCAL) {
		err = validate_source(h, saddr, 0, dev);
		if (err < 0)
			return input_drop(res, reason, EINVAL,
					  martian_source_reason(err));
		return input_deliver(h, dev, saddr, daddr, UXT_RTN_LOCAL, res);
	}
	if (!h->forwarding)
		goto not_forwarding;
	if (e.type != UXT_RTN_UNICAST)
		return input_drop(res, reason, EINVAL,
				  "martian destination: not a unicast route");
	/* __mkroute_input() */
	err = validate_source(h, saddr, e.dev->index, dev);
	if (err < 0)
		return input_drop(res, reason, EINVAL,
				  martian_source_reason(err));
	res->redirect = e.dev == dev && err > 0 && dev->send_redirects &&
			(dev->shared_media || addr_onlink(dev, saddr, e.gw));
	res->type = UXT_RTN_UNICAST;
	res->dev = e.dev;
	res->nexthop = e.gw ? e.gw : daddr;
	res->src = spec_dst(h, dev, saddr, daddr, UXT_RTN_UNICAST);
	res->mtu = clamp_mtu(e.mtu ? e.mtu : e.dev->mtu);
	return 0;

brd_input:
	if (!is_zero(saddr)) {
		err = validate_source(h, saddr, 0, dev);
		if (err < 0)
			return input_drop(res, reason, EINVAL,
					  martian_source_reason(err));
	}
	return input_deliver(h, dev, saddr, daddr, UXT_RTN_BROADCAST, res);

not_forwarding:
	/* ip_error() drops it without a word: no ICMP when not a router */
	return input_drop(res, reason, EHOSTUNREACH,
			  "not for this host and forwarding is disabled");
}

/* Output routing */

static int output_fail(struct uxt_route_result *res, const char **reason,
		       int error, const char *why)
{
	res->error = error;
	*reason = why;
	return -1;
}

static int route_output(const struct uxt_host *h, uint32_t saddr,
			uint32_t daddr, const struct uxt_iface *oif,
			bool any_src, struct uxt_route_result *res,
			const char **reason)
{
	const struct uxt_iface *dev_out = NULL;
	struct fib_entry e = {0};
	bool have_entry = false;
	unsigned int type = UXT_RTN_UNICAST;
	uint32_t gw = 0, mtu = 0;
	int err;

	memset(res, 0, sizeof(*res));
	*reason = NULL;
	if (saddr) {
		if (is_multicast(saddr) || is_lbcast(saddr))
			return output_fail(res, reason, EINVAL,
					   "invalid source address");
		if (!oif && (is_multicast(daddr) || is_lbcast(daddr))) {
			/* multicast and limited broadcast leave through the
			 * device of the bound address */
			dev_out = local_addr_dev(h, saddr);
			if (!dev_out)
				return output_fail(res, reason, ENETUNREACH,
						   "source address is not local");
			goto make_route;
		}
		if (!any_src && !local_addr_dev(h, saddr))
			return output_fail(res, reason, ENETUNREACH,
					   "source address is not local");
	}
	if (oif) {
		dev_out = oif;
		if (!oif->up)
			return output_fail(res, reason, ENETUNREACH,
					   "output interface is down");
		if (is_local_multicast(daddr) || is_lbcast(daddr)) {
			if (!saddr)
				saddr = select_addr(h, oif, 0, UXT_SCOPE_LINK);
			goto make_route;
		}
		if (!saddr) {
			if (is_multicast(daddr))
				saddr = select_addr(h, oif, 0, UXT_SCOPE_UNIVERSE);
			else if (is_zero(daddr))
				saddr = select_addr(h, oif, 0, UXT_SCOPE_HOST);
		}
	}
	if (is_zero(daddr)) {
		/* to "nowhere": the host itself */
		daddr = saddr;
		if (!daddr)
			daddr = saddr = htonl(LOOPBACK_ADDR);
		dev_out = uxt_host_loopback(h);
		type = UXT_RTN_LOCAL;
		goto make_route;
	}

	err = fib_lookup(h, daddr, oif ? oif->index : 0, &e);
	if (err) {
		if (oif) {
			/* bound to a device: the destination is taken to be
			 * on its link whatever the tables say */
			if (!saddr)
				saddr = select_addr(h, oif, 0, UXT_SCOPE_LINK);
			goto make_route;
		}
		if (err != -ENETUNREACH)
			res->type = (enum uxt_route_type)e.type;
		return output_fail(res, reason, -err,
				   reject_reason(err == -ENETUNREACH ? 0 : e.type));
	}
	have_entry = true;
	type = e.type;
	if (e.type == UXT_RTN_LOCAL) {
		if (!saddr)
			saddr = e.prefsrc ? e.prefsrc : daddr;
		dev_out = uxt_host_loopback(h);
		goto make_route;
	}
	/* fib_select_path(); several default routes of the same metric are
	 * chosen among by the state of their gateways' neighbour entries,
	 * which with none known keeps the first */
	if (!saddr)
		saddr = entry_prefsrc(h, &e);
	dev_out = e.dev;

make_route:
	/* __mkroute_output() */
	if (!dev_out)
		return output_fail(res, reason, ENODEV,
				   "the host has no loopback interface");
	if (is_loopback_addr(saddr) && !dev_out->loopback)
		return output_fail(res, reason, EINVAL,
				   "loopback source address on a non-loopback "
				   "interface");
	if (have_entry) {
		gw = e.gw;
		mtu = e.mtu;
	}
	if (is_lbcast(daddr)) {
		type = UXT_RTN_BROADCAST;
		gw = 0;
	} else if (is_multicast(daddr)) {
		type = UXT_RTN_MULTICAST;
		/* a default route carries multicast, without its gateway */
		if (have_entry && e.plen < 4)
			gw = mtu = 0;
	}
	res->type = (enum uxt_route_type)type;
	res->dev = dev_out;
	res->nexthop = gw ? gw : daddr;
	res->src = saddr;
	res->mtu = clamp_mtu(mtu ? mtu : dev_out->mtu);
	return 0;
}

int uxt_host_route_output_src(const struct uxt_host *h, uint32_t saddr,
			      uint32_t daddr, const struct uxt_iface *oif,
			      struct uxt_route_result *res, const char **reason)
{
	return route_output(h, saddr, daddr, oif, false, res, reason);
}

int uxt_host_route_output_anysrc(const struct uxt_host *h, uint32_t saddr,
				 uint32_t daddr, const struct uxt_iface *oif,
				 struct uxt_route_result *res,
				 const char **reason)
{
	return route_output(h, saddr, daddr, oif, true, res, reason);
}

int uxt_host_route_output(const struct uxt_host *h, uint32_t daddr,
			  const struct uxt_iface *oif,
			  struct uxt_route_result *res, const char **reason)
{
	return uxt_host_route_output_src(h, 0, daddr, oif, res, reason);
}

/* The file format (docs/host.md) */

/*
 * fib_check_nh(): the device a gateway is reached through, by a lookup
 * of link scope at least (a connected route or a local address), through
 * dev when given.  Routes through down devices count, so that a host
 * whose interface is down can still be described.  Of the main table, the
 * routes before upto and those marked in also are taken: what a reader of
 * the file has parsed by then.
 */
static const struct uxt_iface *gateway_dev(const struct uxt_host *h,
					   uint32_t gw,
					   const struct uxt_iface *dev,
					   unsigned int upto, const bool *also)
{
	struct fib_query q = {
		.daddr = ntohl(gw),
		.oif = dev ? dev->index : 0,
		.min_scope = UXT_SCOPE_LINK,
		.ignore_dead = true,
		.upto = upto,
		.also = also,
	};
	struct fib_entry e;

	if (fib_run(h, &q, &e) ||
	    (e.type != UXT_RTN_UNICAST && e.type != UXT_RTN_LOCAL))
		return NULL;
	return e.dev;
}


static const char *scope_name(unsigned int scope, char *buf, size_t len)
{
	switch (scope) {
	case UXT_SCOPE_UNIVERSE:
		return "global";
	case UXT_SCOPE_SITE:
		return "site";
	case UXT_SCOPE_LINK:
		return "link";
	case UXT_SCOPE_HOST:
		return "host";
	case UXT_SCOPE_NOWHERE:
		return "nowhere";
	}
	snprintf(buf, len, "%u", scope);
	return buf;
}

static const char *hwtype_name(unsigned int type, char *buf, size_t len)
{
	switch (type) {
	case UXT_ARPHRD_ETHER:
		return "ether";
	case UXT_ARPHRD_LOOPBACK:
		return "loopback";
	case UXT_ARPHRD_NONE:
		return "none";
	}
	snprintf(buf, len, "%u", type);
	return buf;
}

/* The scope an address gets when the file names none: iproute2's
 * default, host for 127/8. */
static uint8_t default_addr_scope(uint32_t addr)
{
	return is_loopback_addr(addr) ? UXT_SCOPE_HOST : UXT_SCOPE_UNIVERSE;
}

/* The scope a route gets when the file names none: iproute2's default. */
static uint8_t default_route_scope(const struct uxt_route *r)
{
	return r->type == UXT_RTN_UNICAST && !r->gateway ? UXT_SCOPE_LINK :
							   UXT_SCOPE_UNIVERSE;
}

/* The main-table route an address adds for its subnet. */
static struct uxt_route subnet_route(const struct uxt_iface *dev,
				     const struct uxt_ifaddr *a)
{
	struct uxt_route r = {
		.dst = htonl(ntohl(a->addr) & prefix_mask(a->prefixlen)),
		.dst_len = a->prefixlen,
		.type = UXT_RTN_UNICAST,
		.oif = dev->index,
		.prefsrc = a->addr,
		.scope = UXT_SCOPE_LINK,
	};

	return r;
}

/* Loopback devices keep their subnet in the local table. */
static bool adds_main_subnet_route(const struct uxt_iface *dev,
				   const struct uxt_ifaddr *a)
{
	return !dev->loopback && has_subnet_route(a);
}

static bool route_equal(const struct uxt_route *a, const struct uxt_route *b)
{
	return a->dst == b->dst && a->dst_len == b->dst_len &&
	       a->type == b->type && a->gateway == b->gateway &&
	       a->oif == b->oif && a->prefsrc == b->prefsrc &&
	       a->metric == b->metric && a->scope == b->scope &&
	       a->mtu == b->mtu;
}

static void format_prefix(struct uxt_buf *out, uint32_t dst, unsigned int len)
{
	if (len == 0 && dst == 0) {
		uxt_buf_puts(out, "default");
		return;
	}
	uxt_buf_ipv4(out, dst);
	uxt_buf_printf(out, "/%u", len);
}

void uxt_host_format(const struct uxt_host *h, struct uxt_buf *out)
{
	bool *implied = calloc(h->nroutes ? h->nroutes : 1, sizeof(*implied));
	char tmp[16];

	uxt_buf_puts(out, "# uxtables host model (docs/host.md)\n");
	uxt_buf_printf(out, "forwarding %s\n", h->forwarding ? "on" : "off");
	if (memcmp(&h->icmp, &uxt_icmp_default_settings, sizeof(h->icmp)) != 0)
		uxt_buf_printf(out, "icmp ratelimit %u ratemask %u msgs_per_sec %u "
			       "msgs_burst %u\n", h->icmp.ratelimit_ms,
			       h->icmp.ratemask, h->icmp.msgs_per_sec,
			       h->icmp.msgs_burst);
	for (unsigned int i = 0; i < h->nifaces; i++) {
		const struct uxt_iface *d = &h->ifaces[i];

		uxt_buf_printf(out, "iface %s index %d type %s", d->name,
			       d->index, hwtype_name(d->type, tmp, sizeof(tmp)));
		if (d->mac_len) {
			uxt_buf_puts(out, " mac ");
			for (unsigned int k = 0; k < d->mac_len; k++)
				uxt_buf_printf(out, "%s%02x", k ? ":" : "",
					       d->mac[k]);
		}
		uxt_buf_printf(out, " mtu %u %s", d->mtu, d->up ? "up" : "down");
		if (d->rp_filter)
			uxt_buf_printf(out, " rp_filter %u", d->rp_filter);
		if (!d->send_redirects)
			uxt_buf_puts(out, " send_redirects 0");
		if (!d->shared_media)
			uxt_buf_puts(out, " shared_media 0");
		if (d->accept_source_route)
			uxt_buf_puts(out, " accept_source_route 1");
		uxt_buf_putc(out, '\n');
		for (unsigned int j = 0; j < d->naddrs; j++) {
			const struct uxt_ifaddr *a = &d->addrs[j];
			bool found = false;

			uxt_buf_puts(out, "\taddr ");
			uxt_buf_ipv4(out, a->addr);
			uxt_buf_printf(out, "/%u", a->prefixlen);
			if (a->broadcast) {
				uxt_buf_puts(out, " brd ");
				uxt_buf_ipv4(out, a->broadcast);
			}
			if (a->scope != default_addr_scope(a->addr))
				uxt_buf_printf(out, " scope %s",
					       scope_name(a->scope, tmp,
							  sizeof(tmp)));
			if (a->secondary)
				uxt_buf_puts(out, " secondary");
			if (adds_main_subnet_route(d, a)) {
				struct uxt_route want = subnet_route(d, a);

				for (unsigned int k = 0; k < h->nroutes && !found; k++)
					if (implied && !implied[k] &&
					    route_equal(&h->routes[k], &want))
						found = implied[k] = true;
				/* a down device has lost its subnet route, as
				 * in the kernel: nothing to say then */
				if (!found && d->up)
					uxt_buf_puts(out, " noprefixroute");
			}
			uxt_buf_putc(out, '\n');
		}
	}
	for (unsigned int i = 0; i < h->nroutes; i++) {
		const struct uxt_route *r = &h->routes[i];
		const struct uxt_iface *d = NULL;

		if (implied && implied[i])
			continue;
		if (r->type == UXT_RTN_UNICAST) {
			d = uxt_host_iface_by_index(h, r->oif);
			if (!d) {
				uxt_buf_printf(out, "# a route through the "
					       "missing interface %d is left "
					       "out\n", r->oif);
				continue;
			}
		}
		uxt_buf_puts(out, "route ");
		if (r->type != UXT_RTN_UNICAST)
			uxt_buf_printf(out, "%s ",
				       uxt_route_type_name(r->type));
		format_prefix(out, r->dst, r->dst_len);
		if (r->gateway) {
			uxt_buf_puts(out, " via ");
			uxt_buf_ipv4(out, r->gateway);
		}
		if (d)
			uxt_buf_printf(out, " dev %s", d->name);
		/* a gateway no subnet of the device covers (ip route ...
		 * onlink), or one only a later route covers: the kernel
		 * checked it when the route was added, in an order the
		 * dump does not keep */
		if (d && r->gateway &&
		    gateway_dev(h, r->gateway, d, i, implied) != d)
			uxt_buf_puts(out, " onlink");
		if (r->prefsrc) {
			uxt_buf_puts(out, " src ");
			uxt_buf_ipv4(out, r->prefsrc);
		}
		if (r->metric)
			uxt_buf_printf(out, " metric %u", r->metric);
		if (r->scope != default_route_scope(r))
			uxt_buf_printf(out, " scope %s",
				       scope_name(r->scope, tmp, sizeof(tmp)));
		if (r->mtu)
			uxt_buf_printf(out, " mtu %u", r->mtu);
		uxt_buf_putc(out, '\n');
	}
	free(implied);
}

/* Parsing */

#define MAX_LINE 4096
#define MAX_WORDS 64
#define MAX_FILE (16u << 20)

struct parser {
	struct uxt_host *h;
	const char *name;
	unsigned int line;
	struct uxt_err *err;
	struct uxt_iface *iface;	/* the one addr lines belong to */
	char *words[MAX_WORDS];
	unsigned int nwords;
};

static int perr(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int perr(struct parser *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return uxt_error_bare(p->err, UXT_PARAMETER_PROBLEM, "%s:%u: %s",
			      p->name, p->line, msg);
}

static int parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_addr(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = a.s_addr;
	return 0;
}

/* A.B.C.D[/LEN] or "default"; len is 32 without /LEN. */
static int parse_prefix(const char *s, uint32_t *addr, unsigned int *len)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	uint32_t l = 32;

	if (strcmp(s, "default") == 0) {
		*addr = 0;
		*len = 0;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if (slash) {
		buf[slash - s] = '\0';
		if (parse_u32(slash + 1, &l) || l > 32)
			return -1;
	}
	if (parse_addr(buf, addr))
		return -1;
	*len = l;
	return 0;
}

static int parse_scope(const char *s, uint8_t *out)
{
	static const struct {
		const char *name;
		uint8_t scope;
	} names[] = {
		{"global", UXT_SCOPE_UNIVERSE}, {"universe", UXT_SCOPE_UNIVERSE},
		{"site", UXT_SCOPE_SITE},	{"link", UXT_SCOPE_LINK},
		{"host", UXT_SCOPE_HOST},	{"nowhere", UXT_SCOPE_NOWHERE},
	};
	uint32_t v;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].scope;
			return 0;
		}
	if (parse_u32(s, &v) || v > 255)
		return -1;
	*out = (uint8_t)v;
	return 0;
}

static int parse_mac(const char *s, struct uxt_iface *d)
{
	unsigned int n = 0;

	while (*s) {
		char *end;
		unsigned long v;

		if (n == sizeof(d->mac) || !((s[0] >= '0' && s[0] <= '9') ||
					     (s[0] >= 'a' && s[0] <= 'f') ||
					     (s[0] >= 'A' && s[0] <= 'F')))
			return -1;
		v = strtoul(s, &end, 16);
		if (end - s > 2 || v > 0xFF)
			return -1;
		d->mac[n++] = (unsigned char)v;
		s = end;
		if (*s == ':' && s[1])
			s++;
		else if (*s)
			return -1;
	}
	if (!n)
		return -1;
	d->mac_len = (uint8_t)n;
	return 0;
}

/* dev_valid_name() */
static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAME_SIZE || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ' ' ||
		    (*s >= '\t' && *s <= '\r'))
			return false;
	return true;
}

/* The value after words[*i], which names what is missing. */
static const char *next_word(struct parser *p, unsigned int *i)
{
	if (*i + 1 >= p->nwords) {
		perr(p, "'%s' needs a value", p->words[*i]);
		return NULL;
	}
	return p->words[++*i];
}

static int parse_forwarding(struct parser *p)
{
	const char *v;

	if (p->nwords != 2)
		return perr(p, "usage: forwarding on|off");
	v = p->words[1];
	if (strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
		p->h->forwarding = true;
	else if (strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
		p->h->forwarding = false;
	else
		return perr(p, "forwarding is 'on' or 'off', not '%s'", v);
	return 0;
}

static int parse_icmp(struct parser *p)
{
	static const struct {
		const char *name;
		size_t off;
	} keys[] = {
		{"ratelimit", offsetof(struct uxt_icmp_settings, ratelimit_ms)},
		{"ratemask", offsetof(struct uxt_icmp_settings, ratemask)},
		{"msgs_per_sec", offsetof(struct uxt_icmp_settings, msgs_per_sec)},
		{"msgs_burst", offsetof(struct uxt_icmp_settings, msgs_burst)},
	};

	if (p->nwords < 3)
		return perr(p, "usage: icmp [ratelimit MS] [ratemask N] "
			       "[msgs_per_sec N] [msgs_burst N]");
	for (unsigned int i = 1; i < p->nwords; i++) {
		const char *v;
		unsigned long n;
		char *end;
		size_t k;

		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (strcmp(p->words[i], keys[k].name) == 0)
				break;
		if (k == sizeof(keys) / sizeof(keys[0]))
			return perr(p, "unknown icmp setting '%.40s' (ratelimit, "
				       "ratemask, msgs_per_sec or msgs_burst)",
				       p->words[i]);
		v = next_word(p, &i);
		if (!v)
			return -1;
		errno = 0;
		n = strtoul(v, &end, 0);
		/* the sysctls are ints that refuse negative values */
		if (errno || end == v || *end || *v == '-' || n > INT32_MAX)
			return perr(p, "icmp %s: '%.40s' is not a number from 0 "
				       "to 2147483647", keys[k].name, v);
		*(uint32_t *)((char *)&p->h->icmp + keys[k].off) = (uint32_t)n;
	}
	return 0;
}

static int parse_iface(struct parser *p)
{
	struct uxt_host *h = p->h;
	struct uxt_iface *d;
	const char *name, *v;
	uint32_t index = 0, n;
	int max_index = 0;
	bool have_mac = false, have_mtu = false;

	if (p->nwords < 2)
		return perr(p, "usage: iface NAME [index N] [type T] [mac M] "
			       "[mtu N] [up|down] [rp_filter N] "
			       "[send_redirects 0|1] [shared_media 0|1] "
			       "[accept_source_route 0|1]");
	name = p->words[1];
	if (!valid_ifname(name))
		return perr(p, "'%s' is not a valid interface name", name);
	if (uxt_host_iface_by_name(h, name))
		return perr(p, "interface %s is described twice", name);
	if (h->nifaces >= UXT_HOST_MAX_IFACES)
		return perr(p, "more than %d interfaces", UXT_HOST_MAX_IFACES);
	for (unsigned int i = 0; i < h->nifaces; i++)
		if (h->ifaces[i].index > max_index)
			max_index = h->ifaces[i].index;
	if (max_index == INT_MAX)
		max_index = -1;		/* no default index left */
	d = uxt_host_add_iface(h, name, 0);
	if (!d)
		return perr(p, "out of memory");
	p->iface = d;
	d->up = true;
	for (unsigned int i = 2; i < p->nwords; i++) {
		const char *w = p->words[i];

		if (strcmp(w, "up") == 0) {
			d->up = true;
		} else if (strcmp(w, "down") == 0) {
			d->up = false;
		} else if (strcmp(w, "index") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_u32(v, &index) || index == 0 || index > INT_MAX)
				return perr(p, "bad interface index '%s'", v);
			if (uxt_host_iface_by_index(h, (int)index))
				return perr(p, "interface index %u is already "
					       "taken", index);
		} else if (strcmp(w, "type") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (strcmp(v, "ether") == 0)
				d->type = UXT_ARPHRD_ETHER;
			else if (strcmp(v, "loopback") == 0)
				d->type = UXT_ARPHRD_LOOPBACK;
			else if (strcmp(v, "none") == 0)
				d->type = UXT_ARPHRD_NONE;
			else if (parse_u32(v, &n) == 0 && n <= 0xFFFF)
				d->type = (uint16_t)n;
			else
				return perr(p, "unknown interface type '%s' "
					       "(ether, loopback, none or a "
					       "number)", v);
		} else if (strcmp(w, "mac") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_mac(v, d))
				return perr(p, "bad mac address '%s'", v);
			have_mac = true;
		} else if (strcmp(w, "mtu") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_u32(v, &d->mtu))
				return perr(p, "bad mtu '%s'", v);
			have_mtu = true;
		} else if (strcmp(w, "rp_filter") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_u32(v, &n) || n > 2)
				return perr(p, "rp_filter is 0, 1 or 2, not '%s'",
					    v);
			d->rp_filter = (uint8_t)n;
		} else if (strcmp(w, "send_redirects") == 0 ||
			   strcmp(w, "shared_media") == 0) {
			const char *opt = w;

			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_u32(v, &n) || n > 1)
				return perr(p, "%s is 0 or 1, not '%s'", opt, v);
			if (opt[1] == 'e')
				d->send_redirects = n;
			else
				d->shared_media = n;
		} else if (strcmp(w, "accept_source_route") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_u32(v, &n) || n > 1)
				return perr(p, "accept_source_route is 0 or 1, "
					       "not '%s'", v);
			d->accept_source_route = n == 1;
		} else {
			return perr(p, "unknown interface option '%s'", w);
		}
	}
	d->index = index ? (int)index : max_index + 1;
	if (d->index <= 0 || uxt_host_iface_by_index(h, d->index) != d)
		return perr(p, "no free interface index; give one");
	d->loopback = d->type == UXT_ARPHRD_LOOPBACK;
	if (!have_mtu)
		d->mtu = d->loopback ? 65536 : 1500;
	if (!have_mac && d->type == UXT_ARPHRD_ETHER) {
		/* a locally administered address made from the index */
		d->mac_len = 6;
		d->mac[0] = 0x02;
		d->mac[4] = (unsigned char)(d->index >> 8);
		d->mac[5] = (unsigned char)d->index;
	} else if (!have_mac && d->loopback) {
		d->mac_len = 6;
	}
	return 0;
}

static int add_unique_route(struct parser *p, const struct uxt_route *r,
			    const char *dup_msg)
{
	for (unsigned int i = 0; i < p->h->nroutes; i++)
		if (route_equal(&p->h->routes[i], r))
			return perr(p, "%s", dup_msg);
	if (uxt_host_add_route(p->h, r))
		return perr(p, "out of memory");
	return 0;
}

/*
 * __inet_insert_ifa()'s order: a primary address goes after the last
 * primary address of the same or a wider scope value (so host, then
 * link, then global ones), a secondary one at the end.  The order decides
 * source selection and what REDIRECT takes as the primary address; the
 * printer writes the kernel's order, which this reproduces.
 */
static void insert_addr(struct uxt_iface *d, const struct uxt_ifaddr *a)
{
	unsigned int pos = d->naddrs;

	if (!a->secondary) {
		pos = 0;
		for (unsigned int i = 0; i < d->naddrs; i++)
			if (!d->addrs[i].secondary && a->scope <= d->addrs[i].scope)
				pos = i + 1;
	}
	memmove(&d->addrs[pos + 1], &d->addrs[pos],
		(d->naddrs - pos) * sizeof(*a));
	d->addrs[pos] = *a;
	d->naddrs++;
}

static int parse_addr_line(struct parser *p)
{
	struct uxt_iface *d = p->iface;
	struct uxt_ifaddr a = {0};
	const char *v;
	unsigned int len;
	bool said_secondary = false, noprefixroute = false, have_scope = false;

	if (!d)
		return perr(p, "an addr line must follow the iface line of its "
			       "interface");
	if (p->nwords < 2)
		return perr(p, "usage: addr A.B.C.D[/LEN] [brd B|+] [scope S] "
			       "[secondary] [noprefixroute]");
	if (parse_prefix(p->words[1], &a.addr, &len) ||
	    strcmp(p->words[1], "default") == 0)
		return perr(p, "bad address '%s'", p->words[1]);
	a.prefixlen = (uint8_t)len;
	if (is_zero(a.addr) || is_multicast(a.addr) || is_lbcast(a.addr))
		return perr(p, "%s cannot be an interface address", p->words[1]);
	for (unsigned int i = 2; i < p->nwords; i++) {
		const char *w = p->words[i];

		if (strcmp(w, "brd") == 0 || strcmp(w, "broadcast") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (strcmp(v, "+") == 0)
				a.broadcast = htonl(ntohl(a.addr) |
						    ~prefix_mask(len));
			else if (parse_addr(v, &a.broadcast))
				return perr(p, "bad broadcast address '%s'", v);
		} else if (strcmp(w, "scope") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_scope(v, &a.scope))
				return perr(p, "bad scope '%s'", v);
			have_scope = true;
		} else if (strcmp(w, "secondary") == 0) {
			said_secondary = true;
		} else if (strcmp(w, "noprefixroute") == 0) {
			noprefixroute = true;
		} else {
			return perr(p, "unknown address option '%s'", w);
		}
	}
	if (!have_scope)
		a.scope = default_addr_scope(a.addr);
	/* __inet_insert_ifa(): a later address of a subnet is secondary */
	for (unsigned int i = 0; i < d->naddrs; i++) {
		const struct uxt_ifaddr *o = &d->addrs[i];

		if (o->addr == a.addr)
			return perr(p, "%s is already an address of %s",
				    p->words[1], d->name);
		if (o->prefixlen == a.prefixlen && in_subnet(a.addr, o)) {
			if (o->scope != a.scope)
				return perr(p, "%s has another scope than the "
					       "primary address of its subnet",
					    p->words[1]);
			a.secondary = true;
		}
	}
	if (said_secondary && !a.secondary)
		return perr(p, "%s is the first address of its subnet on %s, "
			       "so it is primary, not secondary",
			    p->words[1], d->name);
	if (d->naddrs >= UXT_HOST_MAX_ADDRS)
		return perr(p, "more than %d addresses on %s", UXT_HOST_MAX_ADDRS,
			    d->name);
	insert_addr(d, &a);
	if (!noprefixroute && adds_main_subnet_route(d, &a)) {
		struct uxt_route r = subnet_route(d, &a);

		return add_unique_route(p, &r, "this address's subnet route "
					"is already there");
	}
	return 0;
}

static int parse_route(struct parser *p)
{
	struct uxt_host *h = p->h;
	struct uxt_route r = {.type = UXT_RTN_UNICAST};
	const struct uxt_iface *dev = NULL;
	unsigned int i = 1, len;
	const char *v, *src_word = NULL;
	bool have_scope = false, onlink = false;

	if (p->nwords < 2)
		return perr(p, "usage: route [unicast|blackhole|unreachable|"
			       "prohibit] PREFIX [via GW] [dev DEV] [onlink] "
			       "[src ADDR] [metric N] [scope S] [mtu N]");
	if (strcmp(p->words[1], "unicast") == 0) {
		i++;
	} else if (strcmp(p->words[1], "blackhole") == 0) {
		r.type = UXT_RTN_BLACKHOLE;
		i++;
	} else if (strcmp(p->words[1], "unreachable") == 0) {
		r.type = UXT_RTN_UNREACHABLE;
		i++;
	} else if (strcmp(p->words[1], "prohibit") == 0) {
		r.type = UXT_RTN_PROHIBIT;
		i++;
	} else if (strcmp(p->words[1], "local") == 0 ||
		   strcmp(p->words[1], "broadcast") == 0 ||
		   strcmp(p->words[1], "multicast") == 0 ||
		   strcmp(p->words[1], "throw") == 0 ||
		   strcmp(p->words[1], "nat") == 0 ||
		   strcmp(p->words[1], "anycast") == 0) {
		return perr(p, "routes of type %s are not modelled (unicast, "
			       "blackhole, unreachable, prohibit)", p->words[1]);
	}
	if (i >= p->nwords)
		return perr(p, "the route needs a destination prefix");
	if (parse_prefix(p->words[i], &r.dst, &len))
		return perr(p, "bad destination prefix '%s'", p->words[i]);
	r.dst_len = (uint8_t)len;
	if (ntohl(r.dst) & ~prefix_mask(len))
		return perr(p, "%s has bits set beyond its prefix length",
			    p->words[i]);
	for (i++; i < p->nwords; i++) {
		const char *w = p->words[i];

		if (strcmp(w, "via") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_addr(v, &r.gateway) || is_zero(r.gateway))
				return perr(p, "bad gateway '%s'", v);
		} else if (strcmp(w, "dev") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			dev = uxt_host_iface_by_name(h, v);
			if (!dev)
				return perr(p, "no interface %s (describe it with "
					       "an iface line before its routes)",
					    v);
		} else if (strcmp(w, "src") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_addr(v, &r.prefsrc) || is_zero(r.prefsrc))
				return perr(p, "bad source address '%s'", v);
			src_word = v;
		} else if (strcmp(w, "metric") == 0 ||
			   strcmp(w, "preference") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_u32(v, &r.metric))
				return perr(p, "bad metric '%s'", v);
		} else if (strcmp(w, "scope") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_scope(v, &r.scope))
				return perr(p, "bad scope '%s'", v);
			have_scope = true;
		} else if (strcmp(w, "mtu") == 0) {
			if (!(v = next_word(p, &i)))
				return -1;
			if (parse_u32(v, &r.mtu) || r.mtu == 0)
				return perr(p, "bad mtu '%s'", v);
		} else if (strcmp(w, "onlink") == 0) {
			onlink = true;
		} else {
			return perr(p, "unknown route option '%s'", w);
		}
	}
	if (r.type != UXT_RTN_UNICAST) {
		if (r.gateway || dev || r.prefsrc)
			return perr(p, "a %s route takes no via, dev or src",
				    uxt_route_type_name(r.type));
	} else {
		if (!r.gateway && !dev)
			return perr(p, "a unicast route needs via GATEWAY or "
				       "dev DEVICE");
		if (onlink && (!dev || !r.gateway))
			return perr(p, "onlink needs via GATEWAY and dev DEVICE");
		if (r.gateway && !onlink) {
			const struct uxt_iface *gdev =
				gateway_dev(h, r.gateway, dev, UINT_MAX, NULL);

			if (!gdev) {
				char gw[INET_ADDRSTRLEN];

				inet_ntop(AF_INET, &r.gateway, gw, sizeof(gw));
				return dev ? perr(p, "gateway %s is not on a "
						  "subnet of %s", gw, dev->name) :
					     perr(p, "gateway %s is not on a "
						  "subnet of any interface", gw);
			}
			if (!dev)
				dev = gdev;
		}
		r.oif = dev->index;
	}
	if (r.prefsrc && !ifaddr_owner(h, r.prefsrc) &&
	    !uxt_host_is_local(h, r.prefsrc))
		return perr(p, "src %s is not an address of this host",
			    src_word);
	if (!have_scope)
		r.scope = default_route_scope(&r);
	return add_unique_route(p, &r, "the same route is already there (an "
				"address adds its subnet's route itself; drop "
				"this line or give the address noprefixroute)");
}

/* Splits a line into words.  A word starting with # starts a comment
 * (only there: interface names may contain #). */
static int split_line(struct parser *p, char *line)
{
	char *s = line;

	p->nwords = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		if (!*s || *s == '#')
			return 0;
		if (p->nwords == MAX_WORDS)
			return perr(p, "more than %d words on a line", MAX_WORDS);
		p->words[p->nwords++] = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\r')
			s++;
		if (*s)
			*s++ = '\0';
	}
}

static int parse_line(struct parser *p, char *line)
{
	const char *kw;

	if (split_line(p, line))
		return -1;
	if (!p->nwords)
		return 0;
	kw = p->words[0];
	if (strcmp(kw, "forwarding") == 0)
		return parse_forwarding(p);
	if (strcmp(kw, "iface") == 0)
		return parse_iface(p);
	if (strcmp(kw, "addr") == 0)
		return parse_addr_line(p);
	if (strcmp(kw, "route") == 0)
		return parse_route(p);
	if (strcmp(kw, "icmp") == 0)
		return parse_icmp(p);
	return perr(p, "unknown keyword '%.40s' (forwarding, iface, addr, "
		       "route or icmp)", kw);
}

/* Every Linux host has lo; a file may leave it out. */
static int add_default_loopback(struct parser *p)
{
	struct uxt_host *h = p->h;
	struct uxt_iface *lo;
	int index = 1;

	if (uxt_host_loopback(h))
		return 0;
	if (uxt_host_iface_by_name(h, "lo"))
		return uxt_error_bare(p->err, UXT_PARAMETER_PROBLEM,
				      "%s: interface lo must be of type "
				      "loopback", p->name);
	while (uxt_host_iface_by_index(h, index))
		index++;
	lo = uxt_host_add_iface(h, "lo", index);
	if (!lo)
		return uxt_error_bare(p->err, UXT_PARAMETER_PROBLEM,
				      "%s: no room for the loopback interface",
				      p->name);
	lo->type = UXT_ARPHRD_LOOPBACK;
	lo->loopback = true;
	lo->up = true;
	lo->mtu = 65536;
	lo->mac_len = 6;
	lo->naddrs = 1;
	lo->addrs[0].addr = htonl(LOOPBACK_ADDR);
	lo->addrs[0].prefixlen = 8;
	lo->addrs[0].scope = UXT_SCOPE_HOST;
	return 0;
}

int uxt_host_parse(struct uxt_host *h, const char *text, size_t len,
		   const char *name, struct uxt_err *err)
{
	struct parser p = {.h = h, .name = name, .err = err};
	char line[MAX_LINE + 1];
	size_t pos = 0;

	uxt_host_init(h);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		p.line++;
		if (n > MAX_LINE) {
			perr(&p, "line longer than %d characters", MAX_LINE);
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (memchr(line, '\0', n)) {
			perr(&p, "a NUL byte: this is not a text file");
			goto fail;
		}
		if (parse_line(&p, line))
			goto fail;
		pos += n + (nl ? 1 : 0);
	}
	if (add_default_loopback(&p))
		goto fail;
	return 0;
fail:
	uxt_host_free(h);
	return -1;
}

int uxt_host_from_file(struct uxt_host *h, const char *path,
		       struct uxt_err *err)
{
	FILE *f = fopen(path, "re");
	char *text;
	size_t len = 0, n;
	int ret;

	uxt_host_init(h);
	if (!f)
		return uxt_error_bare(err, UXT_PARAMETER_PROBLEM,
				      "cannot open %s: %s", path,
				      strerror(errno));
	text = malloc(MAX_FILE + 1);
	if (!text) {
		fclose(f);
		return uxt_error_bare(err, UXT_RESOURCE_PROBLEM,
				      "out of memory reading %s", path);
	}
	while ((n = fread(text + len, 1, MAX_FILE + 1 - len, f)) > 0) {
		len += n;
		if (len > MAX_FILE)
			break;
	}
	if (ferror(f)) {
		ret = uxt_error_bare(err, UXT_PARAMETER_PROBLEM,
				     "cannot read %s: %s", path, strerror(errno));
	} else if (len > MAX_FILE) {
		ret = uxt_error_bare(err, UXT_PARAMETER_PROBLEM,
				     "%s: larger than %u bytes, not a host "
				     "description", path, MAX_FILE);
	} else {
		ret = uxt_host_parse(h, text, len, path, err);
	}
	free(text);
	fclose(f);
	return ret;
}
