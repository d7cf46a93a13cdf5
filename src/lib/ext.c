/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The extension registry and the generic option parser.
 *
 * uxt_opt_parse() is libxtables' xtables_option_parse() with its
 * sub-parsers per argument type; uxt_opt_fcheck() is
 * xtables_options_fcheck().  The messages, including their stray trailing
 * newlines, are those of iptables 1.8.9, because users and scripts see them.
 */
#include "ext.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "parse.h"

const struct uxt_ext *uxt_ext_find(const char *name, enum uxt_ext_kind kind)
{
	for (unsigned int i = 0; i < uxt_extensions_count; i++) {
		const struct uxt_ext *e = uxt_extensions[i];

		if (e->kind == kind && e->name[0] == name[0] &&
		    strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

const struct uxt_ext *uxt_ext_find_rev(const char *name, unsigned int revision,
				       enum uxt_ext_kind kind)
{
	for (unsigned int i = 0; i < uxt_extensions_count; i++) {
		const struct uxt_ext *e = uxt_extensions[i];

		if (e->kind == kind && e->revision == revision &&
		    e->stored_as == NULL && strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

unsigned int uxt_ext_id(const struct uxt_ext *ext)
{
	for (unsigned int i = 0; i < uxt_extensions_count; i++)
		if (uxt_extensions[i] == ext)
			return i;
	abort();
}

#define PTR(call) ((void *)((char *)(call)->data + (call)->opt->off))

static uintmax_t max_by_type(enum uxt_opt_type type)
{
	switch (type) {
	case UXT_OT_UINT8:
	case UXT_OT_UINT8RC:
		return UINT8_MAX;
	case UXT_OT_UINT16:
	case UXT_OT_UINT16RC:
		return UINT16_MAX;
	case UXT_OT_UINT32:
	case UXT_OT_UINT32RC:
		return UINT32_MAX;
	case UXT_OT_UINT64:
	case UXT_OT_UINT64RC:
		return UINT64_MAX;
	default:
		return 0;
	}
}

static size_t esize_by_type(enum uxt_opt_type type)
{
	switch (type) {
	case UXT_OT_UINT8RC:
		return 1;
	case UXT_OT_UINT16RC:
		return 2;
	case UXT_OT_UINT32RC:
		return 4;
	case UXT_OT_UINT64RC:
		return 8;
	default:
		return 0;
	}
}

static int parse_int(struct uxt_opt_call *c)
{
	const struct uxt_opt *o = c->opt;
	uintmax_t lmin = 0, lmax = max_by_type(o->type), value;

	if (o->min != 0)
		lmin = o->min;
	if (o->max != 0)
		lmax = o->max;
	if (!uxt_strtoul(c->arg, NULL, &value, lmin, lmax))
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "%s: bad value for option \"--%s\", or out of range (%ju-%ju).\n",
				 c->ext->name, o->name, lmin, lmax);
	switch (o->type) {
	case UXT_OT_UINT8:
		c->val.u8 = (uint8_t)value;
		if (o->flags & UXT_OPT_PUT)
			*(uint8_t *)PTR(c) = c->val.u8;
		break;
	case UXT_OT_UINT16:
		c->val.u16 = (uint16_t)value;
		if (o->flags & UXT_OPT_PUT)
			memcpy(PTR(c), &c->val.u16, 2);
		break;
	case UXT_OT_UINT32:
		c->val.u32 = (uint32_t)value;
		if (o->flags & UXT_OPT_PUT)
			memcpy(PTR(c), &c->val.u32, 4);
		break;
	default:
		c->val.u64 = value;
		if (o->flags & UXT_OPT_PUT)
			memcpy(PTR(c), &c->val.u64, 8);
		break;
	}
	return 0;
}

static int parse_float(struct uxt_opt_call *c)
{
	const struct uxt_opt *o = c->opt;
	char *end;
	double value = strtod(c->arg, &end);

	if (end == c->arg || *end != '\0' ||
	    (o->min != o->max && (value < o->min || value > o->max)))
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "%s: bad value for option \"--%s\", or out of range (%u-%u).\n",
				 c->ext->name, o->name, o->min, o->max);
	c->val.dbl = value;
	if (o->flags & UXT_OPT_PUT)
		memcpy(PTR(c), &value, sizeof(value));
	return 0;
}

static void mint_store(struct uxt_opt_call *c, char **put, uintmax_t value)
{
	enum uxt_opt_type t = (enum uxt_opt_type)c->opt->type;

	if (c->nvals < 2) {
		if (t == UXT_OT_UINT8RC)
			c->val.u8_range[c->nvals] = (uint8_t)value;
		else if (t == UXT_OT_UINT16RC)
			c->val.u16_range[c->nvals] = (uint16_t)value;
		else if (t == UXT_OT_UINT32RC)
			c->val.u32_range[c->nvals] = (uint32_t)value;
		else
			c->val.u64_range[c->nvals] = value;
	}
	if (!(c->opt->flags & UXT_OPT_PUT))
		return;
	if (t == UXT_OT_UINT8RC) {
		uint8_t v = (uint8_t)value;
		memcpy(*put, &v, 1);
	} else if (t == UXT_OT_UINT16RC) {
		uint16_t v = (uint16_t)value;
		memcpy(*put, &v, 2);
	} else if (t == UXT_OT_UINT32RC) {
		uint32_t v = (uint32_t)value;
		memcpy(*put, &v, 4);
	} else {
		memcpy(*put, &value, 8);
	}
	*put += esize_by_type(t);
}

static int parse_mint(struct uxt_opt_call *c)
{
	const struct uxt_opt *o = c->opt;
	size_t esize = esize_by_type((enum uxt_opt_type)o->type);
	uintmax_t lmax = max_by_type((enum uxt_opt_type)o->type), value;
	char *put = PTR(c);
	unsigned int maxiter = o->size / esize;
	const char *arg;
	char *end;

	if (maxiter == 0)
		maxiter = 2;
	c->nvals = 0;
	for (arg = c->arg;; arg = end + 1) {
		if (c->nvals == maxiter)
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "%s: Too many components for option \"--%s\" (max: %u)\n",
					 c->ext->name, o->name, maxiter);
		if (*arg == '\0' || *arg == ':') {
			end = (char *)arg;
			value = c->nvals == 1 ? lmax : 0;
		} else {
			if (!uxt_strtoul(arg, &end, &value, 0, lmax))
				return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
						 "%s: bad value for option \"--%s\" near \"%s\", or out of range (0-%ju).\n",
						 c->ext->name, o->name, arg, lmax);
			if (*end != '\0' && *end != ':')
				return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
						 "%s: Argument to \"--%s\" has unexpected characters near \"%s\".\n",
						 c->ext->name, o->name, end);
		}
		mint_store(c, &put, value);
		++c->nvals;
		if (*end == '\0')
			break;
	}
	return 0;
}

static int parse_string(struct uxt_opt_call *c)
{
	const struct uxt_opt *o = c->opt;
	size_t z = strlen(c->arg);
	char *p;

	if (o->min != 0 && z < o->min)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "Argument must have a minimum length of %u characters\n",
				 o->min);
	if (o->max != 0 && z > o->max)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "Argument must have a maximum length of %u characters\n",
				 o->max);
	if (!(o->flags & UXT_OPT_PUT))
		return 0;
	if (z >= o->size)
		z = o->size - 1u;
	p = PTR(c);
	memcpy(p, c->arg, z);
	p[z] = '\0';
	return 0;
}

static const struct {
	unsigned char value;
	const char *name;
} tos_names[] = {
	{0x10, "Minimize-Delay"},
	{0x08, "Maximize-Throughput"},
	{0x04, "Maximize-Reliability"},
	{0x02, "Minimize-Cost"},
	{0x00, "Normal-Service"},
};

static int parse_tosmask(struct uxt_opt_call *c)
{
	unsigned int value;
	char *end;

	if (uxt_strtoui(c->arg, &end, NULL, 0, UINT8_MAX)) {
		uxt_strtoui(c->arg, &end, &value, 0, UINT8_MAX);
		c->val.tos_value = (uint8_t)value;
		c->val.tos_mask = UINT8_MAX;
		if (*end == '/') {
			if (!uxt_strtoui(end + 1, &end, &value, 0, UINT8_MAX))
				return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
						 "Illegal value: \"%s\"", c->arg);
			c->val.tos_mask = (uint8_t)value;
		}
		if (*end != '\0')
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "Illegal value: \"%s\"", c->arg);
		return 0;
	}
	c->val.tos_mask = (uint8_t)c->opt->max;
	for (size_t i = 0; i < sizeof(tos_names) / sizeof(tos_names[0]); i++)
		if (strcasecmp(c->arg, tos_names[i].name) == 0) {
			c->val.tos_value = tos_names[i].value;
			return 0;
		}
	return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
			 "Symbolic name \"%s\" is unknown", c->arg);
}

static int parse_markmask(struct uxt_opt_call *c)
{
	return uxt_parse_mark_mask(c, &c->val.mark, &c->val.mask);
}

static int parse_sysloglevel(struct uxt_opt_call *c)
{
	/* glibc's syslog names as libxtables accepts them */
	static const struct {
		const char *name;
		uint8_t level;
	} names[] = {
		{"alert", 1}, {"crit", 2},   {"debug", 7},  {"emerg", 0},
		{"error", 3}, {"info", 6},   {"notice", 5}, {"panic", 0},
		{"warning", 4},
	};
	unsigned int num = 0;

	if (!uxt_strtoui(c->arg, NULL, &num, 0, 7)) {
		size_t i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcmp(c->arg, names[i].name) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "log level \"%s\" unknown\n", c->arg);
		num = names[i].level;
	}
	c->val.syslog_level = (uint8_t)num;
	if (c->opt->flags & UXT_OPT_PUT)
		*(uint8_t *)PTR(c) = (uint8_t)num;
	return 0;
}

static int parse_host(struct uxt_opt_call *c)
{
	struct addrinfo hints = {.ai_family = AF_INET};
	struct addrinfo *res, *p;
	unsigned int adcount = 0;
	int ret = getaddrinfo(c->arg, NULL, &hints, &res);

	if (ret != 0)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "getaddrinfo: %s\n", gai_strerror(ret));
	memset(c->val.hmask, 0xFF, sizeof(c->val.hmask));
	c->val.hlen = 32;
	for (p = res; p != NULL; p = p->ai_next) {
		uint32_t a = ((struct sockaddr_in *)p->ai_addr)->sin_addr.s_addr;

		if (adcount == 0) {
			memset(c->val.haddr, 0, sizeof(c->val.haddr));
			c->val.haddr[0] = a;
			++adcount;
			continue;
		}
		if (c->val.haddr[0] != a) {
			freeaddrinfo(res);
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "%s resolves to more than one address\n",
					 c->arg);
		}
	}
	freeaddrinfo(res);
	if (c->opt->flags & UXT_OPT_PUT)
		memcpy(PTR(c), c->val.haddr, sizeof(c->val.haddr));
	return 0;
}

static int parse_protocol(struct uxt_opt_call *c)
{
	uint16_t proto;

	if (uxt_parse_protocol(c->arg, &proto, c->err))
		return -1;
	c->val.protocol = (uint8_t)proto;
	if (c->opt->flags & UXT_OPT_PUT)
		*(uint8_t *)PTR(c) = c->val.protocol;
	return 0;
}

static int parse_port(struct uxt_opt_call *c)
{
	int ret = uxt_getportbyname(c->arg);

	if (ret < 0)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "Port \"%s\" does not resolve to anything.\n",
				 c->arg);
	if (c->opt->flags & UXT_OPT_NBO)
		ret = htons((uint16_t)ret);
	c->val.port = (uint16_t)ret;
	if (c->opt->flags & UXT_OPT_PUT)
		memcpy(PTR(c), &c->val.port, 2);
	return 0;
}

static int parse_mport(struct uxt_opt_call *c)
{
	const struct uxt_opt *o = c->opt;
	unsigned int maxiter = o->size / 2;
	char *lo_arg, *wp_arg, *arg;
	int value;

	if (maxiter == 0)
		maxiter = 2;
	wp_arg = lo_arg = strdup(c->arg);
	if (!lo_arg)
		abort();
	c->val.port_range[0] = 0;
	c->val.port_range[1] = UINT16_MAX;
	c->nvals = 0;
	while ((arg = strsep(&wp_arg, ":")) != NULL) {
		if (c->nvals == maxiter) {
			free(lo_arg);
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "%s: Too many components for option \"--%s\" (max: %u)\n",
					 c->ext->name, o->name, maxiter);
		}
		if (*arg == '\0') {
			++c->nvals;
			continue;
		}
		value = uxt_getportbyname(arg);
		if (value < 0) {
			uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				  "Port \"%s\" does not resolve to anything.\n",
				  arg);
			free(lo_arg);
			return -1;
		}
		if (o->flags & UXT_OPT_NBO)
			value = htons((uint16_t)value);
		if (c->nvals < 2)
			c->val.port_range[c->nvals] = (uint16_t)value;
		++c->nvals;
	}
	if (c->nvals == 1) {
		c->val.port_range[1] = c->val.port_range[0];
		++c->nvals;
	}
	if (o->flags & UXT_OPT_PUT)
		memcpy(PTR(c), c->val.port_range,
		       2u * (c->nvals <= maxiter ? c->nvals : maxiter));
	free(lo_arg);
	return 0;
}

static int parse_plen(struct uxt_opt_call *c)
{
	unsigned int prefix_len = 128;

	c->val.hlen = 32;
	if (!uxt_strtoui(c->arg, NULL, &prefix_len, 0, c->val.hlen)) {
		struct addrinfo hints = {.ai_family = AF_INET,
					 .ai_flags = AI_NUMERICHOST};
		struct addrinfo *res;

		if (getaddrinfo(c->arg, NULL, &hints, &res) == 0) {
			memset(c->val.hmask, 0, sizeof(c->val.hmask));
			c->val.hmask[0] =
				((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr;
			c->val.hlen = (uint8_t)uxt_ipmask_to_cidr(c->val.hmask[0]);
			freeaddrinfo(res);
			return 1;
		}
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "%s: bad value for option \"--%s\", neither a valid network mask nor valid CIDR (%u-%u).\n",
				 c->ext->name, c->opt->name, 0, c->val.hlen);
	}
	c->val.hlen = (uint8_t)prefix_len;
	return 0;
}

static int parse_plenmask(struct uxt_opt_call *c)
{
	int ret = parse_plen(c);

	if (ret < 0)
		return -1;
	if (ret == 0) {
		/* a prefix length, not a dotted mask: build the mask */
		memset(c->val.hmask, 0, sizeof(c->val.hmask));
		c->val.hmask[0] = c->val.hlen ?
			htonl(0xFFFFFFFFu << (32 - c->val.hlen)) : 0;
	} else {
		/* libxtables rebuilds the mask from hlen even for a dotted
		 * mask, and hlen of a non-contiguous mask is (uint8_t)-1 */
		uint32_t m = 0xFFFFFFFFu;

		memset(c->val.hmask, 0xFF, sizeof(c->val.hmask));
		if (c->val.hlen == 0)
			m = 0;
		else if (c->val.hlen <= 32)
			m <<= 32 - c->val.hlen;
		else
			m = 0xFFFFFFFFu;
		if (c->val.hlen <= 32) {
			c->val.hmask[1] = c->val.hmask[2] = c->val.hmask[3] = 0;
		}
		c->val.hmask[0] = htonl(m);
	}
	if (c->opt->flags & UXT_OPT_PUT)
		memcpy(PTR(c), c->val.hmask, sizeof(c->val.hmask));
	return 0;
}

static int parse_hostmask(struct uxt_opt_call *c)
{
	const char *orig = c->arg;
	char *work, *p;
	int ret;

	if (strchr(c->arg, '/') == NULL)
		return parse_host(c);
	work = strdup(orig);
	if (!work)
		abort();
	p = strchr(work, '/');
	*p++ = '\0';
	c->arg = work;
	ret = parse_host(c);
	if (ret == 0) {
		c->arg = p;
		ret = parse_plenmask(c);
	}
	c->arg = orig;
	free(work);
	return ret;
}

static int parse_ethermac(struct uxt_opt_call *c)
{
	const char *arg = c->arg;
	char *end;
	unsigned int i;

	for (i = 0; i < 5; ++i) {
		c->val.ethermac[i] = (uint8_t)strtoul(arg, &end, 16);
		if (*end != ':' || end - arg > 2)
			goto out;
		arg = end + 1;
	}
	c->val.ethermac[5] = (uint8_t)strtoul(arg, &end, 16);
	if (*end != '\0' || end - arg > 2)
		goto out;
	if (c->opt->flags & UXT_OPT_PUT)
		memcpy(PTR(c), c->val.ethermac, 6);
	return 0;
out:
	return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
			 "Invalid MAC address specified.");
}

int uxt_opt_parse(struct uxt_opt_call *c)
{
	const struct uxt_opt *o = c->opt;
	unsigned int eflag = 1u << o->id;

	if ((!(o->flags & UXT_OPT_MULTI) || (o->excl & eflag)) &&
	    (*c->xflags & eflag))
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "%s: option \"--%s\" can only be used once.\n",
				 c->ext->name, o->name);
	if (c->invert && !(o->flags & UXT_OPT_INVERT))
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "%s: option \"--%s\" cannot be inverted.\n",
				 c->ext->name, o->name);
	if (o->type != UXT_OT_NONE && c->arg == NULL)
		return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
				 "%s: option \"--%s\" requires an argument.\n",
				 c->ext->name, o->name);
	c->nvals = 1;
	switch ((enum uxt_opt_type)o->type) {
	case UXT_OT_NONE:
		break;
	case UXT_OT_UINT8:
	case UXT_OT_UINT16:
	case UXT_OT_UINT32:
	case UXT_OT_UINT64:
		if (parse_int(c))
			return -1;
		break;
	case UXT_OT_UINT8RC:
	case UXT_OT_UINT16RC:
	case UXT_OT_UINT32RC:
	case UXT_OT_UINT64RC:
		if (parse_mint(c))
			return -1;
		break;
	case UXT_OT_DOUBLE:
		if (parse_float(c))
			return -1;
		break;
	case UXT_OT_STRING:
		if (parse_string(c))
			return -1;
		break;
	case UXT_OT_TOSMASK:
		if (parse_tosmask(c))
			return -1;
		break;
	case UXT_OT_MARKMASK32:
		if (parse_markmask(c))
			return -1;
		break;
	case UXT_OT_SYSLOGLEVEL:
		if (parse_sysloglevel(c))
			return -1;
		break;
	case UXT_OT_HOST:
		if (parse_host(c))
			return -1;
		break;
	case UXT_OT_HOSTMASK:
		if (parse_hostmask(c))
			return -1;
		break;
	case UXT_OT_PROTOCOL:
		if (parse_protocol(c))
			return -1;
		break;
	case UXT_OT_PORT:
		if (parse_port(c))
			return -1;
		break;
	case UXT_OT_PORTRC:
		if (parse_mport(c))
			return -1;
		break;
	case UXT_OT_PLEN:
		if (parse_plen(c) < 0)
			return -1;
		break;
	case UXT_OT_PLENMASK:
		if (parse_plenmask(c))
			return -1;
		break;
	case UXT_OT_ETHERMAC:
		if (parse_ethermac(c))
			return -1;
		break;
	}
	*c->xflags |= eflag;
	return 0;
}

static const struct uxt_opt *opt_by_id(const struct uxt_opt *opts,
				       unsigned int id)
{
	for (; opts->name != NULL; ++opts)
		if (opts->id == id)
			return opts;
	return NULL;
}

int uxt_opt_fcheck(const char *name, unsigned int xflags,
		   const struct uxt_opt *table, struct uxt_err *err)
{
	const struct uxt_opt *entry, *other;

	for (entry = table; entry->name != NULL; ++entry) {
		if ((entry->flags & UXT_OPT_MAND) && !(xflags & (1u << entry->id)))
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "%s: option \"--%s\" must be specified\n",
					 name, entry->name);
		if (!(xflags & (1u << entry->id)))
			continue;
		for (unsigned int i = 0; i < 32; ++i) {
			unsigned int ef = 1u << entry->id, of = 1u << i;

			if (entry->id == i)
				continue;
			other = opt_by_id(table, i);
			if (other == NULL)
				continue;
			if ((entry->also & of) && !(xflags & of))
				return uxt_error(err, UXT_PARAMETER_PROBLEM,
						 "%s: option \"--%s\" also requires \"--%s\".\n",
						 name, entry->name, other->name);
			if (!(entry->excl & of))
				continue;
			if ((xflags & (ef | of)) != (ef | of))
				continue;
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "%s: option \"--%s\" cannot be used together with \"--%s\".\n",
					 name, entry->name, other->name);
		}
	}
	return 0;
}
