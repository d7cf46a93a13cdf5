/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tcpdump-style one-line summaries of IPv4 datagrams (see pktprint.h).
 *
 * Every read is checked against the captured length first; where tcpdump
 * would run out of captured bytes it prints "[|proto]", and so does this.
 * The texts were taken by running tcpdump 4.99 -n -S on crafted packets
 * (tests/front_doors.py keeps comparing them).
 */
#include "pktprint.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define IP_MIN_HLEN 20

/* A window on the bytes of one header: what was captured of it (cap) and
 * what the headers say it holds (len). */
struct view {
	const unsigned char *p;
	size_t cap;
	size_t len;
};

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put_addr(struct uxt_buf *b, const unsigned char *a)
{
	uxt_buf_printf(b, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

/* "src > dst: " or, with ports, "src.sport > dst.dport: " */
static void put_endpoints(struct uxt_buf *b, const unsigned char *iph,
			  const unsigned char *ports)
{
	put_addr(b, iph + 12);
	if (ports)
		uxt_buf_printf(b, ".%u", get16(ports));
	uxt_buf_puts(b, " > ");
	put_addr(b, iph + 16);
	if (ports)
		uxt_buf_printf(b, ".%u", get16(ports + 2));
	uxt_buf_puts(b, ": ");
}

/* TCP */

static const struct {
	uint8_t bit;
	char c;
} tcp_flag_chars[] = {
	{0x01, 'F'}, {0x02, 'S'}, {0x04, 'R'}, {0x08, 'P'},
	{0x10, '.'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'W'},
};

/*
 * The options of a TCP header (opt, n bytes, of which cap were captured),
 * as tcpdump walks them: a known option is read at its own size whatever
 * its length byte says (the difference is shown as "[len N]"), an unknown
 * one is skipped by its length.  Returns false when a malformed or cut
 * option ended the printing, as tcpdump stops there.
 */
static bool tcp_options(struct uxt_buf *b, const unsigned char *opt, size_t n,
			size_t cap)
{
	size_t i = 0;
	bool first = true;

	if (cap > n)
		cap = n;
	uxt_buf_puts(b, ", options [");
	while (i < n) {
		uint8_t kind, len;
		size_t rem, datalen;
		const unsigned char *d;

		if (!first)
			uxt_buf_putc(b, ',');
		if (i >= cap) {
			uxt_buf_puts(b, " [|tcp]");
			return false;
		}
		kind = opt[i];
		if (kind == 0 || kind == 1) {
			uxt_buf_puts(b, kind ? "nop" : "eol");
			first = false;
			i++;
			if (kind == 0)
				break;
			continue;
		}
		if (i + 1 >= cap) {
			uxt_buf_puts(b, " [|tcp]");
			return false;
		}
		len = opt[i + 1];
		rem = n - i - 2;
		if (len < 2 || len > n - i) {
			uxt_buf_puts(b, first ? "[bad opt]" : "[bad opt]]");
			return false;
		}
		switch (kind) {
		case 2:
			datalen = 2;
			break;
		case 3:
			datalen = 1;
			break;
		case 4:
			datalen = 0;
			break;
		case 6:
		case 7:
			datalen = 4;
			break;
		case 8:
			datalen = 8;
			break;
		default: /* SACK and the unknown: as long as they say */
			datalen = (size_t)len - 2;
			break;
		}
		if (datalen > rem) {
			uxt_buf_puts(b, first ? "[bad opt]" : "[bad opt]]");
			return false;
		}
		first = false;
		d = opt + i + 2;
		if (i + 2 + datalen > cap) {
			static const char *const names[] = {
				[2] = "mss", [3] = "wscale", [4] = "sackOK",
				[5] = "sack", [6] = "echo", [7] = "echoreply",
				[8] = "TS",
			};

			if (kind < 9 && names[kind])
				uxt_buf_puts(b, names[kind]);
			else
				uxt_buf_printf(b, "unknown-%u", kind);
			uxt_buf_puts(b, " [|tcp]");
			return false;
		}
		switch (kind) {
		case 2:
			uxt_buf_printf(b, "mss %u", get16(d));
			break;
		case 3:
			uxt_buf_printf(b, "wscale %u", d[0]);
			break;
		case 4:
			uxt_buf_puts(b, "sackOK");
			break;
		case 5:
			if (datalen % 8 != 0) {
				uxt_buf_puts(b, "sack invalid sack");
				break;
			}
			uxt_buf_printf(b, "sack %zu ", datalen / 8);
			for (size_t k = 0; k + 8 <= datalen; k += 8)
				uxt_buf_printf(b, "{%u:%u}", get32(d + k),
					       get32(d + k + 4));
			break;
		case 6:
		case 7:
			uxt_buf_printf(b, "%s %u", kind == 6 ? "echo" : "echoreply",
				       get32(d));
			break;
		case 8:
			uxt_buf_printf(b, "TS val %u ecr %u", get32(d), get32(d + 4));
			break;
		default:
			uxt_buf_printf(b, "unknown-%u", kind);
			if (datalen) {
				uxt_buf_puts(b, " 0x");
				for (size_t k = 0; k < datalen; k++)
					uxt_buf_printf(b, "%02x", d[k]);
			}
			break;
		}
		if (2 + datalen != len)
			uxt_buf_printf(b, "[len %u]", len);
		i += 2 + datalen;
	}
	uxt_buf_putc(b, ']');
	return true;
}

static void tcp_summary(struct uxt_buf *b, const unsigned char *iph,
			struct view v)
{
	unsigned int hlen;
	uint8_t flags;
	uint32_t seq, ack;
	size_t data_len;
	bool any = false;

	if (v.cap < 4) {
		put_endpoints(b, iph, NULL);
		uxt_buf_puts(b, " [|tcp]");
		return;
	}
	put_endpoints(b, iph, v.p);
	if (v.cap < 20) {
		uxt_buf_puts(b, " [|tcp]");
		return;
	}
	hlen = (unsigned int)(v.p[12] >> 4) * 4;
	if (hlen < 20) {
		uxt_buf_printf(b, " tcp %zu [bad hdr length %u - too short, < 20]",
			       v.len > hlen ? v.len - hlen : 0, hlen);
		return;
	}
	flags = v.p[13];
	uxt_buf_puts(b, "Flags [");
	for (size_t i = 0; i < sizeof(tcp_flag_chars) / sizeof(tcp_flag_chars[0]); i++)
		if (flags & tcp_flag_chars[i].bit) {
			uxt_buf_putc(b, tcp_flag_chars[i].c);
			any = true;
		}
	if (!any)
		uxt_buf_puts(b, "none");
	uxt_buf_putc(b, ']');
	if (hlen > v.len) {
		uxt_buf_printf(b, " [bad hdr length %u - too long, > %zu]", hlen,
			       v.len);
		return;
	}
	data_len = v.len - hlen;
	seq = get32(v.p + 4);
	ack = get32(v.p + 8);
	if (data_len || (flags & 0x07)) {
		uxt_buf_printf(b, ", seq %u", seq);
		if (data_len)
			uxt_buf_printf(b, ":%u", (uint32_t)(seq + data_len));
	}
	if (flags & 0x10)
		uxt_buf_printf(b, ", ack %u", ack);
	uxt_buf_printf(b, ", win %u", get16(v.p + 14));
	if (flags & 0x20)
		uxt_buf_printf(b, ", urg %u", get16(v.p + 18));
	if (hlen > 20) {
		size_t n = hlen - 20;

		if (!tcp_options(b, v.p + 20, n, v.cap < hlen ? v.cap - 20 : n))
			return;
		if (v.cap < hlen) {
			uxt_buf_puts(b, " [|tcp]");
			return;
		}
	}
	uxt_buf_printf(b, ", length %zu", data_len);
}

/* UDP */

static void udp_summary(struct uxt_buf *b, const unsigned char *iph,
			struct view v)
{
	unsigned int ulen;

	if (v.cap < 4) {
		put_endpoints(b, iph, NULL);
		uxt_buf_puts(b, " [|udp]");
		return;
	}
	if (v.len < 8) {
		put_endpoints(b, iph, v.p);
		uxt_buf_printf(b, "truncated-udp %zu", v.len);
		return;
	}
	if (v.cap < 8) {
		put_endpoints(b, iph, v.p);
		uxt_buf_puts(b, " [|udp]");
		return;
	}
	put_endpoints(b, iph, v.p);
	ulen = get16(v.p + 4);
	if (ulen < 8) {
		/* tcpdump prints these two words without a separator */
		uxt_buf_printf(b, "truncated-udplength %u", ulen);
		return;
	}
	if (ulen > v.len) {
		uxt_buf_printf(b, "UDP, bad length %u > %zu", ulen - 8, v.len - 8);
		return;
	}
	uxt_buf_printf(b, "UDP, length %u", ulen - 8);
}

/* ICMP */

static const char *const unreach_texts[] = {
	/* %A: the quoted datagram's destination */
	[0] = "net %A unreachable",
	[1] = "host %A unreachable",
	[5] = "%A unreachable - source route failed",
	[6] = "net %A unreachable - unknown",
	[7] = "host %A unreachable - unknown",
	[8] = "%A unreachable - source host isolated",
	[9] = "net %A unreachable - admin prohibited",
	[10] = "host %A unreachable - admin prohibited",
	[11] = "net %A unreachable - tos prohibited",
	[12] = "host %A unreachable - tos prohibited",
	[13] = "host %A unreachable - admin prohibited filter",
	[14] = "host %A unreachable - host precedence violation",
	[15] = "host %A unreachable - precedence cutoff",
};

/* Expands the single %A of text with the address at a. */
static void put_with_addr(struct uxt_buf *b, const char *text,
			  const unsigned char *a)
{
	const char *at = strstr(text, "%A");

	if (!at) {
		uxt_buf_puts(b, text);
		return;
	}
	uxt_buf_putn(b, text, (size_t)(at - text));
	put_addr(b, a);
	uxt_buf_puts(b, at + 2);
}

/* milliseconds since midnight UT as HH:MM:SS.mmm */
static void put_ms_time(struct uxt_buf *b, uint32_t ms)
{
	uxt_buf_printf(b, "%02u:%02u:%02u.%03u", ms / 3600000u,
		       ms / 60000u % 60u, ms / 1000u % 60u, ms % 1000u);
}

/*
 * The text of an ICMP message after "ICMP ", or false when it needs more
 * bytes than were captured.
 */
static bool icmp_text(struct uxt_buf *b, struct view v)
{
	const unsigned char *m = v.p;
	const unsigned char *inner = m + 8;
	size_t inner_cap = v.cap > 8 ? v.cap - 8 : 0;
	uint8_t type, code;
	bool errtype;

	if (v.cap < 8)
		return false;
	type = m[0];
	code = m[1];
	errtype = type == 3 || type == 4 || type == 5 || type == 11;
	/* these quote a datagram, and tcpdump wants its header */
	if (errtype && inner_cap < IP_MIN_HLEN)
		return false;
	switch (type) {
	case 0:
	case 8:
		uxt_buf_printf(b, "echo %s, id %u, seq %u",
			       type ? "request" : "reply", get16(m + 4),
			       get16(m + 6));
		return true;
	case 3:
		if (code == 2) {
			put_addr(b, inner + 16);
			uxt_buf_printf(b, " protocol %u unreachable", inner[9]);
		} else if (code == 3) {
			unsigned int ihl = (unsigned int)(inner[0] & 0x0F) * 4;

			if (inner_cap < ihl + 4)
				return false;
			put_addr(b, inner + 16);
			if (inner[9] == 6)
				uxt_buf_puts(b, " tcp port");
			else if (inner[9] == 17)
				uxt_buf_puts(b, " udp port");
			else
				uxt_buf_printf(b, " protocol %u port", inner[9]);
			uxt_buf_printf(b, " %u unreachable", get16(inner + ihl + 2));
		} else if (code == 4) {
			put_addr(b, inner + 16);
			uxt_buf_puts(b, " unreachable - need to frag");
			if (get16(m + 6))
				uxt_buf_printf(b, " (mtu %u)", get16(m + 6));
		} else if (code < sizeof(unreach_texts) / sizeof(unreach_texts[0]) &&
			   unreach_texts[code]) {
			put_with_addr(b, unreach_texts[code], inner + 16);
		} else {
			put_addr(b, inner + 16);
			uxt_buf_printf(b, " unreachable - #%u", code);
		}
		return true;
	case 4:
		uxt_buf_puts(b, "source quench");
		return true;
	case 5:
		if (code <= 3)
			uxt_buf_puts(b, code < 2 ? "redirect " : "redirect-tos ");
		else
			uxt_buf_printf(b, "redirect-#%u ", code);
		put_addr(b, inner + 16);
		uxt_buf_puts(b, code > 3 ? " to " :
				(code & 1) ? " to host " : " to net ");
		put_addr(b, m + 4);
		return true;
	case 9: {
		unsigned int naddr = m[4], lifetime = get16(m + 6);

		uxt_buf_printf(b, "router advertisement lifetime %u:%02u %u:",
			       lifetime / 60, lifetime % 60, naddr);
		for (unsigned int i = 0; i < naddr; i++) {
			const unsigned char *e = m + 8 + 8 * i;

			if ((size_t)(e + 8 - m) > v.cap)
				return false;
			uxt_buf_puts(b, " {");
			put_addr(b, e);
			uxt_buf_printf(b, " %u}", get32(e + 4));
		}
		return true;
	}
	case 10:
		uxt_buf_puts(b, "router solicitation");
		return true;
	case 11:
		if (code == 0)
			uxt_buf_puts(b, "time exceeded in-transit");
		else if (code == 1)
			uxt_buf_puts(b, "ip reassembly time exceeded");
		else
			uxt_buf_printf(b, "time exceeded-#%u", code);
		return true;
	case 12:
		if (code == 0)
			uxt_buf_printf(b, "parameter problem - octet %u", m[4]);
		else
			uxt_buf_printf(b, "parameter problem - code %u", code);
		return true;
	case 13:
		uxt_buf_printf(b, "time stamp query id %u seq %u", get16(m + 4),
			       get16(m + 6));
		return true;
	case 14:
		if (v.cap < 20)
			return false;
		uxt_buf_printf(b, "time stamp reply id %u seq %u: org ",
			       get16(m + 4), get16(m + 6));
		put_ms_time(b, get32(m + 8));
		uxt_buf_puts(b, ", recv ");
		put_ms_time(b, get32(m + 12));
		uxt_buf_puts(b, ", xmit ");
		put_ms_time(b, get32(m + 16));
		return true;
	case 15:
		uxt_buf_puts(b, "information request");
		return true;
	case 16:
		uxt_buf_puts(b, "information reply");
		return true;
	case 17:
		uxt_buf_puts(b, "address mask request");
		return true;
	case 18:
		if (v.cap < 12)
			return false;
		uxt_buf_printf(b, "address mask is 0x%08x", get32(m + 8));
		return true;
	default:
		uxt_buf_printf(b, "type-#%u", type);
		return true;
	}
}

static void icmp_summary(struct uxt_buf *b, const unsigned char *iph,
			 struct view v)
{
	size_t start;

	put_endpoints(b, iph, NULL);
	start = b->len;
	uxt_buf_puts(b, "ICMP ");
	if (!icmp_text(b, v)) {
		/* tcpdump drops what it had started */
		b->len = start;
		uxt_buf_puts(b, " [|icmp]");
		return;
	}
	uxt_buf_printf(b, ", length %zu", v.len);
}

void uxt_pkt_summary(struct uxt_buf *b, const unsigned char *data, size_t len)
{
	unsigned int ihl, tot;
	struct view v;

	if (len < 1) {
		uxt_buf_puts(b, "IP  [|ip]");
		return;
	}
	if (data[0] >> 4 != 4) {
		uxt_buf_printf(b, "unknown ip %u", data[0] >> 4);
		return;
	}
	ihl = (unsigned int)(data[0] & 0x0F) * 4;
	if (ihl < IP_MIN_HLEN) {
		uxt_buf_printf(b, "IP bad-hlen %u", ihl);
		return;
	}
	if (len < ihl) {
		uxt_buf_puts(b, "IP  [|ip]");
		return;
	}
	tot = get16(data + 2);
	if (tot < ihl) {
		uxt_buf_printf(b, "IP bad-len %u", tot);
		return;
	}
	uxt_buf_puts(b, "IP ");
	if (tot > len)
		uxt_buf_printf(b, "truncated-ip - %zu bytes missing! ",
			       (size_t)tot - len);
	v.p = data + ihl;
	v.len = tot - ihl;
	v.cap = (tot < len ? tot : len) - ihl;
	if ((get16(data + 6) & 0x1FFF) != 0) {
		/* not a first fragment: no transport header */
		put_endpoints(b, data, NULL);
		uxt_buf_printf(b, "ip-proto-%u", data[9]);
		return;
	}
	switch (data[9]) {
	case 6:
		tcp_summary(b, data, v);
		break;
	case 17:
		udp_summary(b, data, v);
		break;
	case 1:
		icmp_summary(b, data, v);
		break;
	case 4:
		/* IP in IP: the inner datagram, as tcpdump decodes it */
		put_endpoints(b, data, NULL);
		uxt_pkt_summary(b, v.p, v.cap);
		break;
	default:
		put_endpoints(b, data, NULL);
		uxt_buf_printf(b, " ip-proto-%u %zu", data[9], v.len);
		break;
	}
}
