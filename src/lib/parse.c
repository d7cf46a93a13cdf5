/* SPDX-License-Identifier: BSD-2-Clause */
#include "parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

bool uxt_strtoul(const char *s, char **end, uintmax_t *value, uintmax_t min,
		 uintmax_t max)
{
	const char *p;
	char *my_end;
	uintmax_t v;

	/* Fast path for what rulesets are full of: short decimal numbers
	 * without a leading zero (which would make strtoumax read octal). */
	if (s[0] >= '1' && s[0] <= '9') {
		unsigned i = 1;

		v = (uintmax_t)(s[0] - '0');
		while (i < 9 && s[i] >= '0' && s[i] <= '9')
			v = v * 10 + (uintmax_t)(s[i++] - '0');
		if (s[i] < '0' || s[i] > '9') {
			if (min > v || (max != 0 && v > max))
				return false;
			if (end != NULL)
				*end = (char *)s + i;
			if (value != NULL)
				*value = v;
			return end != NULL || s[i] == '\0';
		}
	}

	for (p = s; isspace((unsigned char)*p); ++p)
		;
	if (*p == '-')
		return false;
	errno = 0;
	v = strtoumax(s, &my_end, 0);
	if (my_end == s)
		return false;
	if (end != NULL)
		*end = my_end;
	if (errno != ERANGE && min <= v && (max == 0 || v <= max)) {
		if (value != NULL)
			*value = v;
		if (end == NULL)
			return *my_end == '\0';
		return true;
	}
	return false;
}

bool uxt_strtoui(const char *s, char **end, unsigned int *value,
		 unsigned int min, unsigned int max)
{
	uintmax_t v;
	bool ret = uxt_strtoul(s, end, &v, min, max);

	if (ret && value != NULL)
		*value = (unsigned int)v;
	return ret;
}

int uxt_service_to_port(const char *name, const char *proto)
{
	struct servent *service = getservbyname(name, proto);

	if (service != NULL)
		return ntohs((unsigned short)service->s_port);
	return -1;
}

int uxt_getportbyname(const char *name)
{
	struct addrinfo *res = NULL, *p;
	int ret;
	size_t n = strspn(name, "0123456789");

	/*
	 * glibc's getaddrinfo reads a decimal service number itself (base 10,
	 * keeping the low 16 bits: "100000" is port 34464); up to 9 digits
	 * that is all it does, so spare the resolver its netlink round trip.
	 */
	if (n > 0 && n <= 9 && name[n] == '\0')
		return (int)(strtoul(name, NULL, 10) & 0xFFFF);

	if (getaddrinfo(NULL, name, NULL, &res) != 0)
		return -1;
	ret = -1;
	for (p = res; p != NULL; p = p->ai_next) {
		if (p->ai_family == AF_INET6) {
			ret = ((struct sockaddr_in6 *)p->ai_addr)->sin6_port;
			break;
		} else if (p->ai_family == AF_INET) {
			ret = ((struct sockaddr_in *)p->ai_addr)->sin_port;
			break;
		}
	}
	freeaddrinfo(res);
	if (ret < 0)
		return ret;
	return ntohs((uint16_t)ret);
}

int uxt_parse_port(const char *port, const char *proto, uint16_t *out,
		   struct uxt_err *err)
{
	unsigned int portnum;
	int svc;

	if (uxt_strtoui(port, NULL, &portnum, 0, UINT16_MAX)) {
		*out = (uint16_t)portnum;
		return 0;
	}
	svc = uxt_service_to_port(port, proto);
	if (svc != -1) {
		*out = (uint16_t)svc;
		return 0;
	}
	return uxt_error(err, UXT_PARAMETER_PROBLEM,
			 "invalid port/service `%s' specified", port);
}

const char *uxt_port_to_service(uint16_t port, const char *proto)
{
	const struct servent *service = getservbyport(htons(port), proto);

	return service ? service->s_name : NULL;
}

static void print_port(struct uxt_buf *b, uint16_t port, bool numeric,
		       const char *proto)
{
	const char *service;

	if (numeric || (service = uxt_port_to_service(port, proto)) == NULL)
		uxt_buf_u64(b, port);
	else
		uxt_buf_puts(b, service);
}

void uxt_print_port_range(struct uxt_buf *b, const char *name, uint16_t min,
			  uint16_t max, bool invert, bool numeric,
			  const char *proto)
{
	if (min == 0 && max == 0xFFFF && !invert)
		return;
	uxt_buf_putc(b, ' ');
	uxt_buf_puts(b, name);
	if (min != max)
		uxt_buf_putc(b, 's');
	uxt_buf_putc(b, ':');
	if (invert)
		uxt_buf_putc(b, '!');
	print_port(b, min, numeric, proto);
	if (min != max) {
		uxt_buf_putc(b, ':');
		print_port(b, max, numeric, proto);
	}
}

void uxt_save_port_range(struct uxt_buf *b, const char *opt,
			 const uint16_t *ports, bool invert)
{
	if (ports[0] == 0 && ports[1] == 0xFFFF)
		return;
	if (invert)
		uxt_buf_puts(b, " !");
	uxt_buf_putc(b, ' ');
	uxt_buf_puts(b, opt);
	uxt_buf_putc(b, ' ');
	uxt_buf_u64(b, ports[0]);
	if (ports[0] != ports[1]) {
		uxt_buf_putc(b, ':');
		uxt_buf_u64(b, ports[1]);
	}
}

static const struct {
	const char *name;
	uint16_t num;
} chain_protos[] = {
	{"tcp", IPPROTO_TCP},
	{"sctp", IPPROTO_SCTP},
	{"udp", IPPROTO_UDP},
	{"udplite", IPPROTO_UDPLITE},
	{"icmp", IPPROTO_ICMP},
	{"ipv6-icmp", IPPROTO_ICMPV6},
	{"icmpv6", IPPROTO_ICMPV6},
	{"esp", IPPROTO_ESP},
	{"ah", IPPROTO_AH},
	{"mobility-header", IPPROTO_MH},
	{"ipv6-mh", IPPROTO_MH},
	{"mh", IPPROTO_MH},
	{"all", 0},
};

int uxt_parse_protocol(const char *s, uint16_t *out, struct uxt_err *err)
{
	const struct protoent *pent;
	unsigned int proto;

	/* a name cannot be a number: skip strtoumax for the usual "tcp" */
	if (!(s[0] >= 'a' && s[0] <= 'z') &&
	    uxt_strtoui(s, NULL, &proto, 0, UINT8_MAX)) {
		*out = (uint16_t)proto;
		return 0;
	}
	for (size_t i = 0; i < sizeof(chain_protos) / sizeof(chain_protos[0]); i++)
		if (strcmp(s, chain_protos[i].name) == 0) {
			*out = chain_protos[i].num;
			return 0;
		}
	pent = getprotobyname(s);
	if (pent != NULL) {
		*out = (uint16_t)pent->p_proto;
		return 0;
	}
	return uxt_error(err, UXT_PARAMETER_PROBLEM,
			 "unknown protocol \"%s\" specified", s);
}

const char *uxt_proto_to_name(uint16_t proto, bool nolookup)
{
	for (size_t i = 0; i < sizeof(chain_protos) / sizeof(chain_protos[0]); i++)
		if (chain_protos[i].num == proto)
			return chain_protos[i].name;
	if (proto && !nolookup) {
		struct protoent *pent = getprotobynumber(proto);

		if (pent)
			return pent->p_name;
	}
	return NULL;
}

int uxt_parse_interface(const char *arg, char *name, unsigned char *mask,
			struct uxt_err *err, struct uxt_buf *warn)
{
	size_t vialen = strlen(arg);

	memset(mask, 0, UXT_IFNAMSIZ);
	memset(name, 0, UXT_IFNAMSIZ);
	if (vialen + 1 > UXT_IFNAMSIZ)
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "interface name `%s' must be shorter than IFNAMSIZ (%i)",
				 arg, UXT_IFNAMSIZ - 1);
	memcpy(name, arg, vialen);
	if (vialen == 0)
		return 0;
	if (name[vialen - 1] == '+')
		memset(mask, 0xFF, vialen - 1);
	else
		memset(mask, 0xFF, vialen + 1);
	for (size_t i = 0; name[i]; i++) {
		if (name[i] == '/' || name[i] == ' ') {
			if (warn)
				uxt_buf_printf(warn,
					       "Warning: weird character in interface `%s' ('/' and ' ' are not allowed by the kernel).\n",
					       name);
			break;
		}
	}
	return 0;
}

static bool numeric_to_ipaddr(const char *dotted, uint32_t *out, bool is_mask)
{
	unsigned char addrp[4];
	unsigned int onebyte;
	char buf[20], *p, *q;
	int i;

	strncpy(buf, dotted, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	p = buf;
	for (i = 0; i < 3; ++i) {
		if ((q = strchr(p, '.')) == NULL) {
			if (is_mask)
				return false;
			/* a short form names a network: "10" is 10.0.0.0 */
			if (!uxt_strtoui(p, NULL, &onebyte, 0, UINT8_MAX))
				return false;
			addrp[i] = (unsigned char)onebyte;
			while (i < 3)
				addrp[++i] = 0;
			memcpy(out, addrp, 4);
			return true;
		}
		*q = '\0';
		if (!uxt_strtoui(p, NULL, &onebyte, 0, UINT8_MAX))
			return false;
		addrp[i] = (unsigned char)onebyte;
		p = q + 1;
	}
	if (!uxt_strtoui(p, NULL, &onebyte, 0, UINT8_MAX))
		return false;
	addrp[3] = (unsigned char)onebyte;
	memcpy(out, addrp, 4);
	return true;
}

/*
 * The common form, four plain decimal octets ("10.1.2.3", no leading zeros,
 * nothing else), without the copying of the general parser.  Anything else
 * returns false and goes the general way, which gives it iptables' meaning.
 */
/* "a.b.c.d" of decimal octets without leading zeros, ending at end */
static bool dotted_quad_until(const char *s, const char *end, uint32_t *out)
{
	unsigned char b[4];

	for (int i = 0; i < 4; i++) {
		unsigned v;

		if (s == end || *s < '0' || *s > '9' ||
		    (*s == '0' && s + 1 != end && s[1] >= '0' && s[1] <= '9'))
			return false;
		v = (unsigned)(*s++ - '0');
		if (s != end && *s >= '0' && *s <= '9') {
			v = v * 10 + (unsigned)(*s++ - '0');
			if (s != end && *s >= '0' && *s <= '9')
				v = v * 10 + (unsigned)(*s++ - '0');
		}
		if (v > 255)
			return false;
		b[i] = (unsigned char)v;
		if (i < 3) {
			if (s == end || *s != '.')
				return false;
			s++;
		} else if (s != end) {
			return false;
		}
	}
	memcpy(out, b, 4);
	return true;
}

static bool plain_dotted_quad(const char *s, uint32_t *out)
{
	return dotted_quad_until(s, s + strlen(s), out);
}

bool uxt_numeric_to_ipaddr(const char *dotted, uint32_t *addr)
{
	if (plain_dotted_quad(dotted, addr))
		return true;
	return numeric_to_ipaddr(dotted, addr, false);
}

static bool network_to_ipaddr(const char *name, uint32_t *addr)
{
	struct netent *net = getnetbyname(name);

	if (net == NULL || net->n_addrtype != AF_INET)
		return false;
	*addr = htonl(net->n_net);
	return true;
}

/* All IPv4 addresses of a host name; NULL if it does not resolve. */
static uint32_t *host_to_ipaddr(const char *name, unsigned int *naddr)
{
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_RAW};
	struct addrinfo *res, *p;
	uint32_t *addr;
	unsigned int i;

	*naddr = 0;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return NULL;
	for (p = res; p != NULL; p = p->ai_next)
		++*naddr;
	addr = calloc(*naddr ? *naddr : 1, sizeof(*addr));
	if (!addr)
		abort();
	for (i = 0, p = res; p != NULL; p = p->ai_next)
		addr[i++] = ((const struct sockaddr_in *)p->ai_addr)->sin_addr.s_addr;
	freeaddrinfo(res);
	return addr;
}

static uint32_t *ipparse_hostnetwork(const char *name, unsigned int *naddrs,
				     struct uxt_err *err)
{
	uint32_t one, *addrp;

	if (uxt_numeric_to_ipaddr(name, &one) || network_to_ipaddr(name, &one)) {
		addrp = malloc(sizeof(*addrp));
		if (!addrp)
			abort();
		*addrp = one;
		*naddrs = 1;
		return addrp;
	}
	addrp = host_to_ipaddr(name, naddrs);
	if (addrp != NULL)
		return addrp;
	uxt_error(err, UXT_PARAMETER_PROBLEM, "host/network `%s' not found", name);
	return NULL;
}

static int parse_ipmask(const char *mask, uint32_t *out, struct uxt_err *err)
{
	unsigned int bits;

	if (mask == NULL) {
		*out = 0xFFFFFFFFu;
		return 0;
	}
	/* a plain prefix length is the usual case */
	if (mask[0] >= '1' && mask[0] <= '9' &&
	    (mask[1] == '\0' || (mask[1] >= '0' && mask[1] <= '9' && mask[2] == '\0'))) {
		bits = (unsigned)(mask[0] - '0');
		if (mask[1])
			bits = bits * 10 + (unsigned)(mask[1] - '0');
		if (bits <= 32) {
			*out = htonl(0xFFFFFFFFu << (32 - bits));
			return 0;
		}
	}
	if (numeric_to_ipaddr(mask, out, true))
		return 0;
	if (!uxt_strtoui(mask, NULL, &bits, 0, 32))
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "invalid mask `%s' specified", mask);
	*out = bits ? htonl(0xFFFFFFFFu << (32 - bits)) : 0;
	return 0;
}

bool uxt_ipparse_simple(const char *name, uint32_t *addr, uint32_t *mask)
{
	size_t len = 0;
	unsigned bits = 32;

	/* up to 23 characters before the mask, no list */
	while (name[len] && name[len] != '/') {
		if (name[len] == ',' || len >= 23)
			return false;
		len++;
	}
	if (name[len] == '/') {
		const char *m = name + len + 1;

		/* a plain prefix length: "0", or 1-32 without a leading 0 */
		if (m[0] == '0' && m[1] == '\0') {
			bits = 0;
		} else if (m[0] >= '1' && m[0] <= '9' &&
			   (m[1] == '\0' || (m[1] >= '0' && m[1] <= '9' && m[2] == '\0'))) {
			bits = (unsigned)(m[0] - '0');
			if (m[1])
				bits = bits * 10 + (unsigned)(m[1] - '0');
			if (bits > 32)
				return false;
		} else {
			return false;
		}
	}
	*mask = bits ? htonl(0xFFFFFFFFu << (32 - bits)) : 0;
	if (*mask == 0) {
		/* the name is ignored with a null mask, as in "any/0" */
		*addr = 0;
		return true;
	}
	if (!dotted_quad_until(name, name + len, addr))
		return false;
	*addr &= *mask;
	return true;
}

int uxt_ipparse_multiple(const char *name, uint32_t **addrpp,
			 uint32_t **maskpp, unsigned int *naddrs,
			 struct uxt_err *err)
{
	unsigned int len, i, j, n, count = 1;
	const char *loop = name;
	char buf[256], *p;
	const char *next;
	uint32_t mask, *addrp;

	while ((loop = strchr(loop, ',')) != NULL) {
		++count;
		++loop;
	}
	*addrpp = malloc(sizeof(uint32_t) * count);
	*maskpp = malloc(sizeof(uint32_t) * count);
	if (!*addrpp || !*maskpp)
		abort();
	loop = name;
	for (i = 0; i < count; ++i) {
		while (isspace((unsigned char)*loop))
			++loop;
		next = strchr(loop, ',');
		len = next ? (unsigned int)(next - loop) : (unsigned int)strlen(loop);
		if (len > sizeof(buf) - 1)
			goto fail_long;
		memcpy(buf, loop, len);
		buf[len] = '\0';
		if ((p = strrchr(buf, '/')) != NULL) {
			*p = '\0';
			if (parse_ipmask(p + 1, &mask, err))
				goto fail;
		} else {
			parse_ipmask(NULL, &mask, err);
		}
		(*maskpp)[i] = mask;
		/* a null mask ignores the name, as in "any/0" */
		if (mask == 0)
			strcpy(buf, "0.0.0.0");
		addrp = ipparse_hostnetwork(buf, &n, err);
		if (!addrp)
			goto fail;
		if (n > 1) {
			count += n - 1;
			*addrpp = realloc(*addrpp, sizeof(uint32_t) * count);
			*maskpp = realloc(*maskpp, sizeof(uint32_t) * count);
			if (!*addrpp || !*maskpp)
				abort();
			for (j = 0; j < n; ++j)
				(*addrpp)[i + j] = addrp[j];
			for (j = 1; j < n; ++j)
				(*maskpp)[i + j] = (*maskpp)[i];
			i += n - 1;
		} else {
			(*addrpp)[i] = addrp[0];
		}
		free(addrp);
		if (next == NULL)
			break;
		loop = next + 1;
	}
	*naddrs = count;
	for (i = 0; i < count; ++i)
		(*addrpp)[i] &= (*maskpp)[i];
	return 0;
fail_long:
	uxt_error(err, UXT_PARAMETER_PROBLEM, "Hostname too long");
fail:
	free(*addrpp);
	free(*maskpp);
	*addrpp = *maskpp = NULL;
	*naddrs = 0;
	return -1;
}

int uxt_ipparse_any(const char *name, uint32_t **addrpp, uint32_t *maskp,
		    unsigned int *naddrs, struct uxt_err *err)
{
	unsigned int i, j, k, n;
	uint32_t *addrp;
	char buf[256], *p;

	strncpy(buf, name, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	if ((p = strrchr(buf, '/')) != NULL) {
		*p = '\0';
		if (parse_ipmask(p + 1, maskp, err))
			return -1;
	} else {
		parse_ipmask(NULL, maskp, err);
	}
	if (*maskp == 0)
		strcpy(buf, "0.0.0.0");
	addrp = *addrpp = ipparse_hostnetwork(buf, naddrs, err);
	if (!addrp)
		return -1;
	n = *naddrs;
	for (i = 0, j = 0; i < n; ++i) {
		addrp[j++] &= *maskp;
		for (k = 0; k < j - 1; ++k)
			if (addrp[k] == addrp[j - 1]) {
				addrp[--j] = addrp[--*naddrs];
				break;
			}
	}
	return 0;
}

int uxt_ipmask_to_cidr(uint32_t mask_be)
{
	uint32_t m = ntohl(mask_be), inv = ~m;

	/* contiguous: the inverted mask is 2^k - 1, and k = ctz(inv + 1) */
	if ((inv & (inv + 1)) != 0)
		return -1;
	if (inv == 0xFFFFFFFFu)
		return 0;
	return 32 - __builtin_ctz(inv + 1);
}

void uxt_buf_ipmask(struct uxt_buf *b, uint32_t mask_be)
{
	int cidr = uxt_ipmask_to_cidr(mask_be);

	if (cidr == -1) {
		uxt_buf_putc(b, '/');
		uxt_buf_ipv4(b, mask_be);
	} else if (cidr != 32) {
		uxt_buf_putc(b, '/');
		uxt_buf_u64(b, (uint64_t)cidr);
	}
}

void uxt_buf_ipaddr_anyname(struct uxt_buf *b, uint32_t addr_be)
{
	struct sockaddr_in saddr = {.sin_family = AF_INET};
	char hostname[NI_MAXHOST];
	struct netent *net;

	saddr.sin_addr.s_addr = addr_be;
	if (getnameinfo((const void *)&saddr, sizeof(saddr), hostname,
			sizeof(hostname) - 1, NULL, 0, 0) == 0) {
		uxt_buf_puts(b, hostname);
		return;
	}
	net = getnetbyaddr(ntohl(addr_be), AF_INET);
	if (net != NULL) {
		uxt_buf_puts(b, net->n_name);
		return;
	}
	uxt_buf_ipv4(b, addr_be);
}

void uxt_save_string(struct uxt_buf *b, const char *value)
{
	static const char no_quote_chars[] = "_-0123456789"
					     "abcdefghijklmnopqrstuvwxyz"
					     "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t length = strspn(value, no_quote_chars);
	const char *p;

	if (length > 0 && value[length] == '\0') {
		uxt_buf_putc(b, ' ');
		uxt_buf_puts(b, value);
		return;
	}
	uxt_buf_puts(b, " \"");
	for (p = strpbrk(value, "\"\\'"); p != NULL; p = strpbrk(value, "\"\\'")) {
		uxt_buf_putn(b, value, (size_t)(p - value));
		uxt_buf_putc(b, '\\');
		uxt_buf_putc(b, *p);
		value = p + 1;
	}
	uxt_buf_puts(b, value);
	uxt_buf_putc(b, '"');
}

void uxt_print_num(struct uxt_buf *b, uint64_t number, unsigned int format)
{
	static const char units[] = "KMGT";
	bool table = !(format & UXT_FMT_NOTABLE);
	int i;

	if (!(format & UXT_FMT_KILOMEGAGIGA)) {
		if (table)
			uxt_buf_u64_right(b, number, 8);
		else
			uxt_buf_u64(b, number);
		uxt_buf_putc(b, ' ');
		return;
	}
	if (number <= 99999) {
		if (table)
			uxt_buf_u64_right(b, number, 5);
		else
			uxt_buf_u64(b, number);
		uxt_buf_putc(b, ' ');
		return;
	}
	for (i = 0; i < 4; i++) {
		number = (number + 500) / 1000;
		if (number <= 9999 || i == 3) {
			if (table)
				uxt_buf_u64_right(b, number, 4);
			else
				uxt_buf_u64(b, number);
			uxt_buf_putc(b, units[i]);
			uxt_buf_putc(b, ' ');
			return;
		}
	}
}

int uxt_parse_mark_mask(struct uxt_opt_call *call, uint32_t *mark,
			uint32_t *mask)
{
	unsigned int val, m;
	char *end;

	*mask = ~0U;
	if (!uxt_strtoui(call->arg, &end, &val, 0, UINT32_MAX))
		goto bad_val;
	*mark = val;
	if (*end == '\0')
		return 0;
	if (*end != '/')
		goto garbage;
	if (!uxt_strtoui(end + 1, &end, &m, 0, UINT32_MAX))
		goto bad_val;
	*mask = m;
	if (*end == '\0')
		return 0;
garbage:
	return uxt_error(call->err, UXT_PARAMETER_PROBLEM,
			 "%s: trailing garbage after value for option \"--%s\".\n",
			 call->ext->name, call->opt->name);
bad_val:
	return uxt_error(call->err, UXT_PARAMETER_PROBLEM,
			 "%s: bad integer value for option \"--%s\", or out of range.\n",
			 call->ext->name, call->opt->name);
}

void uxt_print_mark_mask(struct uxt_buf *b, uint32_t mark, uint32_t mask)
{
	if (mask != ~0U)
		uxt_buf_printf(b, " 0x%x/0x%x", mark, mask);
	else
		uxt_buf_printf(b, " 0x%x", mark);
}
