/* tests/harness.h — a minimal test harness: CHECK records a failure and continues, so one run
 * reports every mismatch; main() comes from harness.c and calls the file's am_test_main(). */
#ifndef AM_TEST_HARNESS_H
#define AM_TEST_HARNESS_H
#include "automodel.h"
#include <stdio.h>
#include <string.h>

extern int am_test_failures;
extern int am_test_checks;
int am_test_main(int argc, char **argv);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        am_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            am_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                                          \
    } while (0)
#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        am_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            am_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)
#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        am_status s_ = (expr);                                                                     \
        CHECKF(s_ == AM_OK, "%s -> %s: %s", #expr, am_status_name(s_), am_last_error());          \
    } while (0)

/* Fixture root (AM_FIXTURES env, else tests/fixtures relative to cwd); joined path in a static buffer. */
const char *am_test_fixture(const char *rel);
/* Run a shell command, capture stdout into a malloc'd string (may be NULL); returns exit status. */
int am_test_run(const char *cmd, char **out);
/* Runs `CLI ARGS 2>&1` (ARGS printf-formatted); returns the exit status, *out the whole output
 * (owned; NULL out: discarded). */
int am_test_cli(const char *cli, char **out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
char *am_test_read_file(const char *path, size_t *len);
/* The automodel CLI (AM_CLI) run as a fresh process with argv (stdout to /dev/null; fork + exec at
 * once: nothing of this process's thread pool runs in the child); its peak RSS from wait4, in kB;
 * -1 when AM_CLI is unset or the command failed. */
long am_test_cli_peak_rss_kb(char *const argv[]);
/* A random model written at test time for the peak-RSS tests: in a new folder made from `dir`
 * (a mkdtemp template, rewritten), config.json from config_json, <dir>/model by `automodel init
 * --seed 1` (AM_CLI) in a fresh process, and <dir>/in.safetensors with input_ids [1, 16] of
 * (i * 37) % 97. false when a step failed. */
bool am_test_cli_random_model(char *dir, const char *config_json);
/* A pipelines_media model_level "save_roundtrip" (a cJSON object) against a folder save_pretrained
 * wrote: every listed file exists, config.json has exactly the listed keys plus "_name_or_path"
 * (the load path, which the reference leaves out). */
struct cJSON;
void am_test_check_saved(const char *saved_dir, const struct cJSON *save_roundtrip);
/* float32 tensors of the same shape, |got - want| <= atol + rtol * |want| everywhere; prints the first
 * mismatch and the count under `what`. 1 when close. */
int am_test_close(const char *what, const am_tensor *got, const am_tensor *want, double atol, double rtol);
/* A pipelines_media "model_level" object through the CLI (AM_CLI; nothing when it is unset): `forward
 * --task TASK --inputs IN --output OUT --output-hidden-states` reproduces every "model.out.NAME" of
 * `exp` within its atol/rtol (NAME "logits_last_position" = logits[:, -1:]), `info --json` the class,
 * parameter count, footprint and dtype of "stats", `info --repr` the "repr_file" of `dir`. */
void am_test_cli_model_level(const char *dir, const char *task, const am_tensors *in, const struct cJSON *model_level,
                             const am_tensors *exp);
#endif
