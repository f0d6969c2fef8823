/* cli/cmd_model.c — `automodel info | forward | save`: load a model with the shared load options,
 * then inspect it, run it on a safetensors file of inputs, or save it as save_pretrained does. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>

/* Parses the load options every model command accepts; consumed arguments are set to NULL.
 * Returns 0, or an exit status for a usage error. */
static int parse_load_options(int argc, char **argv, am_task *task, am_load_options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!a) continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (!strcmp(a, "--task")) {
            if (!v || am_task_parse(v, task) != AM_OK) return am_cli_usage_error("--task: %s", v ? am_last_error() : "missing value");
        } else if (!strcmp(a, "--dtype")) {
            if (!v || am_dtype_parse(v, &o->dtype) != AM_OK) return am_cli_usage_error("--dtype: %s", v ? am_last_error() : "missing value");
        } else if (!strcmp(a, "--num-labels")) {
            if (!v || atoi(v) <= 0) return am_cli_usage_error("--num-labels needs a positive integer");
            o->num_labels = atoi(v);
        } else if (!strcmp(a, "--revision")) o->revision = v;
        else if (!strcmp(a, "--cache-dir")) o->cache_dir = v;
        else if (!strcmp(a, "--attn")) {
            if (!v) return am_cli_usage_error("--attn needs a value");
            o->attn = !strcmp(v, "eager") ? AM_ATTN_EAGER : !strcmp(v, "sdpa") ? AM_ATTN_SDPA : AM_ATTN_DEFAULT;
        } else if (!strcmp(a, "--device-map")) o->device_map = v;
        else {
            takes = false;
            if (!strcmp(a, "--ignore-mismatched-sizes")) o->ignore_mismatched_sizes = true;
            else if (!strcmp(a, "--no-safetensors")) o->use_safetensors = false;
            else if (!strcmp(a, "--local-files-only")) o->local_files_only = true;
            else continue;
            argv[i] = NULL;
            continue;
        }
        if (takes) {
            if (!v) return am_cli_usage_error("%s needs a value", a);
            argv[i] = argv[i + 1] = NULL;
            i++;
        }
    }
    return 0;
}

static am_model *load(int argc, char **argv, const char **model_path, int *rc) {
    am_task task = AM_TASK_AUTO;
    am_load_options o = am_load_options_default();
    *rc = parse_load_options(argc, argv, &task, &o);
    if (*rc) return NULL;
    *model_path = NULL;
    for (int i = 1; i < argc; i++)
        if (argv[i] && argv[i][0] != '-') {
            *model_path = argv[i];
            argv[i] = NULL;
            break;
        }
    if (!*model_path) {
        *rc = am_cli_usage_error("%s: missing MODEL (a local folder or a hub id)", argv[0]);
        return NULL;
    }
    am_model *m = am_model_from_pretrained(task, *model_path, &o);
    if (!m) *rc = am_cli_fail(NULL);
    return m;
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

int am_cli_info(int argc, char **argv) {
    bool json = false, repr = false, config = false, loading = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true, argv[i] = NULL;
        else if (argv[i] && !strcmp(argv[i], "--repr")) repr = true, argv[i] = NULL;
        else if (argv[i] && !strcmp(argv[i], "--config")) config = true, argv[i] = NULL;
        else if (argv[i] && !strcmp(argv[i], "--loading-info")) loading = true, argv[i] = NULL;
    }
    const char *path;
    int rc;
    am_model *m = load(argc, argv, &path, &rc);
    if (!m) return rc;
    for (int i = 1; i < argc; i++)
        if (argv[i]) {
            am_model_free(m);
            return am_cli_usage_error("info: unexpected argument '%s'", argv[i]);
        }
    if (repr) am_model_print(m, stdout);
    else if (config) {
        char *r = am_config_repr(am_model_config(m));
        fputs(r, stdout); /* print(model.config) */
        fputc('\n', stdout);
        am_free(r);
    } else if (json || loading) {
        const am_loading_info *li = am_model_loading_info(m);
        printf("{\"class\": \"%s\", \"model_type\": \"%s\", \"task\": \"%s\", \"num_parameters\": %lld, \"num_parameters_only_trainable\": %lld, "
               "\"num_parameters_exclude_embeddings\": %lld, \"memory_footprint\": %lld, \"memory_footprint_no_buffers\": %lld, "
               "\"training\": %s, \"dtype\": \"%s\", \"cpu\": %s, \"loading_info\": {\"missing_keys\": [",
               am_model_class_name(m), am_config_model_type(am_model_config(m)), am_task_name(am_model_task(m)),
               (long long)am_model_num_parameters(m, false, false), (long long)am_model_num_parameters(m, true, false),
               (long long)am_model_num_parameters(m, false, true), (long long)am_model_memory_footprint(m, true),
               (long long)am_model_memory_footprint(m, false), am_model_is_training(m) ? "true" : "false", am_dtype_name(am_model_dtype(m)),
               am_cpu_report_json());
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
        printf("]}}\n");
    } else {
        printf("%s (%s, task %s)\n", am_model_class_name(m), am_config_model_type(am_model_config(m)), am_task_name(am_model_task(m)));
        printf("parameters: %lld (trainable %lld)\n", (long long)am_model_num_parameters(m, false, false), (long long)am_model_num_parameters(m, true, false));
        printf("memory footprint: %lld bytes\ndtype: %s\n", (long long)am_model_memory_footprint(m, true), am_dtype_name(am_model_dtype(m)));
    }
    am_model_free(m);
    return 0;
}

int am_cli_forward(int argc, char **argv) {
    const char *in_path = NULL, *out_path = NULL;
    am_forward_options fo = am_forward_options_default();
    for (int i = 1; i < argc; i++) {
        if (!argv[i]) continue;
        if (!strcmp(argv[i], "--inputs") && i + 1 < argc) in_path = argv[i + 1], argv[i] = argv[i + 1] = NULL, i++;
        else if (!strcmp(argv[i], "--output") && i + 1 < argc) out_path = argv[i + 1], argv[i] = argv[i + 1] = NULL, i++;
        else if (!strcmp(argv[i], "--output-hidden-states")) fo.output_hidden_states = true, argv[i] = NULL;
    }
    if (!in_path || !out_path) return am_cli_usage_error("forward: --inputs IN.safetensors and --output OUT.safetensors are required");
    const char *path;
    int rc;
    am_model *m = load(argc, argv, &path, &rc);
    if (!m) return rc;
    for (int i = 1; i < argc; i++)
        if (argv[i]) {
            am_model_free(m);
            return am_cli_usage_error("forward: unexpected argument '%s'", argv[i]);
        }
    am_tensors *in = am_tensors_load_safetensors(in_path);
    am_tensors *out = in ? am_model_forward(m, in, &fo) : NULL;
    rc = 0;
    if (!out || am_tensors_save_safetensors(out, out_path) != AM_OK) rc = am_cli_fail(NULL);
    am_tensors_free(in);
    am_tensors_free(out);
    am_model_free(m);
    return rc;
}

int am_cli_save(int argc, char **argv) {
    am_save_options so = am_save_options_default();
    for (int i = 1; i < argc; i++) {
        if (!argv[i]) continue;
        if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            if (!strcmp(argv[i + 1], "bin")) so.format = AM_SAVE_BIN;
            else if (strcmp(argv[i + 1], "safetensors")) return am_cli_usage_error("--format must be safetensors or bin");
            argv[i] = argv[i + 1] = NULL;
            i++;
        } else if (!strcmp(argv[i], "--max-shard-size") && i + 1 < argc) so.max_shard_size = argv[i + 1], argv[i] = argv[i + 1] = NULL, i++;
    }
    const char *path;
    int rc;
    am_model *m = load(argc, argv, &path, &rc);
    if (!m) return rc;
    const char *outdir = NULL;
    for (int i = 1; i < argc; i++)
        if (argv[i]) {
            if (outdir) {
                am_model_free(m);
                return am_cli_usage_error("save: unexpected argument '%s'", argv[i]);
            }
            outdir = argv[i];
        }
    if (!outdir) {
        am_model_free(m);
        return am_cli_usage_error("save: missing OUTDIR");
    }
    rc = am_model_save_pretrained(m, outdir, &so) == AM_OK ? 0 : am_cli_fail(NULL);
    am_model_free(m);
    return rc;
}

/* The shared model loading of every model command, for commands in other files. */
am_model *am_cli_load_model(int argc, char **argv, const char **model_path, int *rc) { return load(argc, argv, model_path, rc); }
