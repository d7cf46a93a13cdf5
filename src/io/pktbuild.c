/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Building one IPv4 datagram from iptables-style options: see pktbuild.h
 * for the defaults.  The bytes follow what a Linux host puts on the wire
 * (compared with ping, TCP connect and UDP sends captured by
 * tests/front_doors.py).
 */
#include "pktbuild.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ext.h"
#include "icmp.h"
#include "parse.h"

#define IP_HDR_LEN 20
#define TCP_HDR_LEN 20
#define UDP_HDR_LEN 8
#define ICMP_HDR_LEN 8

/* What Linux puts in a SYN by default (tcp_syn_options). */
#define DEFAULT_MSS 1460
#define DEFAULT_WSCALE 7
#define SYN_WINDOW 64240
/* 64240 >> 7, the window of the segments after the handshake */
#define ESTABLISHED_WINDOW 502
#define DEFAULT_SPORT 40000
#define DEFAULT_TCP_DPORT 80
#define DEFAULT_UDP_DPORT 9
/* ping's default data size (-s 56) */
#define PING_DATA_LEN 56
/* ping puts a struct timeval first when the data has room for one */
#define PING_TIMEVAL_LEN 16

/* TCP flag bits and the names iptables' tcp match gives them */
#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20

static const struct {
	const char *name;
	uint8_t bits;
} tcp_flag_names[] = {
	{"FIN", TCPF_FIN}, {"SYN", TCPF_SYN}, {"RST", TCPF_RST},
	{"PSH", TCPF_PSH}, {"ACK", TCPF_ACK}, {"URG", TCPF_URG},
	{"ALL", 0x3F},	   {"NONE", 0},
};

/* The data of the icmp match (struct ipt_icmp, the kernel's layout). */
struct icmp_match_data {
	uint8_t type;
	uint8_t code[2];
	uint8_t invflags;
};

void uxt_pkt_spec_init(struct uxt_pkt_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->proto = IPPROTO_ICMP;
	s->length = -1;
	s->ttl = 64;
}

void uxt_pkt_spec_free(struct uxt_pkt_spec *s)
{
	free(s->payload);
	s->payload = NULL;
}

static int parse_addr(const char *arg, uint32_t *out, const char *opt,
		      struct uxt_err *err)
{
	uint32_t *addrs = NULL, mask = 0;
	unsigned int n = 0;

	if (uxt_numeric_to_ipaddr(arg, out))
		return 0;
	if (uxt_ipparse_any(arg, &addrs, &mask, &n, err))
		return -1;
	if (n != 1 || mask != 0xFFFFFFFFu) {
		free(addrs);
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "%s %s: a packet needs one address", opt, arg);
	}
	*out = addrs[0];
	free(addrs);
	return 0;
}

static int parse_number(const char *arg, unsigned long max, unsigned long *out,
			const char *opt, struct uxt_err *err)
{
	uintmax_t v;

	if (!uxt_strtoul(arg, NULL, &v, 0, max))
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "--%s \"%s\": not a number from 0 to %lu", opt,
				 arg, max);
	*out = (unsigned long)v;
	return 0;
}

/* "SYN,ACK" with the names of iptables' --tcp-flags */
static int parse_tcp_flags(const char *arg, uint8_t *out, struct uxt_err *err)
{
	const char *p = arg;
	uint8_t bits = 0;

	for (;;) {
		size_t len = strcspn(p, ",");
		size_t i;

		for (i = 0; i < sizeof(tcp_flag_names) / sizeof(tcp_flag_names[0]); i++)
			if (strlen(tcp_flag_names[i].name) == len &&
			    strncasecmp(tcp_flag_names[i].name, p, len) == 0)
				break;
		if (i == sizeof(tcp_flag_names) / sizeof(tcp_flag_names[0]))
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "Unknown TCP flag `%.*s'", (int)len, p);
		bits |= tcp_flag_names[i].bits;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*out = bits;
	return 0;
}

/*
 * --icmp-type as the icmp match spells it (names, unambiguous prefixes,
 * type[/code]): the match's own parser fills its record, so the names and
 * messages are iptables' own.
 */
static int parse_icmp_type(const char *arg, uint8_t *type, uint8_t *code,
			   struct uxt_err *err)
{
	const struct uxt_ext *ext = uxt_ext_find("icmp", UXT_MATCH);
	union {
		struct icmp_match_data icmp;
		unsigned char bytes[64];
		uint64_t align;
	} data;
	unsigned char udata[256];
	struct uxt_opt_call call;
	struct uxt_ip ip;
	struct uxt_buf warn;
	unsigned int xflags = 0;
	int optind = 0, ret;

	if (!ext || !ext->parse || ext->size > sizeof(data) ||
	    ext->udata_size > sizeof(udata))
		return uxt_error(err, UXT_OTHER_PROBLEM,
				 "the icmp match is not available");
	memset(&data, 0, sizeof(data));
	memset(udata, 0, sizeof(udata));
	memset(&ip, 0, sizeof(ip));
	ip.proto = IPPROTO_ICMP;
	if (ext->init)
		ext->init(&data);
	memset(&call, 0, sizeof(call));
	call.ext = ext;
	for (call.opt = ext->opts; call.opt && call.opt->name; call.opt++)
		if (strcmp(call.opt->name, "icmp-type") == 0)
			break;
	if (!call.opt || !call.opt->name)
		return uxt_error(err, UXT_OTHER_PROBLEM,
				 "the icmp match has no --icmp-type");
	uxt_buf_init(&warn, -1);
	call.arg = arg;
	call.data = &data;
	call.xflags = &xflags;
	call.udata = udata;
	call.ip = &ip;
	call.optind = &optind;
	call.err = err;
	call.warn = &warn;
	ret = ext->parse(&call);
	uxt_buf_free(&warn);
	if (ret)
		return -1;
	if (data.icmp.type == 0xFF)
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "--icmp-type %s: a packet needs one type", arg);
	*type = data.icmp.type;
	/* a name or number without a code means the usual code 0; a range
	 * gives its first code */
	*code = data.icmp.code[0];
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* TEXT, or 0xHEX */
static int parse_payload(struct uxt_pkt_spec *s, const char *arg,
			 struct uxt_err *err)
{
	size_t len = strlen(arg), n;
	unsigned char *buf;

	free(s->payload);
	s->payload = NULL;
	if (len >= 2 && arg[0] == '0' && (arg[1] == 'x' || arg[1] == 'X')) {
		const char *h = arg + 2;
		size_t hl = strlen(h);

		if (hl % 2)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "--payload %s: odd number of hex digits", arg);
		if (hl / 2 > UXT_PKT_MAXLEN)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "--payload: longer than a datagram");
		buf = malloc(hl / 2 + 1);
		if (!buf)
			return uxt_error(err, UXT_RESOURCE_PROBLEM, "out of memory");
		for (n = 0; n < hl / 2; n++) {
			int hi = hexval((unsigned char)h[2 * n]);
			int lo = hexval((unsigned char)h[2 * n + 1]);

			if (hi < 0 || lo < 0) {
				free(buf);
				return uxt_error(err, UXT_PARAMETER_PROBLEM,
						 "--payload %s: not a hex digit at %zu",
						 arg, 2 * n + 2);
			}
			buf[n] = (unsigned char)(hi << 4 | lo);
		}
		len = n;
	} else {
		if (len > UXT_PKT_MAXLEN)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "--payload: longer than a datagram");
		buf = malloc(len + 1);
		if (!buf)
			return uxt_error(err, UXT_RESOURCE_PROBLEM, "out of memory");
		memcpy(buf, arg, len);
	}
	s->payload = buf;
	s->payload_len = len;
	s->have_payload = true;
	return 0;
}

int uxt_pkt_spec_option(struct uxt_pkt_spec *s, const char *name,
			const char *arg, struct uxt_err *err)
{
	unsigned long v = 0;

	if (strcmp(name, "source") == 0) {
		s->have_saddr = true;
		return parse_addr(arg, &s->saddr, "-s", err);
	}
	if (strcmp(name, "destination") == 0) {
		s->have_daddr = true;
		return parse_addr(arg, &s->daddr, "-d", err);
	}
	if (strcmp(name, "protocol") == 0) {
		uint16_t proto;

		if (uxt_parse_protocol(arg, &proto, err))
			return -1;
		if (proto == 0 || proto > 255)
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "-p %s: a packet needs one protocol", arg);
		s->proto = (uint8_t)proto;
		s->have_proto = true;
		return 0;
	}
	if (strcmp(name, "sport") == 0) {
		s->sport_arg = arg;
		return 0;
	}
	if (strcmp(name, "dport") == 0) {
		s->dport_arg = arg;
		return 0;
	}
	if (strcmp(name, "tcp-flags") == 0) {
		s->have_tcp_flags = true;
		return parse_tcp_flags(arg, &s->tcp_flags, err);
	}
	if (strcmp(name, "icmp-type") == 0) {
		s->have_icmp_type = true;
		return parse_icmp_type(arg, &s->icmp_type, &s->icmp_code, err);
	}
	if (strcmp(name, "length") == 0) {
		if (parse_number(arg, UXT_PKT_MAXLEN, &v, name, err))
			return -1;
		s->length = (long)v;
		return 0;
	}
	if (strcmp(name, "ttl") == 0) {
		if (parse_number(arg, 255, &v, name, err))
			return -1;
		s->ttl = (uint8_t)v;
		return 0;
	}
	if (strcmp(name, "tos") == 0) {
		if (parse_number(arg, 255, &v, name, err))
			return -1;
		s->tos = (uint8_t)v;
		return 0;
	}
	if (strcmp(name, "id") == 0) {
		if (parse_number(arg, 65535, &v, name, err))
			return -1;
		s->ip_id = (uint16_t)v;
		s->have_ip_id = true;
		return 0;
	}
	if (strcmp(name, "df") == 0) {
		s->df = s->have_df = true;
		return 0;
	}
	if (strcmp(name, "mark") == 0) {
		if (parse_number(arg, UINT32_MAX, &v, name, err))
			return -1;
		s->mark = (uint32_t)v;
		return 0;
	}
	if (strcmp(name, "payload") == 0)
		return parse_payload(s, arg, err);
	return uxt_error(err, UXT_PARAMETER_PROBLEM, "unknown packet option --%s",
			 name);
}

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP;
}

int uxt_pkt_spec_check(struct uxt_pkt_spec *s, struct uxt_err *err)
{
	const char *pname = s->proto == IPPROTO_TCP ? "tcp" : "udp";

	if ((s->sport_arg || s->dport_arg) && !has_ports(s->proto))
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "--sport and --dport need -p tcp or -p udp");
	if (s->have_tcp_flags && s->proto != IPPROTO_TCP)
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "--tcp-flags needs -p tcp");
	if (s->have_icmp_type && s->proto != IPPROTO_ICMP)
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "--icmp-type needs -p icmp");
	s->sport = DEFAULT_SPORT;
	s->dport = s->proto == IPPROTO_TCP ? DEFAULT_TCP_DPORT : DEFAULT_UDP_DPORT;
	if (s->sport_arg && uxt_parse_port(s->sport_arg, pname, &s->sport, err))
		return -1;
	if (s->dport_arg && uxt_parse_port(s->dport_arg, pname, &s->dport, err))
		return -1;
	if (!s->have_tcp_flags)
		s->tcp_flags = TCPF_SYN;
	if (!s->have_icmp_type) {
		s->icmp_type = UXT_ICMP_ECHO;
		s->icmp_code = 0;
	}
	return 0;
}

/* Building */

struct builder {
	unsigned char *buf;		/* the datagram, UXT_PKT_MAXLEN bytes */
	size_t l4_len;			/* transport header (and fixed body) */
	size_t data_len;		/* what follows it */
};

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static bool icmp_is_echo(uint8_t type)
{
	return type == UXT_ICMP_ECHO || type == UXT_ICMP_ECHOREPLY;
}

static bool icmp_is_error(uint8_t type)
{
	return type == UXT_ICMP_DEST_UNREACH || type == UXT_ICMP_SOURCE_QUENCH ||
	       type == UXT_ICMP_REDIRECT || type == UXT_ICMP_TIME_EXCEEDED ||
	       type == UXT_ICMP_PARAMETERPROB;
}

/* The TCP header and options of the usual segment with these flags. */
static size_t build_tcp(const struct uxt_pkt_spec *s, unsigned char *t)
{
	size_t optlen = 0;
	unsigned char *o = t + TCP_HDR_LEN;
	uint8_t f = s->tcp_flags;
	uint16_t window;

	put16(t, s->sport);
	put16(t + 2, s->dport);
	put32(t + 4, 1);
	put32(t + 8, (f & TCPF_ACK) ? 1 : 0);
	if (f & TCPF_SYN) {
		/* tcp_options_write() order of a SYN: mss, sackOK+TS, nop,
		 * wscale */
		o[0] = 2;
		o[1] = 4;
		put16(o + 2, DEFAULT_MSS);
		o[4] = 4;
		o[5] = 2;
		o[6] = 8;
		o[7] = 10;
		put32(o + 8, 1);
		put32(o + 12, (f & TCPF_ACK) ? 1 : 0);
		o[16] = 1;
		o[17] = 3;
		o[18] = 3;
		o[19] = DEFAULT_WSCALE;
		optlen = 20;
		window = SYN_WINDOW;
	} else if (f & TCPF_RST) {
		/* tcp_v4_send_reset(): no options, no window */
		window = 0;
	} else {
		o[0] = 1;
		o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		put32(o + 4, 1);
		put32(o + 8, (f & TCPF_ACK) ? 1 : 0);
		optlen = 12;
		window = ESTABLISHED_WINDOW;
	}
	t[12] = (unsigned char)(((TCP_HDR_LEN + optlen) / 4) << 4);
	t[13] = f;
	put16(t + 14, window);
	put16(t + 16, 0);
	put16(t + 18, 0);
	return TCP_HDR_LEN + optlen;
}

/* An ICMP message's header and fixed body (what comes before the data). */
static size_t build_icmp(const struct uxt_pkt_spec *s, unsigned char *m)
{
	memset(m, 0, ICMP_HDR_LEN);
	m[0] = s->icmp_type;
	m[1] = s->icmp_code;
	switch (s->icmp_type) {
	case UXT_ICMP_ECHO:
	case UXT_ICMP_ECHOREPLY:
	case 13: /* timestamp request / reply */
	case 14:
	case 15: /* information request / reply */
	case 16:
	case 17: /* address mask request / reply */
	case 18:
		put16(m + 4, 1);
		put16(m + 6, 1);
		break;
	case UXT_ICMP_DEST_UNREACH:
		if (s->icmp_code == UXT_ICMP_FRAG_NEEDED)
			put16(m + 6, 1500);
		break;
	case UXT_ICMP_REDIRECT:
		/* the better gateway: the sender itself */
		memcpy(m + 4, &s->saddr, 4);
		break;
	case UXT_ICMP_PARAMETERPROB:
		m[4] = 0;
		break;
	case 9: /* router advertisement without addresses */
		m[5] = 2;
		put16(m + 6, 1800);
		break;
	default:
		break;
	}
	return ICMP_HDR_LEN;
}

/*
 * The data an ICMP message carries by default, into d (room for cap
 * bytes); returns its length.
 */
static size_t icmp_default_data(const struct uxt_pkt_spec *s, unsigned char *d,
				size_t want)
{
	if (icmp_is_echo(s->icmp_type)) {
		/* ping: byte i is i, a struct timeval over the first 16 when
		 * there is room (x86-64: two little-endian 64-bit fields) */
		for (size_t i = 0; i < want; i++)
			d[i] = (unsigned char)i;
		if (want >= PING_TIMEVAL_LEN) {
			put_le64(d, s->time_ns / 1000000000u);
			put_le64(d + 8, (s->time_ns % 1000000000u) / 1000u);
		}
		return want;
	}
	if (icmp_is_error(s->icmp_type)) {
		/* icmp_send() quotes the datagram's IP header and 8 bytes:
		 * here a UDP datagram from the destination to the source */
		unsigned char *q = d;
		uint16_t sum;

		if (want < IP_HDR_LEN + UDP_HDR_LEN)
			return 0;
		memset(q, 0, IP_HDR_LEN + UDP_HDR_LEN);
		q[0] = 0x45;
		put16(q + 2, IP_HDR_LEN + UDP_HDR_LEN);
		put16(q + 4, 1);
		q[8] = 64;
		q[9] = IPPROTO_UDP;
		memcpy(q + 12, &s->daddr, 4);
		memcpy(q + 16, &s->saddr, 4);
		sum = uxt_csum(q, IP_HDR_LEN, 0);
		memcpy(q + 10, &sum, 2);
		put16(q + 20, DEFAULT_SPORT);
		put16(q + 22, 33434);	/* traceroute's first port */
		put16(q + 24, UDP_HDR_LEN);
		return IP_HDR_LEN + UDP_HDR_LEN;
	}
	if (s->icmp_type == 13 || s->icmp_type == 14) {
		memset(d, 0, 12);	/* originate, receive, transmit */
		return want < 12 ? want : 12;
	}
	if (s->icmp_type == 17 || s->icmp_type == 18) {
		memset(d, 0, 4);	/* the mask */
		return want < 4 ? want : 4;
	}
	return 0;
}

/* The default length of the data after the transport header. */
static size_t default_data_len(const struct uxt_pkt_spec *s)
{
	if (s->proto != IPPROTO_ICMP)
		return 0;
	if (icmp_is_echo(s->icmp_type))
		return PING_DATA_LEN;
	if (icmp_is_error(s->icmp_type))
		return IP_HDR_LEN + UDP_HDR_LEN;
	if (s->icmp_type == 13 || s->icmp_type == 14)
		return 12;
	if (s->icmp_type == 17 || s->icmp_type == 18)
		return 4;
	return 0;
}

static void l4_checksum(const struct uxt_pkt_spec *s, unsigned char *l4,
			size_t len)
{
	uint16_t sum;

	switch (s->proto) {
	case IPPROTO_TCP:
		if (len < TCP_HDR_LEN)
			return;
		sum = uxt_csum(l4, len, uxt_pseudo_sum(s->saddr, s->daddr,
						       IPPROTO_TCP, (uint16_t)len));
		memcpy(l4 + 16, &sum, 2);
		break;
	case IPPROTO_UDP:
		if (len < UDP_HDR_LEN)
			return;
		sum = uxt_csum(l4, len, uxt_pseudo_sum(s->saddr, s->daddr,
						       IPPROTO_UDP, (uint16_t)len));
		/* a computed zero is sent as all ones (RFC 768) */
		if (sum == 0)
			sum = 0xFFFF;
		memcpy(l4 + 6, &sum, 2);
		break;
	case IPPROTO_ICMP:
		if (len < ICMP_HDR_LEN)
			return;
		sum = uxt_csum(l4, len, 0);
		memcpy(l4 + 2, &sum, 2);
		break;
	default:
		break;
	}
}

int uxt_pkt_build(const struct uxt_pkt_spec *s, struct uxt_pkt *pkt,
		  struct uxt_err *err)
{
	unsigned char *buf = calloc(1, UXT_PKT_MAXLEN);
	unsigned char *l4 = buf + IP_HDR_LEN;
	size_t l4_len = 0, data_len, total, room;
	bool df;

	if (!buf)
		return uxt_error(err, UXT_RESOURCE_PROBLEM, "out of memory");
	if (s->proto == IPPROTO_TCP)
		l4_len = build_tcp(s, l4);
	else if (s->proto == IPPROTO_UDP) {
		put16(l4, s->sport);
		put16(l4 + 2, s->dport);
		l4_len = UDP_HDR_LEN;
	} else if (s->proto == IPPROTO_ICMP)
		l4_len = build_icmp(s, l4);

	room = UXT_PKT_MAXLEN - IP_HDR_LEN - l4_len;
	if (s->length >= 0) {
		if ((size_t)s->length < IP_HDR_LEN + l4_len) {
			free(buf);
			return uxt_error(err, UXT_PARAMETER_PROBLEM,
					 "--length %ld is shorter than the headers (%zu bytes)",
					 s->length, IP_HDR_LEN + l4_len);
		}
		data_len = (size_t)s->length - IP_HDR_LEN - l4_len;
	} else {
		data_len = s->have_payload ? s->payload_len : default_data_len(s);
	}
	if (data_len > room) {
		free(buf);
		return uxt_error(err, UXT_PARAMETER_PROBLEM,
				 "the datagram would be longer than %d bytes",
				 UXT_PKT_MAXLEN);
	}
	if (s->have_payload) {
		/* cut, or padded with zeros up to --length */
		memcpy(l4 + l4_len, s->payload,
		       s->payload_len < data_len ? s->payload_len : data_len);
	} else if (s->proto == IPPROTO_ICMP) {
		size_t made = icmp_default_data(s, l4 + l4_len, data_len);

		(void)made;	/* the rest stays zero */
	}
	total = IP_HDR_LEN + l4_len + data_len;
	if (s->proto == IPPROTO_UDP)
		put16(l4 + 4, (uint16_t)(l4_len + data_len));
	l4_checksum(s, l4, l4_len + data_len);

	/* Linux sets DF on what its sockets send (ip_dont_fragment with
	 * IP_PMTUDISC_WANT): ping, TCP and UDP */
	df = s->have_df || s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP ||
	     (s->proto == IPPROTO_ICMP && s->icmp_type == UXT_ICMP_ECHO);
	buf[0] = 0x45;
	buf[1] = s->tos;
	put16(buf + 2, (uint16_t)total);
	put16(buf + 4, s->ip_id);
	put16(buf + 6, df ? UXT_IP_DF : 0);
	buf[8] = s->ttl;
	buf[9] = s->proto;
	memcpy(buf + 12, &s->saddr, 4);
	memcpy(buf + 16, &s->daddr, 4);
	{
		uint16_t sum = uxt_csum(buf, IP_HDR_LEN, 0);

		memcpy(buf + 10, &sum, 2);
	}
	if (uxt_pkt_init_copy(pkt, buf, (uint32_t)total, (uint32_t)total)) {
		free(buf);
		return uxt_error(err, UXT_RESOURCE_PROBLEM, "out of memory");
	}
	free(buf);
	pkt->mark = s->mark;
	return 0;
}

uint32_t uxt_pkt_neighbour_addr(const struct uxt_iface *dev)
{
	for (unsigned int i = 0; dev && i < dev->naddrs; i++) {
		const struct uxt_ifaddr *a = &dev->addrs[i];
		uint32_t mask, net, bcast, host;

		if (a->prefixlen >= 31 || a->prefixlen == 0)
			continue;
		mask = 0xFFFFFFFFu << (32 - a->prefixlen);
		net = ntohl(a->addr) & mask;
		bcast = net | ~mask;
		for (host = net + 1; host < bcast && host < net + 1 + UXT_HOST_MAX_ADDRS + 1;
		     host++) {
			bool own = false;

			for (unsigned int j = 0; j < dev->naddrs; j++)
				if (ntohl(dev->addrs[j].addr) == host)
					own = true;
			if (!own)
				return htonl(host);
		}
	}
	return htonl(0x0A000001u);
}

void uxt_pkt_set_rx_link(struct uxt_pkt *pkt, const struct uxt_host *host,
			 const struct uxt_iface *dev)
{
	const struct uxt_iphdr *iph = uxt_iph(pkt);
	uint32_t daddr = iph->daddr, saddr = iph->saddr;
	unsigned char *h = pkt->mac;

	pkt->pkt_type = UXT_PACKET_HOST;
	pkt->mac_len = 0;
	pkt->hwtype = dev ? dev->type : UXT_ARPHRD_NONE;
	if (!dev)
		return;
	if (dev->loopback || dev->type == UXT_ARPHRD_LOOPBACK) {
		memset(h, 0, 12);
		h[12] = 0x08;
		h[13] = 0x00;
		pkt->mac_len = 14;
		pkt->hwtype = UXT_ARPHRD_LOOPBACK;
		return;
	}
	if (dev->type != UXT_ARPHRD_ETHER || dev->mac_len != 6)
		return;
	if (daddr == 0xFFFFFFFFu ||
	    (host && uxt_host_is_broadcast(host, dev, daddr))) {
		memset(h, 0xFF, 6);
		pkt->pkt_type = UXT_PACKET_BROADCAST;
	} else if ((ntohl(daddr) & 0xF0000000u) == 0xE0000000u) {
		/* RFC 1112 mapping of a group to a MAC */
		uint32_t g = ntohl(daddr);

		h[0] = 0x01;
		h[1] = 0x00;
		h[2] = 0x5E;
		h[3] = (unsigned char)((g >> 16) & 0x7F);
		h[4] = (unsigned char)(g >> 8);
		h[5] = (unsigned char)g;
		pkt->pkt_type = UXT_PACKET_MULTICAST;
	} else {
		memcpy(h, dev->mac, 6);
	}
	h[6] = 0x02;
	h[7] = 0x00;
	memcpy(h + 8, &saddr, 4);
	h[12] = 0x08;
	h[13] = 0x00;
	pkt->mac_len = 14;
}
