/* cli/cmd_model.c — `automodel info | forward | save | init`: load a model with the shared load
 * options, then inspect it, run it on a safetensors file of inputs (or on text, tokenized by the
 * model's tokenizer), save it as save_pretrained does, or build one from a config (from_config). */
#include "cli.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared by the commands of this file ---- */

static int save_opt(am_save_options *so, const char *name, const char *v) {
    if (!strcmp(name, "format")) {
        if (!strcmp(v, "bin")) so->format = AM_SAVE_BIN;
        else if (!strcmp(v, "safetensors")) so->format = AM_SAVE_SAFETENSORS;
        else return am_cli_usage_error("--format must be safetensors or bin, not '%s'", v);
    } else if (!strcmp(name, "max-shard-size")) so->max_shard_size = v;
    return 0;
}

static const char *level_name(am_log_level l) {
    return l >= AM_LOG_ERROR ? "ERROR" : l >= AM_LOG_WARNING ? "WARNING" : l >= AM_LOG_INFO ? "INFO" : "DEBUG";
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* ---- info ---- */

typedef struct info_ctx {
    bool json, repr, config, loading;
} info_ctx;

static const am_cli_opt k_info_opts[] = {
    {"json", NULL, no_argument, NULL, "one JSON object: class, parameters, footprint, dtype and the loading report"},
    {"repr", NULL, no_argument, NULL, "print(model): the module tree, as PyTorch prints it"},
    {"print-config", NULL, no_argument, NULL, "print(model.config)"},
    {"loading-info", NULL, no_argument, NULL, "the same JSON as --json (output_loading_info=True)"},
    {0},
};
const am_cli_cmd am_cli_cmd_info = {"info", "info MODEL [options]",
                                    "Load MODEL (a folder or a hub id) and describe it: class, parameters (also without "
                                    "embeddings), memory footprint, dtype.",
                                    k_info_opts, true};

static int info_opt(void *ctx, const char *name, const char *v) {
    (void)v;
    info_ctx *c = ctx;
    if (!strcmp(name, "json")) c->json = true;
    else if (!strcmp(name, "repr")) c->repr = true;
    else if (!strcmp(name, "print-config")) c->config = true;
    else if (!strcmp(name, "loading-info")) c->loading = true;
    return 0;
}

int am_cli_info(int argc, char **argv) {
    info_ctx c = {0};
    am_cli_load l;
    am_cli_load_init(&l);
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_info, argc, argv, &l, info_opt, &c, &pos, &npos);
    if (!rc && npos != 1)
        rc = npos ? am_cli_usage_error("info: unexpected argument '%s'", pos[1]) : am_cli_usage_error("info: missing MODEL (a local folder or a hub id)");
    am_model *m = rc ? NULL : am_cli_load_model(&l, pos[0], &rc);
    if (!m) {
        am_cli_load_free(&l);
        return rc == AM_CLI_HELP ? 0 : rc;
    }
    long long n_all = (long long)am_model_num_parameters(m, false, false), n_train = (long long)am_model_num_parameters(m, true, false),
              n_noemb = (long long)am_model_num_parameters(m, false, true), fp = (long long)am_model_memory_footprint(m, true);
    if (c.repr) am_model_print(m, stdout);
    else if (c.config) {
        char *r = am_config_repr(am_model_config(m));
        fputs(r, stdout); /* print(model.config) */
        fputc('\n', stdout);
        am_free(r);
    } else if (c.json || c.loading) {
        const am_loading_info *li = am_model_loading_info(m);
        char *qc = am_model_quantization_bits(m) ? am_config_get_json(am_model_config(m), "quantization_config") : NULL;
        printf("{\"class\": \"%s\", \"model_type\": \"%s\", \"task\": \"%s\", \"num_parameters\": %lld, \"num_parameters_only_trainable\": %lld, "
               "\"num_parameters_exclude_embeddings\": %lld, \"memory_footprint\": %lld, \"memory_footprint_no_buffers\": %lld, "
               "\"training\": %s, \"dtype\": \"%s\", \"attn_implementation\": \"%s\", \"is_loaded_in_8bit\": %s, \"is_loaded_in_4bit\": %s, "
               "\"quantization_config\": %s, \"cpu\": %s, \"loading_info\": {\"missing_keys\": [",
               am_model_class_name(m), am_config_model_type(am_model_config(m)), am_task_name(am_model_task(m)), n_all, n_train, n_noemb, fp,
               (long long)am_model_memory_footprint(m, false), am_model_is_training(m) ? "true" : "false", am_dtype_name(am_model_dtype(m)),
               am_attn_impl_name(am_model_attn_implementation(m)), am_model_quantization_bits(m) == 8 ? "true" : "false",
               am_model_quantization_bits(m) == 4 ? "true" : "false", qc ? qc : "null", am_cpu_report_json());
        am_free(qc);
        for (size_t i = 0; i < li->n_missing; i++) printf("%s\"%s\"", i ? ", " : "", li->missing_keys[i]);
        printf("], \"unexpected_keys\": [");
        for (size_t i = 0; i < li->n_unexpected; i++) printf("%s\"%s\"", i ? ", " : "", li->unexpected_keys[i]);
        printf("], \"mismatched_keys\": [");
        for (size_t i = 0; i < li->n_mismatched; i++)
            printf("%s[\"%s\", %s, %s]", i ? ", " : "", li->mismatched_keys[i], li->mismatched_ckpt_shapes[i], li->mismatched_model_shapes[i]);
        printf("], \"log\": [");
        for (size_t i = 0; i < li->n_log; i++) {
            printf("%s{\"level\": \"%s\", \"message\": ", i ? ", " : "", level_name(li->log_levels[i]));
            json_str(stdout, li->log_messages[i]);
            printf("}");
        }
        printf("]}");
        char *dm = am_model_hf_device_map(m); /* model.hf_device_map: only with a device_map */
        if (dm) printf(", \"hf_device_map\": %s", dm);
        am_free(dm);
        printf("}\n");
    } else {
        printf("%s (%s, task %s)\n", am_model_class_name(m), am_config_model_type(am_model_config(m)), am_task_name(am_model_task(m)));
        printf("parameters: %lld (trainable %lld, without embeddings %lld)\n", n_all, n_train, n_noemb);
        printf("memory footprint: %lld bytes (%.2f MB)\ndtype: %s\n", fp, (double)fp / 1e6, am_dtype_name(am_model_dtype(m)));
    }
    am_model_free(m);
    am_cli_load_free(&l);
    return 0;
}

/* ---- forward ---- */

typedef struct fwd_ctx {
    const char *in_path, *out_path, *tokenizer, *pad_token;
    const char **texts, **pairs;
    size_t n_texts, n_pairs;
    am_forward_options fo;
} fwd_ctx;

static const am_cli_opt k_forward_opts[] = {
    {"inputs", NULL, required_argument, "IN.safetensors", "the inputs, named as forward's arguments (input_ids, ...)"},
    {"text", NULL, required_argument, "TEXT", "tokenize TEXT with the model's tokenizer instead (repeatable: a batch, "
                                              "padded to the longest)"},
    {"text-pair", NULL, required_argument, "TEXT", "the second text of a pair (repeatable, one per --text)"},
    {"tokenizer", NULL, required_argument, "TOK", "the tokenizer for --text (default: MODEL's folder)"},
    {"pad-token", NULL, required_argument, "TOKEN", "pad a batch of --text with TOKEN (tokenizer.pad_token = TOKEN)"},
    {"output", NULL, required_argument, "OUT.safetensors", "write every output tensor (default: print a summary)"},
    {"output-hidden-states", NULL, no_argument, NULL, "output_hidden_states=True"},
    {"output-attentions", NULL, no_argument, NULL, "output_attentions=True: each layer's attention probabilities (runs the "
                                                   "eager implementation for this call)"},
    {0},
};
const am_cli_cmd am_cli_cmd_forward = {"forward", "forward MODEL (--inputs IN.safetensors | --text TEXT...) [--output OUT.safetensors] [options]",
                                       "Run model(**inputs) and write its outputs, or print their shapes and first values.",
                                       k_forward_opts, true};

static int push_str(const char ***v, size_t *n, const char *s) {
    const char **p = realloc(*v, (*n + 1) * sizeof *p);
    if (!p) return am_cli_usage_error("out of memory");
    *v = p;
    p[(*n)++] = s;
    return 0;
}

static int fwd_opt(void *ctx, const char *name, const char *v) {
    fwd_ctx *c = ctx;
    if (!strcmp(name, "inputs")) c->in_path = v;
    else if (!strcmp(name, "output")) c->out_path = v;
    else if (!strcmp(name, "tokenizer")) c->tokenizer = v;
    else if (!strcmp(name, "pad-token")) c->pad_token = v;
    else if (!strcmp(name, "text")) return push_str(&c->texts, &c->n_texts, v);
    else if (!strcmp(name, "text-pair")) return push_str(&c->pairs, &c->n_pairs, v);
    else if (!strcmp(name, "output-hidden-states")) c->fo.output_hidden_states = true;
    else if (!strcmp(name, "output-attentions")) c->fo.output_attentions = true;
    return 0;
}

/* element j of a floating or integer tensor, as a double */
static double elem(const am_tensor *t, int64_t j) {
    const void *d = am_tensor_cdata(t);
    switch (am_tensor_dtype(t)) {
    case AM_F32: return ((const float *)d)[j];
    case AM_F64: return ((const double *)d)[j];
    case AM_I64: return (double)((const int64_t *)d)[j];
    case AM_I32: return ((const int32_t *)d)[j];
    case AM_BF16: {
        uint32_t u = (uint32_t)((const uint16_t *)d)[j] << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case AM_F16: {
        uint16_t h = ((const uint16_t *)d)[j];
        int e = (h >> 10) & 31, mant = h & 1023;
        double v = e == 0 ? ldexp(mant, -24) : e == 31 ? (mant ? NAN : INFINITY) : ldexp(mant + 1024, e - 25);
        return h & 0x8000 ? -v : v;
    }
    default: return NAN;
    }
}

/* Prints each output: name, dtype, shape and its first values. */
static void summary(const am_tensors *out) {
    for (size_t i = 0; i < am_tensors_count(out); i++) {
        const am_tensor *t = am_tensors_at(out, i);
        printf("%s: %s [", am_tensors_name(out, i), am_dtype_name(am_tensor_dtype(t)));
        for (int d = 0; d < am_tensor_ndim(t); d++) printf("%s%lld", d ? ", " : "", (long long)am_tensor_dim(t, d));
        printf("]");
        int64_t n = am_tensor_numel(t), k = n < 8 ? n : 8;
        for (int64_t j = 0; j < k; j++) printf("%s%.6g", j ? ", " : " ", elem(t, j));
        printf("%s\n", n > k ? ", ..." : "");
    }
}

int am_cli_forward(int argc, char **argv) {
    fwd_ctx c;
    memset(&c, 0, sizeof c);
    c.fo = am_forward_options_default();
    am_cli_load l;
    am_cli_load_init(&l);
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_forward, argc, argv, &l, fwd_opt, &c, &pos, &npos);
    if (!rc && npos != 1)
        rc = npos ? am_cli_usage_error("forward: unexpected argument '%s'", pos[1]) : am_cli_usage_error("forward: missing MODEL (a local folder or a hub id)");
    if (!rc && !c.in_path == !c.n_texts) rc = am_cli_usage_error("forward: give either --inputs IN.safetensors or --text TEXT");
    if (!rc && c.n_pairs && c.n_pairs != c.n_texts)
        rc = am_cli_usage_error("forward: %zu --text-pair for %zu --text: give one per text", c.n_pairs, c.n_texts);
    am_model *m = NULL;
    am_tensors *in = NULL, *out = NULL;
    if (!rc) m = am_cli_load_model(&l, pos[0], &rc);
    if (m && c.in_path) {
        in = am_tensors_load_safetensors(c.in_path);
        if (!in) rc = am_cli_fail(NULL);
    } else if (m) { /* tokenizer(texts, text_pair=pairs, padding=len(texts) > 1, return_tensors="pt") */
        am_tokenizer *tok = am_tokenizer_from_pretrained(c.tokenizer ? c.tokenizer : pos[0]);
        if (!tok) rc = am_cli_fail("forward: loading the tokenizer (give --tokenizer TOK)");
        else {
            am_encode_options eo = am_encode_options_default();
            eo.padding = c.n_texts > 1 ? AM_PADDING_LONGEST : AM_PADDING_NONE;
            eo.pad_token = c.pad_token;
            in = am_tokenizer_encode_tensors(tok, c.n_texts, c.texts, c.n_pairs ? c.pairs : NULL, &eo);
            if (!in) rc = am_cli_fail("forward: tokenizing");
        }
        am_tokenizer_free(tok);
    }
    if (!rc && in) {
        out = am_model_forward(m, in, &c.fo);
        if (!out) rc = am_cli_fail(NULL);
        else if (c.out_path && am_tensors_save_safetensors(out, c.out_path) != AM_OK) rc = am_cli_fail(NULL);
        else if (!c.out_path) summary(out);
    }
    am_tensors_free(in);
    am_tensors_free(out);
    am_model_free(m);
    am_cli_load_free(&l);
    free(c.texts);
    free(c.pairs);
    return rc == AM_CLI_HELP ? 0 : rc;
}

/* ---- save ---- */

static const am_cli_opt k_save_opts[] = {
    {"format", NULL, required_argument, "safetensors|bin", "safe_serialization: model.safetensors (default) or pytorch_model.bin"},
    {"max-shard-size", NULL, required_argument, "SIZE", "shard above SIZE (\"10GB\", transformers' default; \"200MB\", ...)"},
    {0},
};
const am_cli_cmd am_cli_cmd_save = {"save", "save MODEL OUTDIR [options]",
                                    "Load MODEL and save_pretrained it into OUTDIR (config.json, weights, "
                                    "generation_config.json).",
                                    k_save_opts, true};

static int save_cmd_opt(void *ctx, const char *name, const char *v) { return save_opt(ctx, name, v); }

int am_cli_save(int argc, char **argv) {
    am_save_options so = am_save_options_default();
    am_cli_load l;
    am_cli_load_init(&l);
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_save, argc, argv, &l, save_cmd_opt, &so, &pos, &npos);
    if (!rc && npos != 2)
        rc = npos > 2 ? am_cli_usage_error("save: unexpected argument '%s'", pos[2]) : am_cli_usage_error("save: needs MODEL and OUTDIR");
    am_model *m = rc ? NULL : am_cli_load_model(&l, pos[0], &rc);
    if (m) rc = am_model_save_pretrained(m, pos[1], &so) == AM_OK ? 0 : am_cli_fail(NULL);
    am_model_free(m);
    am_cli_load_free(&l);
    return rc == AM_CLI_HELP ? 0 : rc;
}

/* ---- init ---- */

typedef struct init_ctx {
    am_save_options so;
    am_task task;
    am_dtype dtype;
    int num_labels;
    uint64_t seed;
    const char **sets;
    size_t n_sets;
} init_ctx;

static const am_cli_opt k_init_opts[] = {
    {"task", NULL, required_argument, "T", "the head, as AutoModelFor<T>.from_config (default: the config's architectures)"},
    {"seed", NULL, required_argument, "S", "torch.manual_seed(S) before the random init (default 0)"},
    {"dtype", "torch-dtype", required_argument, "D", "torch_dtype of the new weights: float32 (default), float16, bfloat16"},
    {"num-labels", NULL, required_argument, "N", "config.num_labels = N"},
    {"set", NULL, required_argument, "KEY=VALUE", "change one config key first (VALUE is JSON; a bare word is a string); repeatable"},
    {"format", NULL, required_argument, "safetensors|bin", "safe_serialization: model.safetensors (default) or pytorch_model.bin"},
    {"max-shard-size", NULL, required_argument, "SIZE", "shard above SIZE (default \"10GB\")"},
    {0},
};
const am_cli_cmd am_cli_cmd_init = {"init", "init CONFIG OUT_DIR [options]",
                                    "AutoModel.from_config(config) with transformers' random init, saved into OUT_DIR "
                                    "(CONFIG: a folder, a config.json or a hub id).",
                                    k_init_opts, false};

static int init_opt(void *ctx, const char *name, const char *v) {
    init_ctx *c = ctx;
    long long n;
    if (!strcmp(name, "task")) {
        if (am_task_parse(v, &c->task) != AM_OK) return am_cli_usage_error("--task: %s", am_last_error());
    } else if (!strcmp(name, "seed")) {
        if (am_cli_int(name, v, 0, &n)) return 2;
        c->seed = (uint64_t)n;
    } else if (!strcmp(name, "dtype")) {
        if (am_dtype_parse(v, &c->dtype) != AM_OK) return am_cli_usage_error("--dtype: %s", am_last_error());
        if (c->dtype != AM_F32 && c->dtype != AM_F16 && c->dtype != AM_BF16)
            return am_cli_usage_error("--dtype: from_config takes float32, float16 or bfloat16, not %s", v);
    } else if (!strcmp(name, "num-labels")) {
        if (am_cli_int(name, v, 1, &n)) return 2;
        if (n > 1 << 24) return am_cli_usage_error("--num-labels %lld is too large", n);
        c->num_labels = (int)n;
    } else if (!strcmp(name, "set")) {
        if (!strchr(v, '=') || v[0] == '=') return am_cli_usage_error("--set needs KEY=VALUE, not '%s'", v);
        return push_str(&c->sets, &c->n_sets, v);
    } else
        return save_opt(&c->so, name, v);
    return 0;
}

int am_cli_init(int argc, char **argv) {
    init_ctx c;
    memset(&c, 0, sizeof c);
    c.so = am_save_options_default();
    c.task = AM_TASK_AUTO;
    c.dtype = AM_F32;
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_init, argc, argv, NULL, init_opt, &c, &pos, &npos);
    if (!rc && npos != 2)
        rc = npos > 2 ? am_cli_usage_error("init: unexpected argument '%s'", pos[2]) : am_cli_usage_error("init: needs CONFIG and OUT_DIR");
    am_config *cfg = rc ? NULL : am_config_from_pretrained(pos[0]);
    if (!rc && !cfg) rc = am_cli_fail(NULL);
    for (size_t i = 0; !rc && i < c.n_sets; i++) rc = am_cli_config_set(cfg, c.sets[i]);
    if (!rc && c.n_sets) rc = am_cli_config_check(&cfg, "the config after --set");
    if (!rc && c.num_labels && am_config_set_num_labels(cfg, c.num_labels) != AM_OK) rc = am_cli_fail("--num-labels");
    am_model *m = rc ? NULL : am_model_from_config(c.task, cfg, c.seed);
    if (!rc && !m) rc = am_cli_fail(NULL);
    if (!rc && c.dtype != AM_F32 && am_model_to_dtype(m, c.dtype) != AM_OK) rc = am_cli_fail("--dtype");
    if (!rc && am_model_save_pretrained(m, pos[1], &c.so) != AM_OK) rc = am_cli_fail(NULL);
    if (!rc) fprintf(stderr, "%s (%lld parameters) saved to %s\n", am_model_class_name(m), (long long)am_model_num_parameters(m, false, false), pos[1]);
    am_model_free(m);
    am_config_free(cfg);
    free(c.sets);
    return rc == AM_CLI_HELP ? 0 : rc;
}
