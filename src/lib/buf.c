/* SPDX-License-Identifier: BSD-2-Clause */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define UXT_BUF_FLUSH_AT (256 * 1024)

void uxt_buf_init(struct uxt_buf *b, int fd)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->fd = fd;
	b->failed = 0;
}

int uxt_buf_flush(struct uxt_buf *b)
{
	size_t off = 0;

	if (b->fd < 0)
		return 0;
	while (off < b->len && !b->failed) {
		ssize_t n = write(b->fd, b->data + off, b->len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			b->failed = 1;
			break;
		}
		off += (size_t)n;
	}
	b->len = 0;
	return b->failed ? -1 : 0;
}

void uxt_buf_free(struct uxt_buf *b)
{
	uxt_buf_flush(b);
	free(b->data);
	b->data = NULL;
	b->cap = 0;
	b->len = 0;
}

void uxt_buf_reserve(struct uxt_buf *b, size_t n)
{
	size_t want;
	char *p;

	if (b->fd >= 0 && b->len >= UXT_BUF_FLUSH_AT)
		uxt_buf_flush(b);
	if (b->cap - b->len >= n)
		return;
	want = b->cap ? b->cap : 4096;
	while (want - b->len < n)
		want *= 2;
	p = realloc(b->data, want);
	if (!p) {
		fputs("uxtables: out of memory\n", stderr);
		exit(4);
	}
	b->data = p;
	b->cap = want;
}

const char *uxt_buf_str(struct uxt_buf *b)
{
	uxt_buf_reserve(b, 1);
	b->data[b->len] = '\0';
	return b->data;
}

void uxt_buf_reset(struct uxt_buf *b)
{
	b->len = 0;
}

void uxt_buf_vprintf(struct uxt_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	uxt_buf_reserve(b, 128);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		uxt_buf_reserve(b, (size_t)n + 1);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	}
	va_end(ap2);
	b->len += (size_t)n;
}

void uxt_buf_printf(struct uxt_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	uxt_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void uxt_buf_fill(struct uxt_buf *b, char c, size_t n)
{
	if (b->cap - b->len < n + 1)
		uxt_buf_reserve(b, n + 1);
	memset(b->data + b->len, c, n);
	b->len += n;
}

void uxt_buf_left(struct uxt_buf *b, const char *s, size_t width)
{
	size_t n = strlen(s);

	uxt_buf_putn(b, s, n);
	if (n < width)
		uxt_buf_fill(b, ' ', width - n);
}

void uxt_buf_right(struct uxt_buf *b, const char *s, size_t width)
{
	size_t n = strlen(s);

	if (n < width)
		uxt_buf_fill(b, ' ', width - n);
	uxt_buf_putn(b, s, n);
}

size_t uxt_u64_to_str(uint64_t v, char *out)
{
	char tmp[21];
	size_t n = 0, i;

	if (v < 10) {
		out[0] = (char)('0' + v);
		out[1] = '\0';
		return 1;
	}
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
	return n;
}

void uxt_buf_u64(struct uxt_buf *b, uint64_t v)
{
	char tmp[21];

	uxt_buf_putn(b, tmp, uxt_u64_to_str(v, tmp));
}

void uxt_buf_u64_right(struct uxt_buf *b, uint64_t v, size_t width)
{
	char tmp[21];
	size_t n = uxt_u64_to_str(v, tmp);

	if (n < width)
		uxt_buf_fill(b, ' ', width - n);
	uxt_buf_putn(b, tmp, n);
}

/* The decimal text of each byte value, for dotted quads. */
static const char octet_text[256][4] = {
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
	"14", "15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25",
	"26", "27", "28", "29", "30", "31", "32", "33", "34", "35", "36", "37",
	"38", "39", "40", "41", "42", "43", "44", "45", "46", "47", "48", "49",
	"50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "60", "61",
	"62", "63", "64", "65", "66", "67", "68", "69", "70", "71", "72", "73",
	"74", "75", "76", "77", "78", "79", "80", "81", "82", "83", "84", "85",
	"86", "87", "88", "89", "90", "91", "92", "93", "94", "95", "96", "97",
	"98", "99", "100", "101", "102", "103", "104", "105", "106", "107", "108",
	"109", "110", "111", "112", "113", "114", "115", "116", "117", "118", "119",
	"120", "121", "122", "123", "124", "125", "126", "127", "128", "129", "130",
	"131", "132", "133", "134", "135", "136", "137", "138", "139", "140", "141",
	"142", "143", "144", "145", "146", "147", "148", "149", "150", "151", "152",
	"153", "154", "155", "156", "157", "158", "159", "160", "161", "162", "163",
	"164", "165", "166", "167", "168", "169", "170", "171", "172", "173", "174",
	"175", "176", "177", "178", "179", "180", "181", "182", "183", "184", "185",
	"186", "187", "188", "189", "190", "191", "192", "193", "194", "195", "196",
	"197", "198", "199", "200", "201", "202", "203", "204", "205", "206", "207",
	"208", "209", "210", "211", "212", "213", "214", "215", "216", "217", "218",
	"219", "220", "221", "222", "223", "224", "225", "226", "227", "228", "229",
	"230", "231", "232", "233", "234", "235", "236", "237", "238", "239", "240",
	"241", "242", "243", "244", "245", "246", "247", "248", "249", "250", "251",
	"252", "253", "254", "255",
};

void uxt_buf_ipv4(struct uxt_buf *b, uint32_t addr_be)
{
	const unsigned char *p = (const unsigned char *)&addr_be;
	char *out;

	if (b->cap - b->len < 16)
		uxt_buf_reserve(b, 16);
	out = b->data + b->len;
	for (int i = 0; i < 4; i++) {
		const char *t = octet_text[p[i]];

		/* copy all four bytes, advance by the length of the text */
		memcpy(out, t, 4);
		out += p[i] >= 100 ? 3 : p[i] >= 10 ? 2 : 1;
		*out++ = '.';
	}
	b->len = (size_t)(out - 1 - b->data);
}
