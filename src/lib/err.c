/* SPDX-License-Identifier: BSD-2-Clause */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

static int set(struct uxt_err *e, int status, int flags, const char *fmt,
	       va_list ap)
{
	e->status = status;
	e->flags = flags;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return -1;
}

int uxt_error(struct uxt_err *e, int status, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = set(e, status, 0, fmt, ap);
	va_end(ap);
	return ret;
}

int uxt_error_bare(struct uxt_err *e, int status, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = set(e, status, UXT_ERR_BARE, fmt, ap);
	va_end(ap);
	return ret;
}

void uxt_err_clear(struct uxt_err *e)
{
	e->status = UXT_OK;
	e->flags = 0;
	e->msg[0] = '\0';
}
