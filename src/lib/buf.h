/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Output buffer.
 *
 * Every listing (-L, -S, iptables-save) is built into a uxt_buf rather than
 * written with stdio, because a 100k-rule listing is dominated by formatting
 * cost: the appenders here are memcpy-based and the buffer is flushed to its
 * file descriptor in large chunks.  A buffer with fd < 0 only accumulates
 * (used for error messages and in tests).
 *
 * Not thread-safe; one buffer per writer.
 */
#ifndef UXT_BUF_H
#define UXT_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct uxt_buf {
	char *data;
	size_t len;
	size_t cap;
	int fd;		/* flush target, or -1 to keep everything in memory */
	int failed;	/* a write to fd failed; later output is dropped */
};

/* A buffer that flushes to fd (or keeps everything if fd < 0). */
void uxt_buf_init(struct uxt_buf *b, int fd);
/* Writes what is pending to fd and releases the memory. */
void uxt_buf_free(struct uxt_buf *b);
/* Writes what is pending to fd; keeps the buffer usable. */
int uxt_buf_flush(struct uxt_buf *b);
/* Makes room for n more bytes, flushing first when the buffer is large. */
void uxt_buf_reserve(struct uxt_buf *b, size_t n);
/* The accumulated text as a C string (fd < 0 buffers). */
const char *uxt_buf_str(struct uxt_buf *b);
void uxt_buf_reset(struct uxt_buf *b);

void uxt_buf_printf(struct uxt_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void uxt_buf_vprintf(struct uxt_buf *b, const char *fmt, va_list ap);

static inline void uxt_buf_putn(struct uxt_buf *b, const char *s, size_t n)
{
	if (b->cap - b->len < n + 1)
		uxt_buf_reserve(b, n + 1);
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

static inline void uxt_buf_puts(struct uxt_buf *b, const char *s)
{
	uxt_buf_putn(b, s, strlen(s));
}

static inline void uxt_buf_putc(struct uxt_buf *b, char c)
{
	if (b->cap - b->len < 2)
		uxt_buf_reserve(b, 2);
	b->data[b->len++] = c;
}

/* Appends n copies of c. */
void uxt_buf_fill(struct uxt_buf *b, char c, size_t n);
/* printf("%-*s", width, s) */
void uxt_buf_left(struct uxt_buf *b, const char *s, size_t width);
/* printf("%*s", width, s) */
void uxt_buf_right(struct uxt_buf *b, const char *s, size_t width);
/* printf("%llu") and printf("%*llu", width) */
void uxt_buf_u64(struct uxt_buf *b, uint64_t v);
void uxt_buf_u64_right(struct uxt_buf *b, uint64_t v, size_t width);
/* Dotted quad of an address in network byte order. */
void uxt_buf_ipv4(struct uxt_buf *b, uint32_t addr_be);

/* Formats v in decimal into out (at least 21 bytes); returns the length. */
size_t uxt_u64_to_str(uint64_t v, char *out);

#endif
