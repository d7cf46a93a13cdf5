/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: iptables-restore's input parser, end to end.
 *
 * The input is a restore file; the first byte chooses the flags (-n, -c,
 * -t, -v).  It runs against a private state directory, so the lock, load,
 * verify and commit of each table section are exercised as well.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[] = "/tmp/uxt-fuzz-restore-XXXXXX";

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	setenv("UXT_STATE", dir, 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[6];
	int argc = 0;
	FILE *in;
	int saved;

	if (size < 1 || size > 65536)
		return 0;
	argv[argc++] = "iptables-restore";
	if (data[0] & 1)
		argv[argc++] = "-n";
	if (data[0] & 2)
		argv[argc++] = "-c";
	if (data[0] & 4)
		argv[argc++] = "-t";
	if (data[0] & 8)
		argv[argc++] = "-v";
	argv[argc] = NULL;
	in = fmemopen((void *)(data + 1), size - 1, "r");
	if (!in)
		return 0;
	/* keep the fuzzer's output readable: restore writes to fd 1 and 2 */
	saved = dup(1);
	iptables_restore_run(argc, argv, in);
	if (saved >= 0) {
		dup2(saved, 1);
		close(saved);
	}
	fclose(in);
	return 0;
}
