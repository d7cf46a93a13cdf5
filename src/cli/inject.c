/* SPDX-License-Identifier: BSD-2-Clause */
/* Interim: uxt inject is being written. */
#include <stdio.h>

#include "cli.h"

int uxt_inject_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("uxt inject: not available yet\n", stderr);
	return 2;
}
