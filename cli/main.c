/* cli/main.c — dispatch `automodel COMMAND ...` to the command table. */
#include "cli.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    am_cli_fn fn;
    const char *help;
} k_commands[] = {
    {"info", am_cli_info, "info MODEL [--task T] [--json | --repr | --config]"},
    {"forward", am_cli_forward, "forward MODEL --inputs IN.safetensors --output OUT.safetensors [--task T]"},
    {"generate", am_cli_generate, "generate MODEL (PROMPT | --inputs IN.safetensors --output OUT.safetensors) [--max-new-tokens N] [--do-sample] [--num-beams K] [...]"},
    {"save", am_cli_save, "save MODEL OUTDIR [--dtype D] [--format safetensors|bin] [--max-shard-size S]"},
    {"tokenize", am_cli_tokenize, "tokenize TOKENIZER (TEXT | --cases CASES.jsonl --output OUT.jsonl)"},
    {"download", am_cli_download, "download ID [FILE] [--revision R] [--cache-dir D] [--include GLOB]"},
    {"login", am_cli_login, "login [--endpoint URL] [--no-verify]  (token read from stdin)"},
    {"logout", am_cli_logout, "logout"},
    {"whoami", am_cli_whoami, "whoami [--json]"},
    {"push", am_cli_push, "push DIR REPO_ID [--private] [--commit-message MSG] [--revision B] [--create-pr]"},
    {"hub", am_cli_hub, "hub serve ROOT [--host 127.0.0.1] [--port P] [--tokens FILE] [--mirror CACHE_DIR]"},
    {"classify", am_cli_classify, "classify MODEL (TEXT | --input-file F) [--top-k K|all] [--function softmax|sigmoid|none] [--json]"},
    {"ner", am_cli_ner, "ner MODEL (TEXT | --input-file F) [--aggregation none|simple|first|average|max] [--json]"},
    {"qa", am_cli_qa, "qa MODEL (--question Q --context C | --input-file F) [--top-k K] [--max-answer-len N] [--json]"},
    {"fill-mask", am_cli_fill_mask, "fill-mask MODEL (TEXT | --input-file F) [--top-k K] [--json]"},
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
    fprintf(f, "usage: automodel COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++) fprintf(f, "  automodel %s\n", k_commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("automodel %s\ncpu: %s\n", am_version(), am_cpu_report_json());
        return 0;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (!strcmp(argv[1], k_commands[i].name)) return k_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "automodel: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
