/* tests/pipeline_cases.h — what the pipeline tests over fixtures/pipelines_media share: the
 * comparison of a result with transformers' (as JSON), a case's case.json, a run's input files,
 * and the `automodel pipeline` command line of a run (call kwargs as dashed flags). */
#ifndef AM_TEST_PIPELINE_CASES_H
#define AM_TEST_PIPELINE_CASES_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

char *am_test_strdup(const char *s);
/* got vs want (Python's result as JSON): the same shape and key order (as json.dumps writes
 * them), strings and other numbers exact, "score" within 1e-4; *why says where they differ. */
bool am_test_json_same(const cJSON *got, const cJSON *want, const char *key, char *why, size_t nwhy);
/* pipelines_media/<name>/case.json (a failed CHECK and NULL when it does not parse). */
cJSON *am_test_load_case(const char *name);
/* The inputs of a run (one file or a list) as fixture paths (owned), at most max. */
size_t am_test_run_inputs(const cJSON *run, char **paths, size_t max);
/* Runs `automodel pipeline TASK pipelines_media/<name> INPUT... --json --KWARG VALUE...` for the run;
 * *out gets its stdout (owned); returns the exit status. */
int am_test_cli_pipeline(const char *cli, const char *name, const char *task, const cJSON *run, char **out);
#endif
