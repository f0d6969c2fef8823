/* cli/cli.h — the automodel command: one function per sub-command, all over the public API, and
 * the option machinery they share (cli/opts.c): every command declares its options in one table,
 * parsed with getopt_long, from which its --help is printed; the commands that load a model also
 * take the shared load options (--task, --dtype, --revision, --set, ...), parsed in one place. */
#ifndef AM_CLI_H
#define AM_CLI_H
#include "automodel.h"
#include <getopt.h>

/* Each command gets argv without the program name (argv[0] is the command name) and returns the
 * process exit status: 0, 1 for a failure, 2 for a usage error. Errors go to stderr as
 * "automodel: <message>". */
typedef int (*am_cli_fn)(int argc, char **argv);
int am_cli_fail(const char *what); /* prints am_last_error() and returns 1 */
int am_cli_usage_error(const char *fmt, ...);

/* One option of a command: --name (and --alias), its argument (no_argument, required_argument,
 * optional_argument of getopt_long), the metavariable and the help line. */
typedef struct am_cli_opt {
    const char *name;
    const char *alias;
    int arg;
    const char *metavar;
    const char *help;
} am_cli_opt;

/* A command's interface: what its --help prints and what the parser accepts. */
typedef struct am_cli_cmd {
    const char *name;
    const char *usage;      /* after "automodel ": "info MODEL [options]" */
    const char *summary;    /* one line for `automodel --help` */
    const am_cli_opt *opts; /* the command's own options, ended by {0} */
    bool load;              /* also takes the shared load options */
} am_cli_cmd;

/* The load options of every model-loading command, as parsed. */
typedef struct am_cli_load {
    am_task task;
    am_load_options o;
    const char *config_file;   /* --config FILE */
    const char **sets;         /* --set key=value, in order */
    size_t n_sets;
    am_config *config;         /* owned: built by am_cli_load_config when --config/--set were given */
    char *max_memory;          /* owned: every --max-memory, joined by commas (o.max_memory points here) */
    char *quant_json;          /* owned: --quantization-config FILE's text */
} am_cli_load;
void am_cli_load_init(am_cli_load *l);
void am_cli_load_free(am_cli_load *l);
/* Builds l->config from --config FILE (else MODEL's own config) with every --set applied, and
 * points l->o.config at it, as from_pretrained(..., config=config) after an edit. Nothing to do
 * without --config/--set. Returns 0 or an exit status. */
int am_cli_load_config(am_cli_load *l, const char *model_path);
/* am_cli_load_config, then from_pretrained. NULL with *rc set on failure. */
am_model *am_cli_load_model(am_cli_load *l, const char *model_path, int *rc);
/* Applies `key=value` (value JSON, or a bare word as a string) to c. 0 or an exit status. */
int am_cli_config_set(am_config *c, const char *kv);
/* Re-reads *c as config.json text would be read (value types checked against the config class);
 * `what` names it in errors. 0 or an exit status. */
int am_cli_config_check(am_config **c, const char *what);

/* Called for each of the command's own options with its canonical name and argument (NULL when
 * none); returns 0 or an exit status. */
typedef int (*am_cli_on_opt)(void *ctx, const char *name, const char *arg);
#define AM_CLI_HELP (-1) /* am_cli_parse printed --help: the command returns 0 */
/* Parses argv with getopt_long: the command's options go to on_opt, the load options (when
 * cmd->load) into *load, the rest are the positional arguments (*pos points into argv, in order).
 * An unknown option, a missing or a bad value is reported here, before anything loads. Returns
 * 0, AM_CLI_HELP, or an exit status. */
int am_cli_parse(const am_cli_cmd *cmd, int argc, char **argv, am_cli_load *load, am_cli_on_opt on_opt, void *ctx,
                 char ***pos, int *npos);
void am_cli_print_help(const am_cli_cmd *cmd, FILE *f);
/* Integer/number parsing for option values: 0, or a usage error naming --flag. */
int am_cli_int(const char *flag, const char *v, long long lo, long long *out);
int am_cli_num(const char *flag, const char *v, double *out);

/* Keyword-argument commands (preprocess, pipeline): `--do-pad false` -> `--do-pad=false` for the
 * optional_argument (boolean) options of `opts`, and `--images A B` -> `--images A --images B` for
 * the flags in list_flags (NULL-terminated, may be NULL). Returns the new argv (free it and the
 * *n_owned strings of *owned), NULL when out of memory. */
char **am_cli_kwargs_argv(const am_cli_opt *opts, const char *const *list_flags, int argc, char **argv, int *out_argc, char ***owned,
                          size_t *n_owned);
/* A flag's value as Python would have it (cJSON, owned): JSON, True/False/None, else a string;
 * NULL (a bare flag) is true. */
struct cJSON *am_cli_kwarg_value(const char *v);
/* The first keyword of `kwargs` (a JSON object) not in `ok` (NULL-terminated): NULL when every one is
 * taken; else its name, with `flag` set to it as a dashed flag (`do_pad` -> `do-pad`) and `takes` to
 * the list of accepted flags ("--top-k, --function-to-apply"; empty when there are none). */
const char *am_cli_unknown_kwarg(const struct cJSON *kwargs, const char *const *ok, char *flag, size_t flag_size, char *takes,
                                 size_t takes_size);

extern const am_cli_cmd am_cli_cmd_info, am_cli_cmd_forward, am_cli_cmd_generate, am_cli_cmd_save, am_cli_cmd_init,
    am_cli_cmd_tokenize, am_cli_cmd_download, am_cli_cmd_login, am_cli_cmd_logout, am_cli_cmd_whoami, am_cli_cmd_push,
    am_cli_cmd_hub, am_cli_cmd_classify, am_cli_cmd_ner, am_cli_cmd_qa, am_cli_cmd_fill_mask, am_cli_cmd_preprocess,
    am_cli_cmd_pipeline;

int am_cli_info(int argc, char **argv);
int am_cli_forward(int argc, char **argv);
int am_cli_generate(int argc, char **argv);
int am_cli_save(int argc, char **argv);
int am_cli_init(int argc, char **argv);
int am_cli_tokenize(int argc, char **argv);
int am_cli_download(int argc, char **argv);
int am_cli_login(int argc, char **argv);
int am_cli_logout(int argc, char **argv);
int am_cli_whoami(int argc, char **argv);
int am_cli_push(int argc, char **argv);
int am_cli_hub(int argc, char **argv);
extern const am_cli_cmd am_cli_cmd_export;
int am_cli_export(int argc, char **argv);
int am_cli_classify(int argc, char **argv);
int am_cli_ner(int argc, char **argv);
int am_cli_qa(int argc, char **argv);
int am_cli_fill_mask(int argc, char **argv);
int am_cli_preprocess(int argc, char **argv);
int am_cli_pipeline(int argc, char **argv);
#endif
