/* cli/cli.h — the automodel command: one function per sub-command, all over the public API. */
#ifndef AM_CLI_H
#define AM_CLI_H
#include "automodel.h"

/* Each command gets argv without the program name (argv[0] is the command name) and returns the
 * process exit status. Errors go to stderr as "automodel: <message>". */
typedef int (*am_cli_fn)(int argc, char **argv);
int am_cli_fail(const char *what); /* prints am_last_error() and returns 1 */
int am_cli_usage_error(const char *fmt, ...);

int am_cli_info(int argc, char **argv);
int am_cli_forward(int argc, char **argv);
int am_cli_generate(int argc, char **argv);
/* Parses the load options (--task, --dtype, ...) and MODEL, loads it; consumed argv entries become
 * NULL. NULL with *rc set (usage error or load failure) on failure. */
am_model *am_cli_load_model(int argc, char **argv, const char **model_path, int *rc);
int am_cli_save(int argc, char **argv);
int am_cli_tokenize(int argc, char **argv);
int am_cli_download(int argc, char **argv);
int am_cli_login(int argc, char **argv);
int am_cli_logout(int argc, char **argv);
int am_cli_whoami(int argc, char **argv);
int am_cli_push(int argc, char **argv);
int am_cli_hub(int argc, char **argv);
int am_cli_classify(int argc, char **argv);
int am_cli_ner(int argc, char **argv);
int am_cli_qa(int argc, char **argv);
int am_cli_fill_mask(int argc, char **argv);
#endif
