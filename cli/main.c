/* cli/main.c — dispatch `automodel COMMAND ...` to the command table. */
#include "cli.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const am_cli_cmd *cmd;
    am_cli_fn fn;
} k_commands[] = {
    {&am_cli_cmd_info, am_cli_info},         {&am_cli_cmd_forward, am_cli_forward},
    {&am_cli_cmd_generate, am_cli_generate}, {&am_cli_cmd_save, am_cli_save},
    {&am_cli_cmd_init, am_cli_init},         {&am_cli_cmd_tokenize, am_cli_tokenize},
    {&am_cli_cmd_classify, am_cli_classify}, {&am_cli_cmd_ner, am_cli_ner},
    {&am_cli_cmd_qa, am_cli_qa},             {&am_cli_cmd_fill_mask, am_cli_fill_mask},
    {&am_cli_cmd_download, am_cli_download}, {&am_cli_cmd_login, am_cli_login},
    {&am_cli_cmd_logout, am_cli_logout},     {&am_cli_cmd_whoami, am_cli_whoami},
    {&am_cli_cmd_push, am_cli_push},         {&am_cli_cmd_hub, am_cli_hub},
    {&am_cli_cmd_preprocess, am_cli_preprocess}, {&am_cli_cmd_pipeline, am_cli_pipeline},
    {&am_cli_cmd_export, am_cli_export},
};

int am_cli_fail(const char *what) {
    if (what) fprintf(stderr, "automodel: %s: %s\n", what, am_last_error());
    else fprintf(stderr, "automodel: %s\n", am_last_error());
    return 1;
}

int am_cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("automodel: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static void usage(FILE *f) {
    fprintf(f, "usage: automodel COMMAND [ARGS]   (automodel COMMAND --help lists a command's options)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(f, "  %-10s %s\n", k_commands[i].cmd->name, k_commands[i].cmd->summary);
    fprintf(f, "\n  --version  print the version\n");
}

int main(int argc, char **argv) {
    /* messages name this command's flags (--ignore-mismatched-sizes), not Python keyword arguments */
    am_set_option_naming(AM_NAMING_CLI);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        if (argc > 2 && strcmp(argv[1], "help") == 0) { /* automodel help CMD */
            for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
                if (!strcmp(argv[2], k_commands[i].cmd->name)) {
                    am_cli_print_help(k_commands[i].cmd, stdout);
                    return 0;
                }
        }
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("automodel %s\ncpu: %s\n", am_version(), am_cpu_report_json());
        return 0;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (!strcmp(argv[1], k_commands[i].cmd->name)) return k_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "automodel: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
