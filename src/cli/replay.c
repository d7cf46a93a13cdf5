/* SPDX-License-Identifier: BSD-2-Clause */
/* Interim: uxt replay is being written. */
#include <stdio.h>

#include "cli.h"

int uxt_replay_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("uxt replay: not available yet\n", stderr);
	return 2;
}
