/* SPDX-License-Identifier: BSD-2-Clause */
#include "format.h"

#include <arpa/inet.h>
#include <string.h>

#include "ext.h"
#include "parse.h"

#define TABLE(format) (!((format) & UXT_FMT_NOTABLE))

/* FMT("%-Ns<sep>", "%s<sep>") or, right-aligned, FMT("%Ns<sep>", ...) */
static void col(struct uxt_buf *b, bool table, const char *s, size_t width,
		bool right, const char *sep)
{
	if (!table)
		uxt_buf_puts(b, s);
	else if (right)
		uxt_buf_right(b, s, width);
	else
		uxt_buf_left(b, s, width);
	uxt_buf_puts(b, sep);
}

void uxt_fmt_header(struct uxt_buf *b, unsigned int format, const char *chain,
		    const char *policy, const struct uxt_counters *counters,
		    int refs)
{
	bool table = TABLE(format);

	uxt_buf_puts(b, "Chain ");
	uxt_buf_puts(b, chain);
	if (policy) {
		uxt_buf_puts(b, " (policy ");
		uxt_buf_puts(b, policy);
		if (!(format & UXT_FMT_NOCOUNTS)) {
			uxt_buf_putc(b, ' ');
			uxt_print_num(b, counters->pcnt, format | UXT_FMT_NOTABLE);
			uxt_buf_puts(b, "packets, ");
			uxt_print_num(b, counters->bcnt, format | UXT_FMT_NOTABLE);
			uxt_buf_puts(b, "bytes");
		}
		uxt_buf_puts(b, ")\n");
	} else if (refs < 0) {
		uxt_buf_puts(b, " (ERROR obtaining refs)\n");
	} else {
		uxt_buf_printf(b, " (%d references)\n", refs);
	}
	if (format & UXT_FMT_LINENUMBERS)
		col(b, table, "num", 4, false, " ");
	if (!(format & UXT_FMT_NOCOUNTS)) {
		bool kmg = format & UXT_FMT_KILOMEGAGIGA;

		col(b, table, "pkts", kmg ? 5 : 8, true, " ");
		col(b, table, "bytes", kmg ? 5 : 10, true, " ");
	}
	if (!(format & UXT_FMT_NOTARGET))
		col(b, table, "target", 9, false, " ");
	uxt_buf_puts(b, " prot ");
	if (format & UXT_FMT_OPTIONS)
		uxt_buf_puts(b, "opt");
	if (format & UXT_FMT_VIA) {
		if (table)
			uxt_buf_putc(b, ' ');
		col(b, table, "in", 6, false, " ");
		col(b, table, "out", 6, false, " ");
	}
	if (table)
		uxt_buf_putc(b, ' ');
	col(b, table, "source", 19, false, " ");
	uxt_buf_putc(b, ' ');
	col(b, table, "destination", 19, false, " ");
	uxt_buf_putc(b, '\n');
}

static void fmt_addr(struct uxt_buf *b, uint32_t addr, uint32_t mask,
		     unsigned int format)
{
	if (!mask && !(format & UXT_FMT_NUMERIC)) {
		uxt_buf_puts(b, "anywhere");
		return;
	}
	if (format & UXT_FMT_NUMERIC)
		uxt_buf_ipv4(b, addr);
	else
		uxt_buf_ipaddr_anyname(b, addr);
	uxt_buf_ipmask(b, mask);
}

/* Appends the text of fmt_addr padded as "%-19s " (table) */
static void fmt_addr_field(struct uxt_buf *b, uint32_t addr, uint32_t mask,
			   unsigned int format, bool dest)
{
	size_t start;

	if (!TABLE(format)) {
		if (dest)
			uxt_buf_puts(b, "-> ");
		fmt_addr(b, addr, mask, format);
		if (!dest)
			uxt_buf_putc(b, ' ');
		return;
	}
	start = b->len;
	fmt_addr(b, addr, mask, format);
	if (b->len - start < 19)
		uxt_buf_fill(b, ' ', 19 - (b->len - start));
	uxt_buf_putc(b, ' ');
}

static void fmt_iface(struct uxt_buf *b, const char *name, bool inv,
		      const char *anyname, unsigned int format, bool out)
{
	char iface[UXT_IFNAMSIZ + 2];
	size_t n = 0, l;

	if (inv)
		iface[n++] = '!';
	l = strnlen(name[0] ? name : anyname, UXT_IFNAMSIZ);
	if (l > sizeof(iface) - 1 - n)
		l = sizeof(iface) - 1 - n;
	memcpy(iface + n, name[0] ? name : anyname, l);
	iface[n + l] = '\0';
	if (TABLE(format)) {
		if (!out)
			uxt_buf_putc(b, ' ');
		uxt_buf_left(b, iface, 6);
		uxt_buf_putc(b, ' ');
	} else {
		uxt_buf_puts(b, out ? "out " : "in ");
		uxt_buf_puts(b, iface);
		uxt_buf_putc(b, ' ');
	}
}

void uxt_fmt_rule(struct uxt_buf *b, const struct uxt_rule *r,
		  unsigned int num, unsigned int format)
{
	const struct uxt_ip *ip = &r->ip;
	const struct uxt_xrec *m, *t;
	/* -n in a table shows the number: no name to look up */
	bool proto_number = (format & (UXT_FMT_NUMERIC | UXT_FMT_NOTABLE)) ==
			    UXT_FMT_NUMERIC;
	const char *pname = proto_number ? NULL :
			    uxt_proto_to_name(ip->proto, format & UXT_FMT_NUMERIC);
	bool table = TABLE(format);
	bool numeric = format & UXT_FMT_NUMERIC;

	if (format & UXT_FMT_LINENUMBERS) {
		if (table) {
			size_t start = b->len;

			uxt_buf_u64(b, num);
			if (b->len - start < 4)
				uxt_buf_fill(b, ' ', 4 - (b->len - start));
			uxt_buf_putc(b, ' ');
		} else {
			uxt_buf_u64(b, num);
			uxt_buf_putc(b, ' ');
		}
	}
	if (!(format & UXT_FMT_NOCOUNTS)) {
		uxt_print_num(b, r->counters.pcnt, format);
		uxt_print_num(b, r->counters.bcnt, format);
	}
	if (!(format & UXT_FMT_NOTARGET)) {
		if (table)
			uxt_buf_left(b, uxt_rule_target_name(r), 9);
		else
			uxt_buf_puts(b, uxt_rule_target_name(r));
		uxt_buf_putc(b, ' ');
	}
	uxt_buf_putc(b, ip->invflags & UXT_INV_PROTO ? '!' : ' ');
	if (proto_number || !pname) {
		if (table) {
			size_t start = b->len;

			uxt_buf_u64(b, ip->proto);
			if (b->len - start < 4)
				uxt_buf_fill(b, ' ', 4 - (b->len - start));
		} else {
			uxt_buf_u64(b, ip->proto);
		}
	} else {
		if (table)
			uxt_buf_left(b, pname, 4);
		else
			uxt_buf_puts(b, pname);
	}
	uxt_buf_putc(b, ' ');
	if (format & UXT_FMT_OPTIONS) {
		if (!table)
			uxt_buf_puts(b, "opt ");
		uxt_buf_putc(b, ip->invflags & UXT_INV_FRAG ? '!' : '-');
		uxt_buf_putc(b, ip->flags & UXT_F_FRAG ? 'f' : '-');
		uxt_buf_putc(b, ' ');
	}
	if (format & UXT_FMT_VIA) {
		const char *anyname = numeric ? "*" : "any";

		fmt_iface(b, ip->iniface, ip->invflags & UXT_INV_VIA_IN,
			  anyname, format, false);
		fmt_iface(b, ip->outiface, ip->invflags & UXT_INV_VIA_OUT,
			  anyname, format, true);
	}
	uxt_buf_putc(b, ip->invflags & UXT_INV_SRCIP ? '!' : ' ');
	fmt_addr_field(b, ip->src, ip->smsk, format, false);
	uxt_buf_putc(b, ip->invflags & UXT_INV_DSTIP ? '!' : ' ');
	fmt_addr_field(b, ip->dst, ip->dmsk, format, true);
	if (!table)
		uxt_buf_puts(b, "  ");
	if (ip->flags & UXT_F_GOTO)
		uxt_buf_puts(b, "[goto] ");
	uxt_rule_foreach_match(r, m) {
		const struct uxt_ext *ext = uxt_ext_by_id(m->ext);

		if (ext->print)
			ext->print(b, ip, m->data, numeric);
		else
			uxt_buf_printf(b, "%s ", ext->name);
	}
	t = uxt_rule_target(r);
	if (uxt_ext_by_id(t->ext) != &uxt_ext_standard) {
		const struct uxt_ext *ext = uxt_ext_by_id(t->ext);

		if (ext->print)
			ext->print(b, ip, t->data, numeric);
	}
	if (!(format & UXT_FMT_NONEWLINE))
		uxt_buf_putc(b, '\n');
}

/* mask_to_str() of xshared.c */
static void save_mask(struct uxt_buf *b, uint32_t mask)
{
	int cidr = uxt_ipmask_to_cidr(mask);

	if (cidr >= 0)
		uxt_buf_u64(b, (uint64_t)cidr);
	else
		uxt_buf_ipv4(b, mask);
}

static void save_addr(struct uxt_buf *b, char letter, uint32_t addr,
		      uint32_t mask, bool invert)
{
	if (!mask && !invert && !addr)
		return;
	if (invert)
		uxt_buf_puts(b, " !");
	uxt_buf_puts(b, " -");
	uxt_buf_putc(b, letter);
	uxt_buf_putc(b, ' ');
	uxt_buf_ipv4(b, addr);
	uxt_buf_putc(b, '/');
	save_mask(b, mask);
}

static void save_iface(struct uxt_buf *b, char letter, const char *iface,
		       const unsigned char *mask, bool invert)
{
	if (mask[0] == 0)
		return;
	if (invert)
		uxt_buf_puts(b, " !");
	uxt_buf_puts(b, " -");
	uxt_buf_putc(b, letter);
	uxt_buf_putc(b, ' ');
	for (unsigned i = 0; i < UXT_IFNAMSIZ; i++) {
		if (mask[i] != 0) {
			if (iface[i] != '\0')
				uxt_buf_putc(b, iface[i]);
		} else {
			if (iface[i - 1] != '\0')
				uxt_buf_putc(b, '+');
			break;
		}
	}
}

void uxt_fmt_rule_save(struct uxt_buf *b, const struct uxt_rule *r,
		       const char *chain, int counters)
{
	const struct uxt_ip *ip = &r->ip;
	const struct uxt_xrec *m, *t;
	const struct uxt_ext *ext;

	if (counters > 0) {
		uxt_buf_putc(b, '[');
		uxt_buf_u64(b, r->counters.pcnt);
		uxt_buf_putc(b, ':');
		uxt_buf_u64(b, r->counters.bcnt);
		uxt_buf_puts(b, "] ");
	}
	uxt_buf_puts(b, "-A ");
	uxt_buf_puts(b, chain);
	save_addr(b, 's', ip->src, ip->smsk, ip->invflags & UXT_INV_SRCIP);
	save_addr(b, 'd', ip->dst, ip->dmsk, ip->invflags & UXT_INV_DSTIP);
	save_iface(b, 'i', ip->iniface, ip->iniface_mask,
		   ip->invflags & UXT_INV_VIA_IN);
	save_iface(b, 'o', ip->outiface, ip->outiface_mask,
		   ip->invflags & UXT_INV_VIA_OUT);
	if (ip->proto > 0) {
		const char *pname = uxt_proto_to_name(ip->proto, false);

		if (ip->invflags & UXT_INV_PROTO)
			uxt_buf_puts(b, " !");
		if (pname) {
			uxt_buf_puts(b, " -p ");
			uxt_buf_puts(b, pname);
		} else {
			uxt_buf_puts(b, " -p ");
			uxt_buf_u64(b, ip->proto);
		}
	}
	if (ip->flags & UXT_F_FRAG) {
		if (ip->invflags & UXT_INV_FRAG)
			uxt_buf_puts(b, " !");
		uxt_buf_puts(b, " -f");
	}
	uxt_rule_foreach_match(r, m) {
		ext = uxt_ext_by_id(m->ext);
		uxt_buf_puts(b, " -m ");
		uxt_buf_puts(b, ext->alias ? ext->alias(m->data) : ext->name);
		if (ext->save)
			ext->save(b, ip, m->data);
	}
	if (counters < 0) {
		uxt_buf_puts(b, " -c ");
		uxt_buf_u64(b, r->counters.pcnt);
		uxt_buf_putc(b, ' ');
		uxt_buf_u64(b, r->counters.bcnt);
	}
	t = uxt_rule_target(r);
	ext = uxt_ext_by_id(t->ext);
	if (ext != &uxt_ext_standard) {
		uxt_buf_puts(b, " -j ");
		uxt_buf_puts(b, ext->alias ? ext->alias(t->data) : ext->name);
		if (ext->save)
			ext->save(b, ip, t->data);
	} else {
		const char *name = uxt_rule_target_name(r);

		if (*name) {
			uxt_buf_puts(b, ip->flags & UXT_F_GOTO ? " -g " : " -j ");
			uxt_buf_puts(b, name);
		}
	}
	uxt_buf_putc(b, '\n');
}
