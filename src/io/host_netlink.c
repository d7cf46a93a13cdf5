/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The host model of the calling process's network namespace, read over
 * rtnetlink with libmnl: interfaces (RTM_GETLINK), IPv4 addresses
 * (RTM_GETADDR), the IPv4 main table (RTM_GETROUTE), and from /proc the
 * forwarding switch and each interface's rp_filter.
 *
 * Everything a message says is checked before it is used: fixed headers
 * against the payload length, attributes with mnl_attr_parse() and
 * mnl_attr_validate() (which check their bounds), nested metrics with
 * mnl_attr_parse_nested(), multipath nexthops by their own lengths.
 * What the model cannot hold is left out, as docs/host.md says: routes of
 * other tables and types, TOS routes, nexthop objects, gateways of another
 * family; of a multipath route, its first nexthop.
 *
 * A dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is read
 * again from the start, a few times.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "host.h"

#define DUMP_ATTEMPTS 5
/* The kernel fills dump messages up to 32 KiB when the reader offers that
 * much (libmnl 1.0.5's DUMP_BUFFER_SIZE); a smaller buffer truncates
 * them. */
#define DUMP_BUFFER_SIZE 32768

struct reader {
	struct uxt_host *h;
	struct uxt_err *err;
	bool failed;			/* err is set */
};

static int reader_fail(struct reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Keeps the first error; returns what stops libmnl's loop. */
static int reader_fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->failed) {
		r->err->status = UXT_OTHER_PROBLEM;
		r->err->flags = UXT_ERR_BARE;
		va_start(ap, fmt);
		vsnprintf(r->err->msg, sizeof(r->err->msg), fmt, ap);
		va_end(ap);
	}
	r->failed = true;
	return MNL_CB_ERROR;
}

/* Attribute tables: one entry per type up to max, others ignored. */
struct attr_table {
	const struct nlattr **tb;
	unsigned int max;
};

static int collect_attr(const struct nlattr *attr, void *data)
{
	const struct attr_table *t = data;
	unsigned int type = mnl_attr_get_type(attr);

	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

/* An attribute of exactly 4 bytes (an address or a u32), or NULL. */
static const struct nlattr *attr_u32(const struct nlattr *a)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return NULL;
	return a;
}

static uint32_t get_be32(const struct nlattr *a)
{
	uint32_t v;

	memcpy(&v, mnl_attr_get_payload(a), sizeof(v));
	return v;
}

/* Links */

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct reader *r = data;
	const struct nlattr *tb[IFLA_MAX + 1] = {0};
	struct attr_table t = {tb, IFLA_MAX};
	const struct ifinfomsg *ifm;
	struct uxt_iface *d;
	char name[IFNAMSIZ];
	size_t len;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifm))
		return MNL_CB_OK;
	ifm = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*ifm), collect_attr, &t) < 0)
		return reader_fail(r, "the kernel sent a malformed interface message");
	if (!tb[IFLA_IFNAME] ||
	    mnl_attr_validate(tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK;
	len = strnlen(mnl_attr_get_str(tb[IFLA_IFNAME]),
		      mnl_attr_get_payload_len(tb[IFLA_IFNAME]));
	if (len == 0 || len >= sizeof(name) || ifm->ifi_index <= 0)
		return MNL_CB_OK;
	memcpy(name, mnl_attr_get_str(tb[IFLA_IFNAME]), len);
	name[len] = '\0';
	if (uxt_host_iface_by_index(r->h, ifm->ifi_index) ||
	    uxt_host_iface_by_name(r->h, name))
		return MNL_CB_OK;
	if (r->h->nifaces >= UXT_HOST_MAX_IFACES)
		return reader_fail(r, "the namespace has more interfaces than "
				      "the model holds (%d)", UXT_HOST_MAX_IFACES);
	d = uxt_host_add_iface(r->h, name, ifm->ifi_index);
	if (!d)
		return reader_fail(r, "out of memory");
	d->type = ifm->ifi_type;
	d->up = (ifm->ifi_flags & IFF_UP) != 0;
	d->loopback = (ifm->ifi_flags & IFF_LOOPBACK) != 0;
	d->mtu = 0;
	if (attr_u32(tb[IFLA_MTU]))
		d->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_ADDRESS]) {
		uint16_t alen = mnl_attr_get_payload_len(tb[IFLA_ADDRESS]);

		/* longer hardware addresses (InfiniBand) are not kept */
		if (alen <= sizeof(d->mac)) {
			memcpy(d->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]),
			       alen);
			d->mac_len = (uint8_t)alen;
		}
	}
	return MNL_CB_OK;
}

/* Addresses */

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct reader *r = data;
	const struct nlattr *tb[IFA_MAX + 1] = {0};
	struct attr_table t = {tb, IFA_MAX};
	const struct ifaddrmsg *ifa;
	struct uxt_iface *d;
	struct uxt_ifaddr a = {0};
	uint32_t flags;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return MNL_CB_OK;
	ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family != AF_INET || ifa->ifa_prefixlen > 32)
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*ifa), collect_attr, &t) < 0)
		return reader_fail(r, "the kernel sent a malformed address message");
	/* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on a
	 * point-to-point link, the same address elsewhere */
	if (attr_u32(tb[IFA_LOCAL]))
		a.addr = get_be32(tb[IFA_LOCAL]);
	else if (attr_u32(tb[IFA_ADDRESS]))
		a.addr = get_be32(tb[IFA_ADDRESS]);
	else
		return MNL_CB_OK;
	if (attr_u32(tb[IFA_BROADCAST]))
		a.broadcast = get_be32(tb[IFA_BROADCAST]);
	flags = ifa->ifa_flags;
	if (attr_u32(tb[IFA_FLAGS]))
		flags = mnl_attr_get_u32(tb[IFA_FLAGS]);
	a.prefixlen = ifa->ifa_prefixlen;
	a.secondary = (flags & IFA_F_SECONDARY) != 0;
	a.scope = ifa->ifa_scope;
	/* the model's interfaces live in one array; find ours by index */
	d = NULL;
	for (unsigned int i = 0; i < r->h->nifaces; i++)
		if (r->h->ifaces[i].index == (int)ifa->ifa_index)
			d = &r->h->ifaces[i];
	if (!d)
		return MNL_CB_OK;
	if (d->naddrs >= UXT_HOST_MAX_ADDRS)
		return reader_fail(r, "interface %s has more IPv4 addresses "
				      "than the model holds (%d)", d->name,
				   UXT_HOST_MAX_ADDRS);
	d->addrs[d->naddrs++] = a;
	return MNL_CB_OK;
}

/* Routes */

/* The first nexthop of RTA_MULTIPATH: its device and gateway. */
static bool first_nexthop(const struct nlattr *mp, int *oif, uint32_t *gw)
{
	const struct rtnexthop *nh = mnl_attr_get_payload(mp);
	uint16_t len = mnl_attr_get_payload_len(mp);
	const struct nlattr *attr;

	if (len < sizeof(*nh) || nh->rtnh_len < sizeof(*nh) ||
	    nh->rtnh_len > len)
		return false;
	*oif = nh->rtnh_ifindex;
	*gw = 0;
	/* the nexthop's own attributes follow it, within rtnh_len */
	for (attr = (const struct nlattr *)((const char *)nh + RTNH_ALIGN(sizeof(*nh)));
	     mnl_attr_ok(attr, (int)((const char *)nh + nh->rtnh_len -
				     (const char *)attr));
	     attr = mnl_attr_next(attr)) {
		if (mnl_attr_get_type(attr) == RTA_GATEWAY && attr_u32(attr))
			*gw = get_be32(attr);
		else if (mnl_attr_get_type(attr) == RTA_VIA)
			return false;
	}
	return true;
}

static int metrics_cb(const struct nlattr *attr, void *data)
{
	uint32_t *mtu = data;

	if (mnl_attr_get_type(attr) == RTAX_MTU && attr_u32(attr))
		*mtu = mnl_attr_get_u32(attr);
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct reader *r = data;
	const struct nlattr *tb[RTA_MAX + 1] = {0};
	struct attr_table t = {tb, RTA_MAX};
	const struct rtmsg *rtm;
	struct uxt_route rt = {0};
	uint32_t table, mask;

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return MNL_CB_OK;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_family != AF_INET || rtm->rtm_dst_len > 32 ||
	    (rtm->rtm_flags & RTM_F_CLONED))
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(*rtm), collect_attr, &t) < 0)
		return reader_fail(r, "the kernel sent a malformed route message");
	table = rtm->rtm_table;
	if (attr_u32(tb[RTA_TABLE]))
		table = mnl_attr_get_u32(tb[RTA_TABLE]);
	if (table != RT_TABLE_MAIN)
		return MNL_CB_OK;
	/* a TOS route never matches the TOS-less lookups of the model;
	 * source-specific routes exist only with policy routing */
	if (rtm->rtm_tos || rtm->rtm_src_len || tb[RTA_NH_ID] || tb[RTA_VIA])
		return MNL_CB_OK;
	switch (rtm->rtm_type) {
	case RTN_UNICAST:
		rt.type = UXT_RTN_UNICAST;
		break;
	case RTN_BLACKHOLE:
		rt.type = UXT_RTN_BLACKHOLE;
		break;
	case RTN_UNREACHABLE:
		rt.type = UXT_RTN_UNREACHABLE;
		break;
	case RTN_PROHIBIT:
		rt.type = UXT_RTN_PROHIBIT;
		break;
	default:
		return MNL_CB_OK;
	}
	rt.dst_len = rtm->rtm_dst_len;
	rt.scope = rtm->rtm_scope;
	if (attr_u32(tb[RTA_DST]))
		rt.dst = get_be32(tb[RTA_DST]);
	mask = rt.dst_len ? 0xFFFFFFFFu << (32 - rt.dst_len) : 0;
	rt.dst = htonl(ntohl(rt.dst) & mask);
	if (attr_u32(tb[RTA_GATEWAY]))
		rt.gateway = get_be32(tb[RTA_GATEWAY]);
	if (attr_u32(tb[RTA_OIF]))
		rt.oif = (int)mnl_attr_get_u32(tb[RTA_OIF]);
	if (attr_u32(tb[RTA_PREFSRC]))
		rt.prefsrc = get_be32(tb[RTA_PREFSRC]);
	if (attr_u32(tb[RTA_PRIORITY]))
		rt.metric = mnl_attr_get_u32(tb[RTA_PRIORITY]);
	if (tb[RTA_METRICS] &&
	    mnl_attr_validate(tb[RTA_METRICS], MNL_TYPE_NESTED) == 0 &&
	    mnl_attr_parse_nested(tb[RTA_METRICS], metrics_cb, &rt.mtu) < 0)
		return reader_fail(r, "the kernel sent malformed route metrics");
	if (tb[RTA_MULTIPATH] &&
	    !first_nexthop(tb[RTA_MULTIPATH], &rt.oif, &rt.gateway))
		return MNL_CB_OK;
	if (rt.type == UXT_RTN_UNICAST) {
		if (!uxt_host_iface_by_index(r->h, rt.oif))
			return MNL_CB_OK;
	} else {
		rt.oif = 0;
		rt.gateway = 0;
	}
	if (uxt_host_add_route(r->h, &rt))
		return reader_fail(r, "out of memory");
	return MNL_CB_OK;
}

/* One dump: the request, then every message until NLMSG_DONE.  Returns 0,
 * 1 when the dump was interrupted (read it again), -1 on error. */
static int dump(struct mnl_socket *nl, uint16_t type, const void *hdr,
		size_t hdr_len, mnl_cb_t cb, struct reader *r, const char *what)
{
	char *buf = malloc(DUMP_BUFFER_SIZE);
	struct nlmsghdr *nlh;
	/* the socket is new for each reading: any number is fresh */
	unsigned int seq = type;
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	if (!buf) {
		reader_fail(r, "out of memory");
		return -1;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	memcpy(mnl_nlmsg_put_extra_header(nlh, hdr_len), hdr, hdr_len);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		free(buf);
		reader_fail(r, "cannot ask the kernel for its %s", what);
		return -1;
	}
	do {
		n = mnl_socket_recvfrom(nl, buf, DUMP_BUFFER_SIZE);
		if (n < 0) {
			free(buf);
			reader_fail(r, "cannot read the kernel's %s", what);
			return -1;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, cb, r);
	} while (ret > 0);
	free(buf);
	if (ret < 0 && !r->failed && errno == EINTR)
		return 1;
	if (ret < 0) {
		reader_fail(r, "the kernel refused to list its %s", what);
		return -1;
	}
	return 0;
}

/* A number from a /proc/sys file; dflt when it cannot be read. */
static unsigned int read_sysctl(const char *path, unsigned int dflt)
{
	FILE *f = fopen(path, "re");
	unsigned int v;

	if (!f)
		return dflt;
	if (fscanf(f, "%u", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
}

/* IN_DEV_ORCONF: on when conf/all or conf/DEV says so */
static bool read_orconf(const char *dev, const char *name, unsigned int dflt)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/all/%s", name);
	if (read_sysctl(path, dflt))
		return true;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/%s", dev, name);
	return read_sysctl(path, dflt) != 0;
}

static void read_settings(struct uxt_host *h)
{
	unsigned int all_rpf;
	char path[128];

	/* without /proc (an unusual sandbox) the fresh namespace's values */
	h->forwarding = read_sysctl("/proc/sys/net/ipv4/ip_forward", 0) != 0;
	h->icmp.ratelimit_ms = read_sysctl("/proc/sys/net/ipv4/icmp_ratelimit",
					   h->icmp.ratelimit_ms);
	h->icmp.ratemask = read_sysctl("/proc/sys/net/ipv4/icmp_ratemask",
				       h->icmp.ratemask);
	h->icmp.msgs_per_sec = read_sysctl("/proc/sys/net/ipv4/icmp_msgs_per_sec",
					   h->icmp.msgs_per_sec);
	h->icmp.msgs_burst = read_sysctl("/proc/sys/net/ipv4/icmp_msgs_burst",
					 h->icmp.msgs_burst);
	all_rpf = read_sysctl("/proc/sys/net/ipv4/conf/all/rp_filter", 0);
	for (unsigned int i = 0; i < h->nifaces; i++) {
		struct uxt_iface *d = &h->ifaces[i];
		unsigned int rpf;

		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter",
			 d->name);
		rpf = read_sysctl(path, 0);
		/* IN_DEV_RPFILTER: the larger of all and the device's */
		if (all_rpf > rpf)
			rpf = all_rpf;
		d->rp_filter = (uint8_t)(rpf > 2 ? 2 : rpf);
		d->send_redirects = read_orconf(d->name, "send_redirects", 1);
		d->shared_media = read_orconf(d->name, "shared_media", 1);
		/* IN_DEV_SOURCE_ROUTE: on only when conf/all and conf/DEV
		 * both are (a fresh namespace has all 0, default 1) */
		snprintf(path, sizeof(path),
			 "/proc/sys/net/ipv4/conf/%s/accept_source_route",
			 d->name);
		d->accept_source_route =
			read_sysctl("/proc/sys/net/ipv4/conf/all/accept_source_route",
				    0) != 0 &&
			read_sysctl(path, 1) != 0;
	}
}

static int read_all(struct mnl_socket *nl, struct uxt_host *h,
		    struct uxt_err *err)
{
	struct reader r = {.h = h, .err = err};
	struct ifinfomsg link = {.ifi_family = AF_UNSPEC};
	struct ifaddrmsg addr = {.ifa_family = AF_INET};
	struct rtmsg route = {.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN};
	int ret;

	ret = dump(nl, RTM_GETLINK, &link, sizeof(link), link_cb, &r,
		   "interfaces");
	if (ret == 0)
		ret = dump(nl, RTM_GETADDR, &addr, sizeof(addr), addr_cb, &r,
			   "addresses");
	if (ret == 0)
		ret = dump(nl, RTM_GETROUTE, &route, sizeof(route), route_cb,
			   &r, "routes");
	if (ret == 0)
		read_settings(h);
	return ret;
}

/* One reading on a socket of its own, so that nothing left of an
 * interrupted attempt is read by the next: 0, 1 to try again, -1. */
static int read_attempt(struct uxt_host *h, struct uxt_err *err)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	int ret;

	if (!nl)
		return uxt_error_bare(err, UXT_OTHER_PROBLEM,
				      "cannot open a netlink socket: %s",
				      strerror(errno));
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = uxt_error_bare(err, UXT_OTHER_PROBLEM,
				     "cannot bind a netlink socket: %s",
				     strerror(errno));
		mnl_socket_close(nl);
		return ret;
	}
	ret = read_all(nl, h, err);
	mnl_socket_close(nl);
	return ret;
}

int uxt_host_from_netns(struct uxt_host *h, struct uxt_err *err)
{
	int ret = 1;

	uxt_host_init(h);
	for (int attempt = 0; attempt < DUMP_ATTEMPTS && ret == 1; attempt++) {
		uxt_host_free(h);
		ret = read_attempt(h, err);
	}
	if (ret == 1)
		uxt_error_bare(err, UXT_OTHER_PROBLEM,
			       "the interfaces kept changing while being read");
	if (ret) {
		uxt_host_free(h);
		return -1;
	}
	return 0;
}
