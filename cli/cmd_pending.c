/* cli/cmd_pending.c — commands whose layer is still being built; each is replaced by its own
 * cmd_*.c file (these are weak definitions so the real one wins at link time). */
#include "cli.h"
#include <stdio.h>

#define AM_PENDING(fn, name)                                                                       \
    __attribute__((weak)) int fn(int argc, char **argv) {                                          \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        fprintf(stderr, "automodel: the '%s' command is not available in this build\n", name);    \
        return 2;                                                                                  \
    }
