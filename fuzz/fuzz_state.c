/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the state loader.
 *
 * The input is a state file image.  Whatever it holds, loading must either
 * fail with a message or give a ruleset that lists, verifies and writes
 * back without any fault.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "parse.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uxt_ruleset rs;
	struct uxt_err e;
	struct uxt_buf b;
	void *image;
	int fd;

	/* the loader maps files: give it the same alignment */
	image = aligned_alloc(8, (size + 7) & ~(size_t)7);
	if (!image)
		return 0;
	memcpy(image, data, size);
	if (uxt_state_parse(image, size, &rs, &e) == 0) {
		uxt_buf_init(&b, -1);
		for (int i = 0; i < rs.ntables; i++) {
			const struct uxt_table *t = rs.tables[rs.order[i]];
			const struct uxt_rule *bad;

			uxt_table_verify(t, &bad);
			for (uint32_t c = 0; c < t->nchains; c++)
				for (uint32_t j = 0; j < t->chains[c]->nrules; j++) {
					const struct uxt_rule *r = t->chains[c]->rules[j];

					uxt_fmt_rule(&b, r, j + 1,
						     UXT_FMT_NUMERIC | UXT_FMT_OPTIONS | UXT_FMT_VIA);
					uxt_fmt_rule_save(&b, r, t->chains[c]->name, 1);
				}
		}
		uxt_buf_free(&b);
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			uxt_state_write(fd, &rs, 1);
			close(fd);
		}
		uxt_ruleset_free(&rs);
	}
	free(image);
	return 0;
}
