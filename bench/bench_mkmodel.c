/* bench/bench_mkmodel.c — write a randomly initialised checkpoint for benchmarks:
 * am_model_from_config(task, CONFIG.json) + save_pretrained(OUTDIR). usage: bench_mkmodel CONFIG TASK OUTDIR */
#include "automodel.h"
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s CONFIG.json TASK OUTDIR\n", argv[0]);
        return 2;
    }
    am_task task;
    am_config *c = am_config_from_pretrained(argv[1]);
    am_model *m = c && am_task_parse(argv[2], &task) == AM_OK ? am_model_from_config(task, c, 1) : NULL;
    if (!m || am_model_save_pretrained(m, argv[3], NULL) != AM_OK) {
        fprintf(stderr, "%s\n", am_last_error());
        return 1;
    }
    am_model_free(m);
    am_config_free(c);
    return 0;
}
