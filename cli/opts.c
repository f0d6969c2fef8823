/* cli/opts.c — the option machinery of every command: a command's table of options, parsed with
 * getopt_long together with the shared load options (from_pretrained's keyword arguments under
 * their transformers names), --help printed from the same tables, and --config/--set applied as
 * `config = AutoConfig.from_pretrained(...); config.key = value; from_pretrained(..., config=config)`. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The load options, in the order --help lists them. */
static const am_cli_opt k_load_opts[] = {
    {"task", NULL, required_argument, "T", "the head, as AutoModelFor<T>: sequence-classification, token-classification, "
                                           "question-answering, masked-lm, causal-lm, seq2seq-lm, ... (default: the "
                                           "config's architectures)"},
    {"dtype", "torch-dtype", required_argument, "D", "torch_dtype: float32, float16, bfloat16 or auto (default: float32; float16 for the modules left unquantized by --load-in-8bit/4bit, as transformers)"},
    {"attn-implementation", "attn", required_argument, "IMPL", "attn_implementation: eager, sdpa or flash_attention_2"},
    {"float32-matmul-precision", NULL, required_argument, "P", "torch.set_float32_matmul_precision for this model: highest "
                                                               "(default), high, or medium (float32 weights computed in bf16 "
                                                               "where the CPU has bf16 units)"},
    {"device-map", NULL, required_argument, "MAP", "device_map: auto, balanced, balanced_low_0, sequential, cpu, or a "
                                                   "JSON object of module prefixes to \"cpu\" or \"disk\" (no GPU backend: "
                                                   "GPU ids are refused)"},
    {"max-memory", NULL, required_argument, "DEV=SIZE", "max_memory for --device-map: cpu=2GiB[,disk=...] (accelerate's "
                                                        "sizes: GiB/MiB powers of 2, GB/MB of 10, bytes); repeatable"},
    {"offload-folder", NULL, required_argument, "DIR", "offload_folder: where \"disk\" weights that must be converted "
                                                       "are written (<name>.dat + index.json)"},
    {"low-cpu-mem-usage", NULL, no_argument, NULL, "accepted for transformers' spelling; always on: weights are "
                                                   "memory-mapped, not copied"},
    {"load-in-8bit", NULL, no_argument, NULL, "load_in_8bit: nn.Linear/Conv1D weights as LLM.int8 (int8, row absmax; "
                                              "outlier input columns in float); docs/quantization.md"},
    {"load-in-4bit", NULL, no_argument, NULL, "load_in_4bit: weights as 4-bit codes in blocks of 64 (fp4 by default)"},
    {"bnb-4bit-quant-type", NULL, required_argument, "T", "bnb_4bit_quant_type: fp4 (default) or nf4"},
    {"bnb-4bit-compute-dtype", NULL, required_argument, "D", "bnb_4bit_compute_dtype: float32 (default), bfloat16 or float16"},
    {"bnb-4bit-use-double-quant", NULL, no_argument, NULL, "bnb_4bit_use_double_quant: block absmaxes stored 8-bit"},
    {"llm-int8-threshold", NULL, required_argument, "X", "llm_int8_threshold: outlier magnitude (default 6.0; 0 = pure int8)"},
    {"quantization-config", NULL, required_argument, "JSON|FILE", "quantization_config: a BitsAndBytesConfig as a JSON object "
                                                                "(or a file holding one)"},
    {"num-labels", NULL, required_argument, "N", "num_labels: the classification head's size"},
    {"ignore-mismatched-sizes", NULL, no_argument, NULL, "ignore_mismatched_sizes: re-initialise weights whose shape "
                                                         "differs from the checkpoint's"},
    {"no-safetensors", NULL, no_argument, NULL, "use_safetensors=False: load pytorch_model.bin"},
    {"config", NULL, required_argument, "FILE", "config=: this config.json (or folder) instead of MODEL's"},
    {"set", NULL, required_argument, "KEY=VALUE", "change one config key before loading (VALUE is JSON; a bare "
                                                  "word is a string); repeatable"},
    {"revision", NULL, required_argument, "R", "hub: branch, tag or commit"},
    {"cache-dir", NULL, required_argument, "DIR", "hub: cache folder (default: see docs/cache.md)"},
    {"token", NULL, required_argument, "TOKEN", "hub: access token (default: HF_TOKEN, then `automodel login`'s)"},
    {"local-files-only", NULL, no_argument, NULL, "hub: use the cache only, never the network"},
    {"force-download", NULL, no_argument, NULL, "hub: download again even when cached"},
    {"subfolder", NULL, required_argument, "DIR", "hub: the model's folder inside the repository"},
    {0},
};

static const am_cli_opt k_help_opt = {"help", NULL, no_argument, NULL, "show this help and exit"};

void am_cli_load_init(am_cli_load *l) {
    memset(l, 0, sizeof *l);
    l->task = AM_TASK_AUTO;
    l->o = am_load_options_default();
}

void am_cli_load_free(am_cli_load *l) {
    free(l->sets);
    free(l->max_memory);
    l->max_memory = NULL;
    am_config_free(l->config);
    l->sets = NULL;
    l->config = NULL;
    free(l->quant_json);
    l->quant_json = NULL;
}

int am_cli_int(const char *flag, const char *v, long long lo, long long *out) {
    char *end;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < lo) return am_cli_usage_error("--%s needs an integer >= %lld, not '%s'", flag, lo, v ? v : "");
    *out = x;
    return 0;
}

int am_cli_num(const char *flag, const char *v, double *out) {
    char *end;
    double x = v ? strtod(v, &end) : 0;
    if (!v || !*v || *end || isnan(x)) return am_cli_usage_error("--%s needs a number, not '%s'", flag, v ? v : "");
    *out = x;
    return 0;
}

static int load_opt(am_cli_load *l, const char *name, const char *v) {
    am_load_options *o = &l->o;
    if (!strcmp(name, "task")) {
        if (am_task_parse(v, &l->task) != AM_OK) return am_cli_usage_error("--task: %s", am_last_error());
    } else if (!strcmp(name, "dtype")) {
        if (am_dtype_parse(v, &o->dtype) != AM_OK) return am_cli_usage_error("--dtype: %s", am_last_error());
    } else if (!strcmp(name, "attn-implementation")) {
        if (am_attn_impl_parse(v, &o->attn) != AM_OK) /* its message names the keyword argument */
            return am_cli_usage_error("--attn-implementation must be eager, sdpa or flash_attention_2, not '%s'", v);
    } else if (!strcmp(name, "float32-matmul-precision")) o->float32_matmul_precision = v; /* checked before loading */
    else if (!strcmp(name, "device-map")) o->device_map = v; /* checked by from_pretrained, before it loads */
    else if (!strcmp(name, "max-memory")) { /* repeatable: the values joined by commas */
        size_t have = l->max_memory ? strlen(l->max_memory) : 0;
        char *j = realloc(l->max_memory, have + strlen(v) + 2);
        if (!j) return am_cli_usage_error("out of memory");
        if (have) j[have++] = ',';
        strcpy(j + have, v);
        l->max_memory = j;
        o->max_memory = j; /* checked by from_pretrained, before it loads */
    } else if (!strcmp(name, "offload-folder")) o->offload_folder = v;
    else if (!strcmp(name, "low-cpu-mem-usage")) {
        o->low_cpu_mem_usage = true; /* nothing more to do: weights are mapped from the files, never held twice */
    } else if (!strcmp(name, "num-labels")) {
        long long n;
        if (am_cli_int(name, v, 1, &n)) return 2;
        if (n > 1 << 24) return am_cli_usage_error("--num-labels %lld is too large", n);
        o->num_labels = (int)n;
    } else if (!strcmp(name, "load-in-8bit")) o->load_in_8bit = true;
    else if (!strcmp(name, "load-in-4bit")) o->load_in_4bit = true;
    else if (!strcmp(name, "bnb-4bit-quant-type")) o->bnb_4bit_quant_type = v; /* checked before loading */
    else if (!strcmp(name, "bnb-4bit-compute-dtype")) {
        if (am_dtype_parse(v, &o->bnb_4bit_compute_dtype) != AM_OK) return am_cli_usage_error("--bnb-4bit-compute-dtype: %s", am_last_error());
    } else if (!strcmp(name, "bnb-4bit-use-double-quant")) o->bnb_4bit_use_double_quant = true;
    else if (!strcmp(name, "llm-int8-threshold")) {
        double x;
        if (am_cli_num(name, v, &x)) return 2;
        o->llm_int8_threshold = (float)x;
    } else if (!strcmp(name, "quantization-config")) {
        const char *p = v;
        while (*p == ' ' || *p == '\t' || *p == '\n') p++;
        if (*p == '{') o->quantization_config = v;
        else { /* a file holding the JSON object */
            FILE *f = fopen(v, "rb");
            if (!f) return am_cli_usage_error("--quantization-config: cannot open '%s' (give a JSON object or a file holding one)", v);
            size_t cap = 4096, n = 0, r;
            char *buf = malloc(cap + 1);
            while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0)
                if ((n += r) == cap && n < (1u << 20)) {
                    char *nb = realloc(buf, (cap *= 2) + 1);
                    if (!nb) free(buf);
                    buf = nb;
                } else if (n == cap) break;
            fclose(f);
            if (!buf) return am_cli_usage_error("out of memory");
            buf[n] = 0;
            free(l->quant_json);
            l->quant_json = buf;
            o->quantization_config = buf;
        }
    } else if (!strcmp(name, "ignore-mismatched-sizes")) o->ignore_mismatched_sizes = true;
    else if (!strcmp(name, "no-safetensors")) o->use_safetensors = false;
    else if (!strcmp(name, "config")) l->config_file = v;
    else if (!strcmp(name, "set")) {
        if (!strchr(v, '=') || v[0] == '=') return am_cli_usage_error("--set needs KEY=VALUE, not '%s'", v);
        const char **s = realloc(l->sets, (l->n_sets + 1) * sizeof *s);
        if (!s) return am_cli_usage_error("out of memory");
        l->sets = s;
        l->sets[l->n_sets++] = v;
    } else if (!strcmp(name, "revision")) o->revision = v;
    else if (!strcmp(name, "cache-dir")) o->cache_dir = v;
    else if (!strcmp(name, "token")) o->token = v;
    else if (!strcmp(name, "local-files-only")) o->local_files_only = true;
    else if (!strcmp(name, "force-download")) o->force_download = true;
    else if (!strcmp(name, "subfolder")) o->subfolder = v;
    return 0;
}

int am_cli_config_check(am_config **c, const char *what) {
    /* the edited config as a config.json would be read: types checked against the class's */
    char *js = am_config_to_json_string(*c);
    am_config *v = js ? am_config_from_json(js, what) : NULL;
    am_free(js);
    if (!v) return am_cli_fail(NULL);
    am_config_free(*c);
    *c = v;
    return 0;
}

int am_cli_config_set(am_config *c, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return am_cli_usage_error("--set needs KEY=VALUE, not '%s'", kv);
    size_t kl = (size_t)(eq - kv);
    char *key = malloc(kl + 1);
    if (!key) return am_cli_usage_error("out of memory");
    memcpy(key, kv, kl);
    key[kl] = 0;
    const char *v = eq + 1;
    int rc = 0;
    cJSON *j = cJSON_Parse(v);
    if (j && !strcmp(key, "num_labels")) {
        /* config.num_labels = n also rebuilds id2label / label2id, as transformers' setter does */
        if (!cJSON_IsNumber(j) || j->valuedouble < 1 || j->valuedouble != floor(j->valuedouble) || j->valuedouble > 1 << 24)
            rc = am_cli_usage_error("--set num_labels needs a positive integer, not '%s'", v);
        else if (am_config_set_num_labels(c, (int)j->valuedouble) != AM_OK)
            rc = am_cli_fail("--set");
    } else if (j) {
        if (am_config_set_json(c, key, v) != AM_OK) rc = am_cli_fail("--set");
    } else if (!*v || strchr("[{\"-0123456789", v[0]))
        rc = am_cli_usage_error("--set %s: '%s' is not valid JSON (quote a string: %s='\"text\"')", key, v, key);
    else if (am_config_set_string(c, key, v) != AM_OK)
        rc = am_cli_fail("--set");
    cJSON_Delete(j);
    free(key);
    return rc;
}

/* MODEL's own config.json: the folder's, or the hub repository's with the hub options given. */
static am_config *model_config(const am_cli_load *l, const char *model_path) {
    FILE *probe = NULL;
    char *local = NULL;
    size_t n = strlen(model_path) + 16;
    if ((local = malloc(n))) {
        snprintf(local, n, "%s/config.json", model_path);
        probe = fopen(local, "rb");
    }
    free(local);
    if (probe) {
        fclose(probe);
        return am_config_from_pretrained(model_path);
    }
    am_download_options d = am_download_options_default();
    d.revision = l->o.revision;
    d.cache_dir = l->o.cache_dir;
    d.token = l->o.token;
    d.local_files_only = l->o.local_files_only;
    d.force_download = l->o.force_download;
    char *file = NULL, *sub = NULL;
    if (l->o.subfolder && *l->o.subfolder) {
        size_t sl = strlen(l->o.subfolder) + 16;
        if (!(sub = malloc(sl))) return NULL;
        snprintf(sub, sl, "%s/config.json", l->o.subfolder);
    }
    if (am_hub_download_file(model_path, sub ? sub : "config.json", &d, &file) != AM_OK) {
        free(sub);
        return NULL;
    }
    free(sub);
    am_config *c = am_config_from_pretrained(file);
    am_free(file);
    return c;
}

int am_cli_load_config(am_cli_load *l, const char *model_path) {
    if (!l->config_file && !l->n_sets) return 0;
    if (!l->config) {
        l->config = l->config_file ? am_config_from_pretrained(l->config_file) : model_config(l, model_path);
        if (!l->config) return am_cli_fail(l->config_file ? "--config" : "--set: reading the model's config");
        for (size_t i = 0; i < l->n_sets; i++) {
            int rc = am_cli_config_set(l->config, l->sets[i]);
            if (rc) return rc;
        }
        int rc = am_cli_config_check(&l->config, "the config after --set");
        if (rc) return rc;
    }
    l->o.config = l->config;
    return 0;
}

am_model *am_cli_load_model(am_cli_load *l, const char *model_path, int *rc) {
    *rc = am_cli_load_config(l, model_path);
    if (*rc) return NULL;
    am_model *m = am_model_from_pretrained(l->task, model_path, &l->o);
    if (!m) *rc = am_cli_fail(NULL);
    return m;
}

/* ---- help ---- */

static void print_opt(FILE *f, const am_cli_opt *o) {
    char left[96];
    int n = snprintf(left, sizeof left, "  --%s%s%s%s%s", o->name, o->alias ? ", --" : "", o->alias ? o->alias : "",
                     o->metavar ? (o->arg == optional_argument ? "[=" : " ") : "", o->metavar ? o->metavar : "");
    if (o->metavar && o->arg == optional_argument && n > 0 && (size_t)n + 1 < sizeof left) strcat(left, "]");
    const int col = 36, width = 100;
    fputs(left, f);
    int at = (int)strlen(left);
    if (at >= col - 1) {
        fputc('\n', f);
        at = 0;
    }
    /* the help text, wrapped at word boundaries */
    const char *h = o->help;
    while (*h) {
        fprintf(f, "%*s", col - at, "");
        at = col;
        int room = width - col, len = (int)strlen(h);
        int cut = len;
        if (len > room) {
            cut = room;
            while (cut > 0 && h[cut] != ' ') cut--;
            if (cut == 0) cut = room;
        }
        fprintf(f, "%.*s\n", cut, h);
        at = 0;
        h += cut;
        while (*h == ' ') h++;
    }
    if (!*o->help) fputc('\n', f);
}

void am_cli_print_help(const am_cli_cmd *cmd, FILE *f) {
    fprintf(f, "usage: automodel %s\n\n%s\n\noptions:\n", cmd->usage, cmd->summary);
    for (const am_cli_opt *o = cmd->opts; o && o->name; o++) print_opt(f, o);
    print_opt(f, &k_help_opt);
    if (cmd->load) {
        fprintf(f, "\nload options (from_pretrained's keyword arguments):\n");
        for (const am_cli_opt *o = k_load_opts; o->name; o++) print_opt(f, o);
    }
}

/* ---- parsing ---- */

int am_cli_parse(const am_cli_cmd *cmd, int argc, char **argv, am_cli_load *load, am_cli_on_opt on_opt, void *ctx,
                 char ***pos, int *npos) {
    *pos = argv + 1;
    *npos = 0;
    /* every option once (the command's, help, the load options), then getopt's table with aliases */
    const am_cli_opt *all[128];
    int na = 0, nl = 0;
    for (const am_cli_opt *o = cmd->opts; o && o->name && na < 100; o++) all[na++] = o;
    int first_load = na;
    all[na++] = &k_help_opt;
    for (const am_cli_opt *o = k_load_opts; cmd->load && o->name; o++) all[na++] = o;
    struct option lo[260];
    for (int k = 0; k < na; k++) {
        lo[nl++] = (struct option){all[k]->name, all[k]->arg, NULL, 256 + k};
        if (all[k]->alias) lo[nl++] = (struct option){all[k]->alias, all[k]->arg, NULL, 256 + k};
    }
    lo[nl] = (struct option){0, 0, 0, 0};
    opterr = 0;
    optind = 0; /* glibc: start over (each command parses once, but keep it reentrant) */
    /* "-": positional arguments come back in order as code 1 (options and arguments mix in any
     * order, whatever POSIXLY_CORRECT says); they are gathered at the front of argv, already read */
    int c, rc = 0, k = 1;
    while (!rc && (c = getopt_long(argc, argv, "-:h", lo, NULL)) != -1) {
        const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        if (c == 1) argv[k++] = optarg;
        else if (c == '?') {
            if (optopt && optopt < 256) rc = am_cli_usage_error("%s: unknown option '-%c' (see automodel %s --help)", cmd->name, optopt, cmd->name);
            else rc = am_cli_usage_error("%s: unknown option '%s' (see automodel %s --help)", cmd->name, bad, cmd->name);
        } else if (c == ':')
            rc = am_cli_usage_error("%s: option '%s' needs a value", cmd->name, bad);
        else if (c == 'h' || (c >= 256 && all[c - 256] == &k_help_opt)) {
            am_cli_print_help(cmd, stdout);
            return AM_CLI_HELP;
        } else if (c >= 256 && c - 256 > first_load) rc = load_opt(load, all[c - 256]->name, optarg);
        else if (c >= 256 && c - 256 < first_load) rc = on_opt ? on_opt(ctx, all[c - 256]->name, optarg) : 2;
        else rc = am_cli_usage_error("%s: cannot parse '%s'", cmd->name, bad);
    }
    if (rc) return rc;
    for (int i = optind; i < argc; i++) argv[k++] = argv[i]; /* after "--" */
    *pos = argv + 1;
    *npos = k - 1;
    return 0;
}

/* ---- keyword arguments as dashed flags ---- */

/* A flag's value as Python would have it: JSON (numbers, lists, dicts, true/false/null), Python's
 * True/False/None, else a string. */
cJSON *am_cli_kwarg_value(const char *v) {
    if (!v) return cJSON_CreateTrue();
    if (!strcmp(v, "True")) return cJSON_CreateTrue();
    if (!strcmp(v, "False")) return cJSON_CreateFalse();
    if (!strcmp(v, "None")) return cJSON_CreateNull();
    cJSON *j = cJSON_Parse(v);
    if (j) return j;
    return cJSON_CreateString(v);
}

static bool is_list_flag(const char *const *list_flags, const char *a) {
    for (const char *const *f = list_flags; f && *f; f++)
        if (!strcmp(a, *f)) return true;
    return false;
}
static bool is_bool_flag(const am_cli_opt *opts, const char *a) {
    for (const am_cli_opt *o = opts; o->name; o++)
        if (o->arg == optional_argument && !strncmp(a, "--", 2) && !strcmp(a + 2, o->name)) return true;
    return false;
}
static bool is_bool_word(const char *w) {
    return !strcmp(w, "true") || !strcmp(w, "false") || !strcmp(w, "True") || !strcmp(w, "False");
}

/* Rewrites argv for getopt_long (the keyword-argument commands: preprocess, pipeline): `--images A B C` -> `--images A --images B --images C` (the files
 * after a list flag, up to the next option), and `--do-pad false` -> `--do-pad=false`. */
char **am_cli_kwargs_argv(const am_cli_opt *opts, const char *const *list_flags, int argc, char **argv, int *out_argc, char ***owned,
                          size_t *n_owned) {
    char **out = calloc((size_t)argc * 2 + 1, sizeof *out);
    *owned = calloc((size_t)argc + 1, sizeof **owned);
    *n_owned = 0;
    if (!out || !*owned) {
        free(out);
        free(*owned);
        *owned = NULL;
        return NULL;
    }
    int k = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            while (i < argc) out[k++] = argv[i++];
            break;
        }
        if (is_list_flag(list_flags, a)) {
            char *flag = argv[i];
            out[k++] = flag;
            if (i + 1 < argc) out[k++] = argv[++i];
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                out[k++] = flag;
                out[k++] = argv[++i];
            }
        } else if (is_bool_flag(opts, a) && i + 1 < argc && is_bool_word(argv[i + 1])) {
            size_t n = strlen(a) + strlen(argv[i + 1]) + 2;
            char *j = malloc(n);
            if (!j) {
                free(out);
                return NULL;
            }
            snprintf(j, n, "%s=%s", a, argv[i + 1]);
            (*owned)[(*n_owned)++] = j;
            out[k++] = j;
            i++;
        } else {
            out[k++] = argv[i];
        }
    }
    *out_argc = k;
    return out;
}


/* name with '_' spelled '-', appended to out (bounded) */
static void append_dashed(char *out, size_t size, const char *name) {
    size_t e = strlen(out);
    for (; *name && e + 1 < size; name++, e++) out[e] = *name == '_' ? '-' : *name;
    out[e] = 0;
}

const char *am_cli_unknown_kwarg(const cJSON *kwargs, const char *const *ok, char *flag, size_t flag_size, char *takes,
                                 size_t takes_size) {
    const cJSON *it;
    cJSON_ArrayForEach(it, kwargs) {
        bool found = false;
        for (const char *const *k = ok; *k && !found; k++) found = !strcmp(*k, it->string);
        if (found) continue;
        flag[0] = 0;
        append_dashed(flag, flag_size, it->string);
        takes[0] = 0;
        for (const char *const *k = ok; *k; k++) {
            size_t at = strlen(takes);
            snprintf(takes + at, takes_size - at, "%s--", at ? ", " : "");
            append_dashed(takes, takes_size, *k);
        }
        return it->string;
    }
    return NULL;
}
