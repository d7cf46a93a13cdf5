/* SPDX-License-Identifier: BSD-2-Clause */
/* Interim: uxt host is being written. */
#include <stdio.h>

#include "cli.h"

int uxt_host_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("uxt host: not available yet\n", stderr);
	return 2;
}
