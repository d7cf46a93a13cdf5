/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the iptables argument parser and the command it runs.
 *
 * The input is an argument vector, words separated by NUL or newline.  It
 * runs as one iptables command against an in-memory ruleset (the
 * iptables-restore path, so no state directory is touched), and when it
 * changed the table, the table is verified and listed in every format.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "parse.h"

#define MAX_WORDS 64

static void list_table(const struct uxt_table *t)
{
	static const unsigned int formats[] = {
		UXT_FMT_NUMERIC | UXT_FMT_OPTIONS | UXT_FMT_NOCOUNTS,
		UXT_FMT_NUMERIC | UXT_FMT_OPTIONS | UXT_FMT_VIA | UXT_FMT_LINENUMBERS,
		UXT_FMT_NUMERIC | UXT_FMT_OPTIONS | UXT_FMT_VIA | UXT_FMT_KILOMEGAGIGA,
		UXT_FMT_PRINT_RULE,
	};
	struct uxt_buf b;

	uxt_buf_init(&b, -1);
	for (uint32_t i = 0; i < t->nchains; i++) {
		const struct uxt_chain *c = t->chains[i];

		for (uint32_t j = 0; j < c->nrules; j++) {
			for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++)
				uxt_fmt_rule(&b, c->rules[j], j + 1, formats[f]);
			uxt_fmt_rule_save(&b, c->rules[j], c->name, 1);
			uxt_fmt_rule_save(&b, c->rules[j], c->name, -1);
		}
	}
	uxt_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *argv[MAX_WORDS + 2];
	int argc = 0, error = 0;
	struct uxt_ruleset rs;
	struct uxt_table *t;
	struct cli_io io;
	struct uxt_err e;
	struct cli_cmd_opts opts = {.restore = true};
	const struct uxt_rule *bad;
	bool changed = false;
	size_t start = 0;

	if (size > 8192)
		return 0;
	buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "iptables";
	for (size_t i = 0; i <= size && argc < MAX_WORDS; i++) {
		if (i == size || buf[i] == '\0' || buf[i] == '\n') {
			buf[i] = '\0';
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;

	uxt_ruleset_init(&rs);
	t = uxt_ruleset_instantiate(&rs, "filter", &error);
	uxt_table_create_chain(t, "USER");
	uxt_table_create_chain(t, "OTHER");
	cli_io_init(&io, "iptables");
	io.out.fd = -1;
	io.err.fd = -1;
	uxt_err_clear(&e);
	opts.restore_table = t;
	opts.restore_rs = &rs;
	if (cli_do_command(&io, NULL, argc, argv, &opts, &changed, &e) >= 0 &&
	    changed && uxt_table_verify(t, &bad) == 0)
		list_table(t);
	uxt_buf_free(&io.out);
	uxt_buf_free(&io.err);
	uxt_ruleset_free(&rs);
	free(buf);
	return 0;
}
