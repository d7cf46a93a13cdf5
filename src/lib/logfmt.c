/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The kernel's log line of an IPv4 packet, as nf_log_syslog prints it for
 * the LOG target and for legacy TRACE (kernel-behaviour.md section 2):
 *
 *   prefix "IN=in OUT=out " [MAC=... | MACSRC=... MACDST=... MACPROTO=...]
 *   the IPv4 header, the transport header (once more for the packet an
 *   ICMP error quotes, in brackets), [UID= GID=] [MARK=]
 *
 * Every field ends with one space.  The dump reads the datagram only within
 * pkt->len, as skb_header_pointer does, and says INCOMPLETE or TRUNCATED
 * where the kernel does; those early exits also skip UID and MARK, as the
 * kernel's returns do.  Lengths the kernel prints as unsigned differences
 * (skb->len - offset) are computed the same way, wrap-around included.
 */
#include "logfmt.h"

#include <stdio.h>
#include <string.h>

#include "ext.h"

/* nf_log_buf holds 1019 bytes with KERN_SOH and the level digit; what does
 * not fit is cut (nf_log_buf_add), so the text after the level is at most
 * 1016 characters. */
#define KERNEL_LINE_MAX 1016
/* NF_LOG_PREFIXLEN: the prefix is formatted into 128 bytes */
#define KERNEL_PREFIX_MAX 127

#define ETH_HLEN 14

enum {
	IPPROTO_ICMP_ = 1,
	IPPROTO_TCP_ = 6,
	IPPROTO_UDP_ = 17,
	IPPROTO_ESP_ = 50,
	IPPROTO_AH_ = 51,
	IPPROTO_UDPLITE_ = 136,
};

enum {
	ICMP_ECHOREPLY_ = 0,
	ICMP_DEST_UNREACH_ = 3,
	ICMP_SOURCE_QUENCH_ = 4,
	ICMP_REDIRECT_ = 5,
	ICMP_ECHO_ = 8,
	ICMP_TIME_EXCEEDED_ = 11,
	ICMP_PARAMETERPROB_ = 12,
	ICMP_TIMESTAMP_ = 13,
	ICMP_TIMESTAMPREPLY_ = 14,
	ICMP_ADDRESS_ = 17,
	ICMP_ADDRESSREPLY_ = 18,
	NR_ICMP_TYPES_ = 18,
	ICMP_FRAG_NEEDED_ = 4,
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

/* dev->hard_header_len of the devices the host model knows */
static unsigned int hard_header_len(const struct uxt_iface *dev,
				    const struct uxt_pkt *pkt)
{
	switch (dev->type) {
	case UXT_ARPHRD_ETHER:
	case UXT_ARPHRD_LOOPBACK:
		return ETH_HLEN;
	case UXT_ARPHRD_NONE:
		return 0;
	default:
		return pkt->mac_len;
	}
}

const struct uxt_iface *uxt_log_skb_dev(unsigned int hook,
					const struct uxt_iface *in,
					const struct uxt_iface *out)
{
	/* ip_output() points skb->dev at the output device before
	 * POSTROUTING; before that it is the device the packet came in on */
	if (hook == UXT_HOOK_POST_ROUTING && out)
		return out;
	return in ? in : out;
}

unsigned int uxt_log_link_header(const struct uxt_pkt *pkt,
				 const struct uxt_iface *dev,
				 unsigned char *hdr, unsigned int *hdr_len)
{
	unsigned int n, i;

	*hdr_len = 0;
	if (!dev)
		return 0;
	if (pkt->mac_len == 0 && pkt->pkt_type == UXT_PACKET_LOOPBACK) {
		/* dev_loopback_xmit() reset the mac header to the network
		 * header: what follows it is the datagram itself */
		n = hard_header_len(dev, pkt);
		if (n > UXT_MAC_HDR_MAX)
			n = UXT_MAC_HDR_MAX;
		for (i = 0; i < n; i++)
			hdr[i] = i < pkt->len ? pkt->data[i] : 0;
		return n;
	}
	if (pkt->mac_len == 0) {
		/* loopback_xmit() runs eth_type_trans(): a looped-back packet
		 * has lo's all-zero Ethernet header even when the engine did
		 * not keep one */
		if (!dev->loopback && dev->type != UXT_ARPHRD_LOOPBACK)
			return 0;
		memset(hdr, 0, ETH_HLEN);
		hdr[12] = 0x08;
		hdr[13] = 0x00;
		*hdr_len = ETH_HLEN;
		return ETH_HLEN;
	}
	n = hard_header_len(dev, pkt);
	if (n > UXT_MAC_HDR_MAX)
		n = UXT_MAC_HDR_MAX;
	/* the kernel prints hard_header_len bytes from the mac header on,
	 * running into the datagram when the header kept is shorter */
	for (i = 0; i < n; i++) {
		if (i < pkt->mac_len)
			hdr[i] = pkt->mac[i];
		else if (i - pkt->mac_len < pkt->len)
			hdr[i] = pkt->data[i - pkt->mac_len];
		else
			hdr[i] = 0;
	}
	*hdr_len = pkt->mac_len < n ? pkt->mac_len : n;
	return n;
}

/* dump_mac_header() */
static void dump_mac_header(struct uxt_buf *b, const struct uxt_pkt *pkt,
			    const struct uxt_iface *dev, unsigned int logflags)
{
	unsigned char hdr[UXT_MAC_HDR_MAX];
	unsigned int kept, n;

	n = uxt_log_link_header(pkt, dev, hdr, &kept);
	if ((logflags & UXT_LOG_MACDECODE) && dev &&
	    dev->type == UXT_ARPHRD_ETHER) {
		if (kept < ETH_HLEN)
			return;
		uxt_buf_printf(b,
			       "MACSRC=%02x:%02x:%02x:%02x:%02x:%02x "
			       "MACDST=%02x:%02x:%02x:%02x:%02x:%02x ",
			       hdr[6], hdr[7], hdr[8], hdr[9], hdr[10], hdr[11],
			       hdr[0], hdr[1], hdr[2], hdr[3], hdr[4], hdr[5]);
		uxt_buf_printf(b, "MACPROTO=%04x ", get16(hdr + 12));
		return;
	}
	uxt_buf_puts(b, "MAC=");
	if (kept) {
		for (unsigned int i = 0; i < n; i++)
			uxt_buf_printf(b, i ? ":%02x" : "%02x", hdr[i]);
	}
	uxt_buf_putc(b, ' ');
}

static void put_hex_upper(struct uxt_buf *b, const unsigned char *p,
			  unsigned int n)
{
	static const char digits[] = "0123456789ABCDEF";

	for (unsigned int i = 0; i < n; i++) {
		uxt_buf_putc(b, digits[p[i] >> 4]);
		uxt_buf_putc(b, digits[p[i] & 15]);
	}
}

/* nf_log_dump_tcp_header(); true when the dump stops there */
static bool dump_tcp(struct uxt_buf *b, const struct uxt_pkt *pkt,
		     bool fragment, uint32_t off, unsigned int logflags)
{
	const unsigned char *th;
	unsigned int optsize;

	uxt_buf_puts(b, "PROTO=TCP ");
	if (fragment)
		return false;
	th = uxt_pkt_header(pkt, off, 20);
	if (!th) {
		uxt_buf_printf(b, "INCOMPLETE [%u bytes] ", pkt->len - off);
		return true;
	}
	uxt_buf_printf(b, "SPT=%u DPT=%u ", get16(th), get16(th + 2));
	if (logflags & UXT_LOG_TCPSEQ)
		uxt_buf_printf(b, "SEQ=%u ACK=%u ", get32(th + 4), get32(th + 8));
	uxt_buf_printf(b, "WINDOW=%u ", get16(th + 14));
	/* 6.18: the three reserved bits of the flag word; the fourth
	 * (former NS) is AE */
	uxt_buf_printf(b, "RES=0x%02x ", (unsigned int)((th[12] & 0x0E) << 2));
	if (th[12] & 0x01)
		uxt_buf_puts(b, "AE ");
	if (th[13] & 0x80)
		uxt_buf_puts(b, "CWR ");
	if (th[13] & 0x40)
		uxt_buf_puts(b, "ECE ");
	if (th[13] & 0x20)
		uxt_buf_puts(b, "URG ");
	if (th[13] & 0x10)
		uxt_buf_puts(b, "ACK ");
	if (th[13] & 0x08)
		uxt_buf_puts(b, "PSH ");
	if (th[13] & 0x04)
		uxt_buf_puts(b, "RST ");
	if (th[13] & 0x02)
		uxt_buf_puts(b, "SYN ");
	if (th[13] & 0x01)
		uxt_buf_puts(b, "FIN ");
	uxt_buf_printf(b, "URGP=%u ", get16(th + 18));
	optsize = (unsigned int)(th[12] >> 4) * 4u;
	if ((logflags & UXT_LOG_TCPOPT) && optsize > 20) {
		const unsigned char *op;

		optsize -= 20;
		op = uxt_pkt_header(pkt, off + 20, optsize);
		if (!op) {
			uxt_buf_puts(b, "OPT (TRUNCATED)");
			return true;
		}
		uxt_buf_puts(b, "OPT (");
		put_hex_upper(b, op, optsize);
		uxt_buf_puts(b, ") ");
	}
	return false;
}

/* nf_log_dump_udp_header(); true when the dump stops there */
static bool dump_udp(struct uxt_buf *b, const struct uxt_pkt *pkt,
		     uint8_t proto, bool fragment, uint32_t off)
{
	const unsigned char *uh;

	uxt_buf_puts(b, proto == IPPROTO_UDP_ ? "PROTO=UDP " : "PROTO=UDPLITE ");
	if (fragment)
		return false;
	uh = uxt_pkt_header(pkt, off, 8);
	if (!uh) {
		uxt_buf_printf(b, "INCOMPLETE [%u bytes] ", pkt->len - off);
		return true;
	}
	uxt_buf_printf(b, "SPT=%u DPT=%u LEN=%u ", get16(uh), get16(uh + 2),
		       get16(uh + 4));
	return false;
}

/* the bytes an ICMP type needs before its fields are printed */
static unsigned int icmp_required_len(uint8_t type)
{
	switch (type) {
	case ICMP_ECHOREPLY_:
	case ICMP_ECHO_:
		return 4;
	case ICMP_DEST_UNREACH_:
	case ICMP_SOURCE_QUENCH_:
	case ICMP_REDIRECT_:
	case ICMP_TIME_EXCEEDED_:
	case ICMP_PARAMETERPROB_:
		return 8 + 20;
	case ICMP_TIMESTAMP_:
	case ICMP_TIMESTAMPREPLY_:
		return 20;
	case ICMP_ADDRESS_:
	case ICMP_ADDRESSREPLY_:
		return 12;
	default:
		return 0;
	}
}

static void dump_ipv4(struct uxt_buf *b, const struct uxt_pkt *pkt,
		      uint32_t iphoff, unsigned int logflags);

/* the ICMP part of dump_ipv4_packet() */
static void dump_icmp(struct uxt_buf *b, const struct uxt_pkt *pkt,
		      uint32_t iphoff, uint32_t off, bool fragment,
		      unsigned int logflags)
{
	const unsigned char *ich;
	unsigned int required;
	uint32_t avail = pkt->len - off;	/* unsigned, as the kernel's */

	uxt_buf_puts(b, "PROTO=ICMP ");
	if (fragment)
		return;
	ich = uxt_pkt_header(pkt, off, 8);
	if (!ich) {
		uxt_buf_printf(b, "INCOMPLETE [%u bytes] ", avail);
		return;
	}
	uxt_buf_printf(b, "TYPE=%u CODE=%u ", ich[0], ich[1]);
	required = icmp_required_len(ich[0]);
	if (ich[0] <= NR_ICMP_TYPES_ && required && avail < required) {
		uxt_buf_printf(b, "INCOMPLETE [%u bytes] ", avail);
		return;
	}
	switch (ich[0]) {
	case ICMP_ECHOREPLY_:
	case ICMP_ECHO_:
		uxt_buf_printf(b, "ID=%u SEQ=%u ", get16(ich + 4), get16(ich + 6));
		break;
	case ICMP_PARAMETERPROB_:
		uxt_buf_printf(b, "PARAMETER=%u ", ich[4]);
		break;
	case ICMP_REDIRECT_:
		uxt_buf_printf(b, "GATEWAY=%u.%u.%u.%u ", ich[4], ich[5], ich[6],
			       ich[7]);
		/* fall through */
	case ICMP_DEST_UNREACH_:
	case ICMP_SOURCE_QUENCH_:
	case ICMP_TIME_EXCEEDED_:
		/* the quoted datagram, one level deep only */
		if (iphoff == 0) {
			uxt_buf_putc(b, '[');
			dump_ipv4(b, pkt, off + 8, logflags);
			uxt_buf_puts(b, "] ");
		}
		if (ich[0] == ICMP_DEST_UNREACH_ && ich[1] == ICMP_FRAG_NEEDED_)
			uxt_buf_printf(b, "MTU=%u ", get16(ich + 6));
		break;
	}
}

/* dump_ipv4_packet(): iphoff 0 for the packet, else the quoted one */
static void dump_ipv4(struct uxt_buf *b, const struct uxt_pkt *pkt,
		      uint32_t iphoff, unsigned int logflags)
{
	const unsigned char *ih = uxt_pkt_header(pkt, iphoff, 20);
	unsigned int ihl;
	uint16_t frag;
	uint32_t off;
	bool fragment;

	if (!ih) {
		uxt_buf_puts(b, "TRUNCATED");
		return;
	}
	ihl = (unsigned int)(ih[0] & 0x0F) * 4u;
	frag = get16(ih + 6);
	fragment = (frag & UXT_IP_OFFSET) != 0;
	off = iphoff + ihl;
	uxt_buf_printf(b, "SRC=%u.%u.%u.%u DST=%u.%u.%u.%u ", ih[12], ih[13],
		       ih[14], ih[15], ih[16], ih[17], ih[18], ih[19]);
	uxt_buf_printf(b, "LEN=%u TOS=0x%02X PREC=0x%02X TTL=%u ID=%u ",
		       get16(ih + 2), ih[1] & 0x1Eu, ih[1] & 0xE0u, ih[8],
		       get16(ih + 4));
	if (frag & UXT_IP_CE)
		uxt_buf_puts(b, "CE ");
	if (frag & UXT_IP_DF)
		uxt_buf_puts(b, "DF ");
	if (frag & UXT_IP_MF)
		uxt_buf_puts(b, "MF ");
	if (fragment)
		uxt_buf_printf(b, "FRAG:%u ", frag & UXT_IP_OFFSET);
	if ((logflags & UXT_LOG_IPOPT) && ihl > 20) {
		const unsigned char *op = uxt_pkt_header(pkt, iphoff + 20, ihl - 20);

		if (!op) {
			uxt_buf_puts(b, "TRUNCATED");
			return;
		}
		uxt_buf_puts(b, "OPT (");
		put_hex_upper(b, op, ihl - 20);
		uxt_buf_puts(b, ") ");
	}
	switch (ih[9]) {
	case IPPROTO_TCP_:
		if (dump_tcp(b, pkt, fragment, off, logflags))
			return;
		break;
	case IPPROTO_UDP_:
	case IPPROTO_UDPLITE_:
		if (dump_udp(b, pkt, ih[9], fragment, off))
			return;
		break;
	case IPPROTO_ICMP_:
		dump_icmp(b, pkt, iphoff, off, fragment, logflags);
		break;
	case IPPROTO_AH_: {
		const unsigned char *ah;

		/* a non-first AH fragment prints nothing at all */
		if (fragment)
			break;
		uxt_buf_puts(b, "PROTO=AH ");
		ah = uxt_pkt_header(pkt, off, 12);
		if (!ah) {
			uxt_buf_printf(b, "INCOMPLETE [%u bytes] ", pkt->len - off);
			break;
		}
		uxt_buf_printf(b, "SPI=0x%x ", get32(ah + 4));
		break;
	}
	case IPPROTO_ESP_: {
		const unsigned char *eh;

		uxt_buf_puts(b, "PROTO=ESP ");
		if (fragment)
			break;
		eh = uxt_pkt_header(pkt, off, 8);
		if (!eh) {
			uxt_buf_printf(b, "INCOMPLETE [%u bytes] ", pkt->len - off);
			break;
		}
		uxt_buf_printf(b, "SPI=0x%x ", get32(eh));
		break;
	}
	default:
		uxt_buf_printf(b, "PROTO=%u ", ih[9]);
	}
	if (iphoff)
		return;
	/* nf_log_dump_sk_uid_gid(): a full socket with a file */
	if ((logflags & UXT_LOG_UID) && pkt->has_sock)
		uxt_buf_printf(b, "UID=%u GID=%u ", pkt->uid, pkt->gid);
	if (pkt->mark)
		uxt_buf_printf(b, "MARK=0x%x ", pkt->mark);
}

void uxt_log_format(struct uxt_buf *b, const struct uxt_pkt *pkt,
		    unsigned int hook, const struct uxt_iface *in,
		    const struct uxt_iface *out, const char *prefix,
		    unsigned int logflags)
{
	size_t start = b->len;

	uxt_buf_putn(b, prefix, strnlen(prefix, KERNEL_PREFIX_MAX));
	uxt_buf_puts(b, "IN=");
	if (in)
		uxt_buf_putn(b, in->name, strnlen(in->name, sizeof(in->name)));
	uxt_buf_puts(b, " OUT=");
	if (out)
		uxt_buf_putn(b, out->name, strnlen(out->name, sizeof(out->name)));
	uxt_buf_putc(b, ' ');
	if (in)
		dump_mac_header(b, pkt, uxt_log_skb_dev(hook, in, out), logflags);
	dump_ipv4(b, pkt, 0, logflags);
	/* a buffer that flushed to its fd meanwhile cannot be cut */
	if (b->len >= start && b->len - start > KERNEL_LINE_MAX)
		b->len = start + KERNEL_LINE_MAX;
}

void uxt_log_trace(struct uxt_ns *ns, const struct uxt_pkt *pkt,
		   unsigned int hook, const struct uxt_iface *in,
		   const struct uxt_iface *out, const char *table,
		   const char *chain, const char *comment, unsigned int rulenum)
{
	char prefix[KERNEL_PREFIX_MAX + 1];
	struct uxt_buf b;

	/* trace_packet(): the walk's position as the prefix, through the
	 * namespace's logger with trace_loginfo (level 4, the default
	 * flags, no MAC decoding) */
	snprintf(prefix, sizeof(prefix), "TRACE: %s:%s:%s:%u ", table, chain,
		 comment, rulenum);
	uxt_buf_init(&b, -1);
	uxt_log_format(&b, pkt, hook, in, out, prefix, UXT_LOG_DEFAULT_MASK);
	uxt_ns_log(ns, UXT_LOG_TRACE_LEVEL, uxt_buf_str(&b));
	uxt_buf_free(&b);
}
