/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * comment match (revision 0): always matches; carries a text of up to 255
 * characters.
 *
 * Command line as libxt_comment (x6 style, fully generic): --comment is
 * mandatory, and a longer text is cut to 255 characters without a word.
 * -L prints it raw between C comment marks, -S quoted by
 * xtables_save_string.  The kernel module checks nothing, and its match
 * always holds.
 */
#include <stddef.h>
#include <string.h>

#include "engine.h"
#include "ext.h"
#include "parse.h"

#define UXT_MAX_COMMENT_LEN 256

/* xt_comment_info */
struct uxt_comment_info {
	char comment[UXT_MAX_COMMENT_LEN];
};
_Static_assert(sizeof(struct uxt_comment_info) == 256, "xt_comment_info layout");

enum { O_COMMENT = 0 };

static const struct uxt_opt comment_opts[] = {
	{.name = "comment", .has_arg = 1, .type = UXT_OT_STRING,
	 .id = O_COMMENT, .flags = UXT_OPT_MAND | UXT_OPT_PUT,
	 UXT_OPT_POINTER(struct uxt_comment_info, comment)},
	{.name = NULL},
};

static void comment_help(struct uxt_buf *out)
{
	uxt_buf_puts(out, "comment match options:\n"
			  "--comment COMMENT             Attach a comment to a rule\n");
}

/* The text, terminated at its last byte as libxt_comment forces it. */
static void comment_text(const struct uxt_comment_info *info,
			 char out[UXT_MAX_COMMENT_LEN])
{
	memcpy(out, info->comment, UXT_MAX_COMMENT_LEN);
	out[UXT_MAX_COMMENT_LEN - 1] = '\0';
}

static void comment_print(struct uxt_buf *b, const struct uxt_ip *ip,
			  const void *data, bool numeric)
{
	char text[UXT_MAX_COMMENT_LEN];

	(void)ip;
	(void)numeric;
	comment_text(data, text);
	uxt_buf_puts(b, " /* ");
	uxt_buf_puts(b, text);
	uxt_buf_puts(b, " */");
}

static void comment_save(struct uxt_buf *b, const struct uxt_ip *ip,
			 const void *data)
{
	char text[UXT_MAX_COMMENT_LEN];

	(void)ip;
	comment_text(data, text);
	uxt_buf_puts(b, " --comment");
	uxt_save_string(b, text);
}

static bool comment_match(const struct uxt_pkt *pkt, struct uxt_xt_param *par)
{
	(void)pkt;
	(void)par;
	return true;
}

const struct uxt_ext uxt_ext_comment = {
	.name = "comment",
	.kind = UXT_MATCH,
	.x6 = true,
	.size = sizeof(struct uxt_comment_info),
	.usersize = UXT_ALIGN(sizeof(struct uxt_comment_info)),
	.opts = comment_opts,
	.help = comment_help,
	.print = comment_print,
	.save = comment_save,
	.match = comment_match,
};
