/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tcp match: ports, flags and an option kind of a TCP header (-p tcp).
 *
 * Command line as libxt_tcp (the older option style: its own messages for
 * repeated options, --tcp-flags taking two words); kernel side as xt_tcpudp:
 * the rule must say "-p tcp" without "!".
 *
 * Packet side as xt_tcpudp's tcp_mt: a non-first fragment never matches
 * (and one at offset 1, which could overwrite the flags of the first,
 * drops the packet); a header cut short, a data offset below 5 when an
 * option is asked for, or options running past the datagram drop it too.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine.h"
#include "ext.h"
#include "parse.h"

struct uxt_tcp_info {
	uint16_t spts[2];	/* source port range */
	uint16_t dpts[2];	/* destination port range */
	uint8_t option;		/* TCP option kind, 0: any */
	uint8_t flg_mask;
	uint8_t flg_cmp;
	uint8_t invflags;	/* UXT_TCP_INV_* */
};

#define UXT_TCP_INV_SRCPT 0x01
#define UXT_TCP_INV_DSTPT 0x02
#define UXT_TCP_INV_FLAGS 0x04
#define UXT_TCP_INV_OPTION 0x08
#define UXT_TCP_INV_MASK 0x0F

/* option ids (the old style's getopt values) */
enum { O_SPORT = 1, O_DPORT, O_SYN, O_FLAGS, O_OPTION };

/* flags of the options already seen */
#define F_SRC_PORTS 0x01
#define F_DST_PORTS 0x02
#define F_FLAGS 0x04
#define F_OPTION 0x08

static void tcp_help(struct uxt_buf *out)
{
	uxt_buf_puts(out,
		     "tcp match options:\n"
		     "[!] --tcp-flags mask comp\tmatch when TCP flags & mask == comp\n"
		     "\t\t\t\t(Flags: SYN ACK FIN RST URG PSH ALL NONE)\n"
		     "[!] --syn\t\t\tmatch when only SYN flag set\n"
		     "\t\t\t\t(equivalent to --tcp-flags SYN,RST,ACK,FIN SYN)\n"
		     "[!] --source-port port[:port]\n"
		     " --sport ...\n"
		     "\t\t\t\tmatch source port(s)\n"
		     "[!] --destination-port port[:port]\n"
		     " --dport ...\n"
		     "\t\t\t\tmatch destination port(s)\n"
		     "[!] --tcp-option number        match if TCP option set\n");
}

static const struct uxt_opt tcp_opts[] = {
	{.name = "source-port", .has_arg = 1, .id = O_SPORT},
	{.name = "sport", .has_arg = 1, .id = O_SPORT},
	{.name = "destination-port", .has_arg = 1, .id = O_DPORT},
	{.name = "dport", .has_arg = 1, .id = O_DPORT},
	{.name = "syn", .has_arg = 0, .id = O_SYN},
	{.name = "tcp-flags", .has_arg = 1, .id = O_FLAGS},
	{.name = "tcp-option", .has_arg = 1, .id = O_OPTION},
	{.name = NULL},
};

static const struct {
	const char *name;
	unsigned int flag;
} tcp_flag_names[] = {
	{"FIN", 0x01}, {"SYN", 0x02}, {"RST", 0x04}, {"PSH", 0x08},
	{"ACK", 0x10}, {"URG", 0x20}, {"ALL", 0x3F}, {"NONE", 0},
};
#define N_FLAG_NAMES (sizeof(tcp_flag_names) / sizeof(tcp_flag_names[0]))

static void tcp_init(void *data)
{
	struct uxt_tcp_info *info = data;

	info->spts[1] = info->dpts[1] = 0xFFFF;
}

static int parse_ports(const char *portstring, uint16_t *ports,
		       struct uxt_err *err)
{
	char small[64];
	size_t len = strlen(portstring);
	char *buffer = len < sizeof(small) ? memcpy(small, portstring, len + 1)
					   : strdup(portstring);
	char *cp;
	int ret = -1;

	if (!buffer)
		abort();
	cp = strchr(buffer, ':');
	if (cp == NULL) {
		if (uxt_parse_port(buffer, "tcp", &ports[0], err) == 0) {
			ports[1] = ports[0];
			ret = 0;
		}
		goto out;
	}
	*cp++ = '\0';
	ports[0] = 0;
	ports[1] = 0xFFFF;
	if (buffer[0] && uxt_parse_port(buffer, "tcp", &ports[0], err))
		goto out;
	if (cp[0] && uxt_parse_port(cp, "tcp", &ports[1], err))
		goto out;
	if (ports[0] > ports[1]) {
		uxt_error(err, UXT_PARAMETER_PROBLEM, "invalid portrange (min > max)");
		goto out;
	}
	ret = 0;
out:
	if (buffer != small)
		free(buffer);
	return ret;
}

static int parse_flag_list(const char *flags, uint8_t *out, struct uxt_err *err)
{
	unsigned int ret = 0;
	const char *p = flags;

	/* strtok(",") semantics: empty items are skipped */
	while (*p) {
		size_t len = strcspn(p, ",");
		size_t i;

		if (len == 0) {
			p++;
			continue;
		}
		for (i = 0; i < N_FLAG_NAMES; ++i)
			if (strlen(tcp_flag_names[i].name) == len &&
			    strncasecmp(tcp_flag_names[i].name, p, len) == 0) {
				ret |= tcp_flag_names[i].flag;
				break;
			}
		if (i == N_FLAG_NAMES)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "Unknown TCP flag `%.*s'", (int)len, p);
		p += len;
	}
	*out = (uint8_t)ret;
	return 0;
}

static int parse_flags(struct uxt_tcp_info *info, const char *mask,
		       const char *cmp, bool invert, struct uxt_err *err)
{
	if (parse_flag_list(mask, &info->flg_mask, err) ||
	    parse_flag_list(cmp, &info->flg_cmp, err))
		return -1;
	if (invert)
		info->invflags |= UXT_TCP_INV_FLAGS;
	return 0;
}

static int tcp_parse(struct uxt_opt_call *c)
{
	struct uxt_tcp_info *info = c->data;
	unsigned int *flags = c->xflags;
	unsigned int option;

	switch (c->opt->id) {
	case O_SPORT:
		if (*flags & F_SRC_PORTS)
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "Only one `--source-port' allowed");
		if (parse_ports(c->arg, info->spts, c->err))
			return -1;
		if (c->invert)
			info->invflags |= UXT_TCP_INV_SRCPT;
		*flags |= F_SRC_PORTS;
		break;
	case O_DPORT:
		if (*flags & F_DST_PORTS)
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "Only one `--destination-port' allowed");
		if (parse_ports(c->arg, info->dpts, c->err))
			return -1;
		if (c->invert)
			info->invflags |= UXT_TCP_INV_DSTPT;
		*flags |= F_DST_PORTS;
		break;
	case O_SYN:
		if (*flags & F_FLAGS)
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "Only one of `--syn' or `--tcp-flags'  allowed");
		if (parse_flags(info, "SYN,RST,ACK,FIN", "SYN", c->invert, c->err))
			return -1;
		*flags |= F_FLAGS;
		break;
	case O_FLAGS: {
		const char *next = *c->optind < c->argc ? c->argv[*c->optind] : NULL;

		if (*flags & F_FLAGS)
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "Only one of `--syn' or `--tcp-flags'  allowed");
		if (!next || next[0] == '-' || next[0] == '!')
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "--tcp-flags requires two args.");
		if (parse_flags(info, c->arg, next, c->invert, c->err))
			return -1;
		(*c->optind)++;
		*flags |= F_FLAGS;
		break;
	}
	case O_OPTION:
		if (*flags & F_OPTION)
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "Only one `--tcp-option' allowed");
		if (!uxt_strtoui(c->arg, NULL, &option, 1, UINT8_MAX))
			return uxt_error(c->err, UXT_PARAMETER_PROBLEM,
					 "Bad TCP option \"%s\"", c->arg);
		info->option = (uint8_t)option;
		if (c->invert)
			info->invflags |= UXT_TCP_INV_OPTION;
		*flags |= F_OPTION;
		break;
	}
	return 0;
}

static void print_tcpf(struct uxt_buf *b, uint8_t flags)
{
	bool have_flag = false;

	while (flags) {
		size_t i;

		for (i = 0; i < N_FLAG_NAMES && (flags & tcp_flag_names[i].flag) == 0; i++)
			;
		if (i == N_FLAG_NAMES) {
			/* bits no flag name covers: only a damaged state has
			 * them (iptables would read past its table here) */
			uxt_buf_printf(b, "%s0x%02X", have_flag ? "," : "", flags);
			return;
		}
		if (have_flag)
			uxt_buf_putc(b, ',');
		uxt_buf_puts(b, tcp_flag_names[i].name);
		have_flag = true;
		flags &= (uint8_t)~tcp_flag_names[i].flag;
	}
	if (!have_flag)
		uxt_buf_puts(b, "NONE");
}

static void tcp_print(struct uxt_buf *b, const struct uxt_ip *ip,
		      const void *data, bool numeric)
{
	const struct uxt_tcp_info *info = data;

	(void)ip;
	uxt_buf_puts(b, " tcp");
	uxt_print_port_range(b, "spt", info->spts[0], info->spts[1],
			     info->invflags & UXT_TCP_INV_SRCPT, numeric, "tcp");
	uxt_print_port_range(b, "dpt", info->dpts[0], info->dpts[1],
			     info->invflags & UXT_TCP_INV_DSTPT, numeric, "tcp");
	if (info->option || (info->invflags & UXT_TCP_INV_OPTION))
		uxt_buf_printf(b, " option=%s%u",
			       info->invflags & UXT_TCP_INV_OPTION ? "!" : "",
			       info->option);
	if (info->flg_mask || (info->invflags & UXT_TCP_INV_FLAGS)) {
		uxt_buf_printf(b, " flags:%s",
			       info->invflags & UXT_TCP_INV_FLAGS ? "!" : "");
		if (numeric) {
			uxt_buf_printf(b, "0x%02X/0x%02X", info->flg_mask,
				       info->flg_cmp);
		} else {
			print_tcpf(b, info->flg_mask);
			uxt_buf_putc(b, '/');
			print_tcpf(b, info->flg_cmp);
		}
	}
	if (info->invflags & ~UXT_TCP_INV_MASK)
		uxt_buf_printf(b, " Unknown invflags: 0x%X",
			       info->invflags & ~UXT_TCP_INV_MASK);
}

static void tcp_save(struct uxt_buf *b, const struct uxt_ip *ip,
		     const void *data)
{
	const struct uxt_tcp_info *info = data;

	(void)ip;
	uxt_save_port_range(b, "--sport", info->spts,
			    info->invflags & UXT_TCP_INV_SRCPT);
	uxt_save_port_range(b, "--dport", info->dpts,
			    info->invflags & UXT_TCP_INV_DSTPT);
	if (info->option || (info->invflags & UXT_TCP_INV_OPTION)) {
		if (info->invflags & UXT_TCP_INV_OPTION)
			uxt_buf_puts(b, " !");
		uxt_buf_printf(b, " --tcp-option %u", info->option);
	}
	if (info->flg_mask || (info->invflags & UXT_TCP_INV_FLAGS)) {
		if (info->invflags & UXT_TCP_INV_FLAGS)
			uxt_buf_puts(b, " !");
		uxt_buf_puts(b, " --tcp-flags ");
		print_tcpf(b, info->flg_mask);
		uxt_buf_putc(b, ' ');
		print_tcpf(b, info->flg_cmp);
	}
}

static int tcp_check(const struct uxt_check_call *call)
{
	const struct uxt_tcp_info *info = call->data;

	return (info->invflags & ~UXT_TCP_INV_MASK) ? -EINVAL : 0;
}

/* A port within [lo, hi], or outside it when inverted. */
static bool port_in_range(uint16_t lo, uint16_t hi, uint16_t port,
			  bool invert)
{
	return (port >= lo && port <= hi) ^ invert;
}

/*
 * tcp_find_option(): walks the options area (optlen bytes after the fixed
 * header) as the kernel does, which is not quite RFC 793: kinds 0 (end) and
 * 1 (nop) take one byte, any other kind takes its length byte's value, but
 * a length of 0 advances one byte (so the length byte is read as the next
 * kind, as is a length of 1), and the walk does not stop at kind 0, so a
 * kind after the end of the list is still found.  Lengths past the area
 * end the walk.
 */
static bool tcp_has_option(const struct uxt_pkt *pkt,
			   struct uxt_xt_param *par, uint8_t option,
			   unsigned int optlen, bool invert)
{
	const uint8_t *op;
	unsigned int i;

	if (optlen == 0)
		return invert;
	op = uxt_pkt_header(pkt, par->thoff + 20u, optlen);
	if (!op) {
		/* the header claims options the datagram does not hold */
		par->hotdrop = true;
		return false;
	}
	/* optlen <= 40 and i grows by at least 1 per turn */
	for (i = 0; i < optlen;) {
		if (op[i] == option)
			return !invert;
		if (op[i] < 2 || i == optlen - 1)
			i++;
		else
			i += op[i + 1] ? op[i + 1] : 1u;
	}
	return invert;
}

static bool tcp_match(const struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	const struct uxt_tcp_info *info = par->info;
	const uint8_t *th;
	unsigned int doff;

	if (par->fragoff != 0) {
		/* a fragment at offset 8 bytes can only be meant to rewrite
		 * the flags the first fragment showed the rules */
		if (par->fragoff == 1)
			par->hotdrop = true;
		return false;
	}
	th = uxt_pkt_header(pkt, par->thoff, 20);
	if (!th) {
		par->hotdrop = true;
		return false;
	}
	if (!port_in_range(info->spts[0], info->spts[1],
			   (uint16_t)(th[0] << 8 | th[1]),
			   info->invflags & UXT_TCP_INV_SRCPT))
		return false;
	if (!port_in_range(info->dpts[0], info->dpts[1],
			   (uint16_t)(th[2] << 8 | th[3]),
			   info->invflags & UXT_TCP_INV_DSTPT))
		return false;
	/* byte 13 holds CWR ECE URG ACK PSH RST SYN FIN */
	if (!(((th[13] & info->flg_mask) == info->flg_cmp) ^
	      !!(info->invflags & UXT_TCP_INV_FLAGS)))
		return false;
	if (info->option) {
		doff = (unsigned int)(th[12] >> 4) * 4u;
		if (doff < 20) {
			par->hotdrop = true;
			return false;
		}
		if (!tcp_has_option(pkt, par, info->option, doff - 20,
				    info->invflags & UXT_TCP_INV_OPTION))
			return false;
	}
	return true;
}

/*
 * For the classifier: tcp_match() reads 20 bytes of header (a shorter one
 * is hotdropped, whatever the ports), then fails at once on a port outside
 * a range that is not inverted.
 */
static bool tcp_cls_ports(const void *data, uint16_t sport[2],
			  uint16_t dport[2], unsigned int *hdrlen)
{
	const struct uxt_tcp_info *info = data;
	bool any = false;

	*hdrlen = 20;
	if (!(info->invflags & UXT_TCP_INV_SRCPT)) {
		sport[0] = info->spts[0];
		sport[1] = info->spts[1];
		any = true;
	}
	if (!(info->invflags & UXT_TCP_INV_DSTPT)) {
		dport[0] = info->dpts[0];
		dport[1] = info->dpts[1];
		any = true;
	}
	return any;
}

const struct uxt_ext uxt_ext_tcp = {
	.name = "tcp",
	.kind = UXT_MATCH,
	.size = sizeof(struct uxt_tcp_info),
	.usersize = sizeof(struct uxt_tcp_info),
	.opts = tcp_opts,
	.help = tcp_help,
	.init = tcp_init,
	.parse = tcp_parse,
	.print = tcp_print,
	.save = tcp_save,
	.proto = IPPROTO_TCP,
	.check = tcp_check,
	.match = tcp_match,
	.cls_ports = tcp_cls_ports,
};
