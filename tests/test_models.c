/* tests/test_models.c — one fixture case (argv[1]) through the C API and the CLI: forward outputs
 * within the case's atol/rtol (full tensors), stats, repr, config repr, loading report and log,
 * and the save_pretrained round trip (files, tensor names/dtypes/shapes, config keys and types,
 * outputs bit-exact after reloading). */
#include "core/tensor.h"
#include "formats/torch_bin.h"
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_case;
static char g_dir[4096];

static am_task task_of(const char *auto_class) {
    static const struct {
        const char *a;
        am_task t;
    } k[] = {{"AutoModel", AM_TASK_BASE},
             {"AutoModelForSequenceClassification", AM_TASK_SEQUENCE_CLASSIFICATION},
             {"AutoModelForTokenClassification", AM_TASK_TOKEN_CLASSIFICATION},
             {"AutoModelForQuestionAnswering", AM_TASK_QUESTION_ANSWERING},
             {"AutoModelForMaskedLM", AM_TASK_MASKED_LM},
             {"AutoModelForCausalLM", AM_TASK_CAUSAL_LM},
             {"AutoModelForSeq2SeqLM", AM_TASK_SEQ2SEQ_LM},
             {"AutoModelForImageClassification", AM_TASK_IMAGE_CLASSIFICATION},
             {"AutoModelForObjectDetection", AM_TASK_OBJECT_DETECTION},
             {"AutoModelForSemanticSegmentation", AM_TASK_SEMANTIC_SEGMENTATION},
             {"AutoModelForVision2Seq", AM_TASK_VISION2SEQ},
             {"AutoModelForAudioClassification", AM_TASK_AUDIO_CLASSIFICATION},
             {"AutoModelForCTC", AM_TASK_CTC},
             {"AutoModelForSpeechSeq2Seq", AM_TASK_SPEECH_SEQ2SEQ}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(k[i].a, auto_class)) return k[i].t;
    return AM_TASK_AUTO;
}

static int compare_tensor(const char *name, const am_tensor *got, const am_tensor *want, double atol, double rtol, bool exact) {
    if (!got) {
        fprintf(stderr, "[%s] output %s missing\n", g_case, name);
        return 1;
    }
    if (am_tensor_ndim(got) != am_tensor_ndim(want)) {
        fprintf(stderr, "[%s] %s: rank %d, want %d\n", g_case, name, am_tensor_ndim(got), am_tensor_ndim(want));
        return 1;
    }
    for (int d = 0; d < am_tensor_ndim(want); d++)
        if (am_tensor_dim(got, d) != am_tensor_dim(want, d)) {
            fprintf(stderr, "[%s] %s: dim %d is %lld, want %lld\n", g_case, name, d, (long long)am_tensor_dim(got, d), (long long)am_tensor_dim(want, d));
            return 1;
        }
    /* a bf16/f16 model's outputs come in its dtype (transformers' semantics): compared as float32 */
    am_tensor *wide = am_tensor_dtype(got) == AM_F32 ? NULL : am__tensor_convert(got, AM_F32);
    const float *g = am_tensor_cdata(wide ? wide : got), *w = am_tensor_cdata(want);
    int64_t n = am_tensor_numel(want), bad = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double diff = fabs((double)g[i] - (double)w[i]);
        bool ok = exact ? g[i] == w[i] : diff <= atol + rtol * fabs((double)w[i]);
        if (!ok || isnan(g[i])) {
            if (!bad) fprintf(stderr, "[%s] %s[%lld] = %.8g, want %.8g\n", g_case, name, (long long)i, g[i], w[i]);
            bad++;
        }
        if (diff > worst) worst = diff;
    }
    if (bad) fprintf(stderr, "[%s] %s: %lld of %lld elements out of tolerance (max diff %.3g)\n", g_case, name, (long long)bad, (long long)n, worst);
    am_tensor_free(wide);
    return bad ? 1 : 0;
}

static am_tensors *inputs_from(const am_tensors *exp, const char *prefix) {
    am_tensors *in = am_tensors_new();
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < am_tensors_count(exp); i++) {
        const char *n = am_tensors_name(exp, i);
        if (!strncmp(n, prefix, pl)) am_tensors_set(in, n + pl, am_tensors_at(exp, i));
    }
    return in;
}

/* Compare every out.* of the case whose role is primary or debug. */
static void check_outputs(const cJSON *ej, const am_tensors *exp, const am_tensors *out, const char *label) {
    const cJSON *outs = cJSON_GetObjectItem(ej, "outputs");
    for (const cJSON *o = outs ? outs->child : NULL; o; o = o->next) {
        const char *role = cJSON_GetObjectItem(o, "role")->valuestring;
        const char *name = o->string + 4; /* strip "out." */
        const am_tensor *want = am_tensors_get(exp, o->string);
        char gname[256];
        snprintf(gname, sizeof gname, "%s", name);
        if (!strcmp(name, "hidden_states.last")) {
            int last = -1;
            for (size_t i = 0; i < am_tensors_count(out); i++) {
                int k;
                if (sscanf(am_tensors_name(out, i), "hidden_states.%d", &k) == 1 && k > last) last = k;
            }
            snprintf(gname, sizeof gname, "hidden_states.%d", last);
        }
        const am_tensor *got = am_tensors_get(out, gname);
        if (!strcmp(role, "random_init")) {
            CHECKF(got && am_tensor_numel(got) == am_tensor_numel(want), "[%s/%s] %s shape", g_case, label, name);
            continue;
        }
        double atol = cJSON_GetObjectItem(o, "atol")->valuedouble, rtol = cJSON_GetObjectItem(o, "rtol")->valuedouble;
        CHECKF(compare_tensor(gname, got, want, atol, rtol, false) == 0, "[%s/%s] output %s", g_case, label, name);
    }
}

static char *read_rel(const char *rel) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", g_dir, rel);
    return am_test_read_file(p, NULL);
}

static void check_stats(const cJSON *ej, am_model *m) {
    const cJSON *st = cJSON_GetObjectItem(ej, "stats");
    CHECKF(am_model_num_parameters(m, false, false) == (int64_t)cJSON_GetObjectItem(st, "num_parameters")->valuedouble, "[%s] num_parameters %lld",
           g_case, (long long)am_model_num_parameters(m, false, false));
    CHECKF(am_model_num_parameters(m, true, false) == (int64_t)cJSON_GetObjectItem(st, "num_parameters_only_trainable")->valuedouble,
           "[%s] only_trainable", g_case);
    CHECKF(am_model_num_parameters(m, false, true) == (int64_t)cJSON_GetObjectItem(st, "num_parameters_exclude_embeddings")->valuedouble,
           "[%s] exclude_embeddings %lld", g_case, (long long)am_model_num_parameters(m, false, true));
    CHECKF(am_model_memory_footprint(m, true) == (int64_t)cJSON_GetObjectItem(st, "memory_footprint")->valuedouble, "[%s] memory_footprint %lld",
           g_case, (long long)am_model_memory_footprint(m, true));
    CHECKF(am_model_memory_footprint(m, false) == (int64_t)cJSON_GetObjectItem(st, "memory_footprint_no_buffers")->valuedouble,
           "[%s] memory_footprint_no_buffers", g_case);
    CHECKF(!strcmp(am_dtype_name(am_model_dtype(m)), cJSON_GetObjectItem(st, "dtype")->valuestring), "[%s] dtype", g_case);
    CHECKF(!am_model_is_training(m), "[%s] from_pretrained returns eval mode", g_case);
    am_model_train(m, true);
    CHECK(am_model_is_training(m));
    am_model_train(m, false);
    CHECK(!am_model_is_training(m));
    /* state dict names, dtypes and shapes, in order */
    const cJSON *sd = cJSON_GetObjectItem(ej, "loaded_state_dict");
    CHECKF((int)am_model_state_dict_count(m) == cJSON_GetArraySize(sd), "[%s] state dict size %zu vs %d", g_case, am_model_state_dict_count(m),
           cJSON_GetArraySize(sd));
    int i = 0;
    for (const cJSON *e = sd->child; e && i < (int)am_model_state_dict_count(m); e = e->next, i++) {
        const char *nm = am_model_state_dict_name(m, (size_t)i);
        CHECKF(!strcmp(nm, cJSON_GetObjectItem(e, "name")->valuestring), "[%s] state dict #%d is %s, want %s", g_case, i, nm,
               cJSON_GetObjectItem(e, "name")->valuestring);
        const am_tensor *t = am_model_state_dict_tensor(m, (size_t)i);
        CHECKF(t && !strcmp(am_dtype_name(am_tensor_dtype(t)), cJSON_GetObjectItem(e, "dtype")->valuestring), "[%s] dtype of %s", g_case, nm);
    }
    /* tied parameters are one tensor */
    const cJSON *tied = cJSON_GetObjectItem(ej, "tied_parameters");
    for (const cJSON *g = tied ? tied->child : NULL; g; g = g->next) {
        const am_tensor *first = am_model_get_parameter(m, g->child->valuestring);
        for (const cJSON *nmj = g->child; nmj; nmj = nmj->next)
            CHECKF(am_model_get_parameter(m, nmj->valuestring) == first, "[%s] %s tied", g_case, nmj->valuestring);
    }
}

static void check_strlist(const char *what, const cJSON *want, const char *const *got, size_t n) {
    CHECKF((int)n == cJSON_GetArraySize(want), "[%s] %s: %zu entries, want %d", g_case, what, n, cJSON_GetArraySize(want));
    size_t i = 0;
    for (const cJSON *w = want ? want->child : NULL; w && i < n; w = w->next, i++)
        CHECKF(!strcmp(got[i], w->valuestring), "[%s] %s[%zu] = %s, want %s", g_case, what, i, got[i], w->valuestring);
}

static void check_loading(const cJSON *ej, am_model *m) {
    const cJSON *li = cJSON_GetObjectItem(ej, "loading_info");
    const am_loading_info *I = am_model_loading_info(m);
    check_strlist("missing_keys", cJSON_GetObjectItem(li, "missing_keys"), I->missing_keys, I->n_missing);
    check_strlist("unexpected_keys", cJSON_GetObjectItem(li, "unexpected_keys"), I->unexpected_keys, I->n_unexpected);
    const cJSON *mm = cJSON_GetObjectItem(li, "mismatched_keys");
    CHECKF((int)I->n_mismatched == cJSON_GetArraySize(mm), "[%s] mismatched count", g_case);
    size_t i = 0;
    for (const cJSON *e = mm ? mm->child : NULL; e && i < I->n_mismatched; e = e->next, i++) {
        CHECK(!strcmp(I->mismatched_keys[i], cJSON_GetArrayItem(e, 0)->valuestring));
        char *c = cJSON_PrintUnformatted(cJSON_GetArrayItem(e, 1)), *d = cJSON_PrintUnformatted(cJSON_GetArrayItem(e, 2));
        char cw[128], dw[128];
        /* "[2,32]" -> "[2, 32]" */
        size_t o = 0;
        for (char *p = c; *p && o < sizeof cw - 2; p++) {
            cw[o++] = *p;
            if (*p == ',') cw[o++] = ' ';
        }
        cw[o] = 0;
        o = 0;
        for (char *p = d; *p && o < sizeof dw - 2; p++) {
            dw[o++] = *p;
            if (*p == ',') dw[o++] = ' ';
        }
        dw[o] = 0;
        CHECKF(!strcmp(I->mismatched_ckpt_shapes[i], cw) && !strcmp(I->mismatched_model_shapes[i], dw), "[%s] mismatched shapes", g_case);
        free(c);
        free(d);
    }
    const cJSON *log = cJSON_GetObjectItem(ej, "load_log");
    CHECKF((int)I->n_log == cJSON_GetArraySize(log), "[%s] %zu log messages, want %d", g_case, I->n_log, cJSON_GetArraySize(log));
    i = 0;
    for (const cJSON *e = log ? log->child : NULL; e && i < I->n_log; e = e->next, i++) {
        const char *lv = cJSON_GetObjectItem(e, "level")->valuestring;
        am_log_level want = !strcmp(lv, "WARNING") ? AM_LOG_WARNING : !strcmp(lv, "INFO") ? AM_LOG_INFO : AM_LOG_ERROR;
        CHECKF(I->log_levels[i] == want, "[%s] log %zu level", g_case, i);
        CHECKF(!strcmp(I->log_messages[i], cJSON_GetObjectItem(e, "message")->valuestring), "[%s] log %zu:\n got: %s\nwant: %s", g_case, i,
               I->log_messages[i], cJSON_GetObjectItem(e, "message")->valuestring);
    }
}

static const char *json_kind(const cJSON *v) {
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "bool";
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsObject(v)) return "object";
    return "number";
}

static void check_json_file(const char *path, const cJSON *want, const cJSON *types) {
    char *text = am_test_read_file(path, NULL);
    CHECKF(text != NULL, "[%s] %s written", g_case, path);
    if (!text) return;
    cJSON *got = cJSON_Parse(text);
    CHECKF(got && cJSON_GetArraySize(got) == cJSON_GetArraySize(want), "[%s] %s: %d keys, want %d", g_case, path, got ? cJSON_GetArraySize(got) : -1,
           cJSON_GetArraySize(want));
    for (const cJSON *w = want->child; w && got; w = w->next) {
        const cJSON *g = cJSON_GetObjectItem(got, w->string);
        CHECKF(g != NULL, "[%s] %s: key %s missing", g_case, path, w->string);
        if (!g) continue;
        const cJSON *ty = cJSON_GetObjectItem(types, w->string);
        if (ty && strcmp(ty->valuestring, "int") && strcmp(ty->valuestring, "float"))
            CHECKF(!strcmp(json_kind(g), ty->valuestring), "[%s] %s: %s has JSON type %s, want %s", g_case, path, w->string, json_kind(g), ty->valuestring);
        if (ty && !strcmp(ty->valuestring, "float")) {
            /* a float key must be written with a decimal point or exponent */
            char pat[300];
            snprintf(pat, sizeof pat, "\"%s\": ", w->string);
            const char *at = strstr(text, pat);
            CHECKF(at && strpbrk(at + strlen(pat), ".e") < strchr(at + strlen(pat), '\n'), "[%s] %s: %s written as a float", g_case, path, w->string);
        }
        if (strcmp(w->string, "_name_or_path") && strcmp(w->string, "transformers_version"))
            CHECKF(cJSON_Compare(g, w, true), "[%s] %s: value of %s differs", g_case, path, w->string);
    }
    cJSON_Delete(got);
    free(text);
}

static void check_save(const cJSON *ej, am_model *m, const am_tensors *first_out, const am_tensors *exp, const am_load_options *lo,
                       am_task task) {
    const cJSON *rt = cJSON_GetObjectItem(ej, "save_roundtrip");
    char tmpl[] = "/tmp/am_test_save_XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (!dir) return;
    am_save_options so = am_save_options_default();
    const cJSON *skw = cJSON_GetObjectItem(rt, "save_kwargs");
    if (cJSON_IsFalse(cJSON_GetObjectItem(skw, "safe_serialization"))) so.format = AM_SAVE_BIN;
    const cJSON *mss = cJSON_GetObjectItem(skw, "max_shard_size");
    if (cJSON_IsString(mss)) so.max_shard_size = mss->valuestring;
    CHECK_OK(am_model_save_pretrained(m, dir, &so));
    /* files */
    const cJSON *files = cJSON_GetObjectItem(rt, "files");
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ls %s", dir);
    char *ls = NULL;
    am_test_run(cmd, &ls);
    int nfiles = 0;
    for (char *p = ls; p && *p; p++) nfiles += *p == '\n';
    CHECKF(nfiles == cJSON_GetArraySize(files), "[%s] saved %d files, want %d:\n%s", g_case, nfiles, cJSON_GetArraySize(files), ls);
    free(ls);
    for (const cJSON *f = files->child; f; f = f->next) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, cJSON_GetObjectItem(f, "name")->valuestring);
        CHECKF(access(p, F_OK) == 0, "[%s] saved file %s", g_case, p);
    }
    /* tensors of every weight file: names, dtypes, shapes */
    for (const cJSON *wf = cJSON_GetObjectItem(rt, "weights")->child; wf; wf = wf->next) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, wf->string);
        bool bin = strstr(wf->string, ".bin") != NULL;
        am_tensors *saved = NULL;
        if (bin) CHECK_OK(am__torch_bin_load(p, &saved));
        else saved = am_tensors_load_safetensors(p);
        CHECKF(saved != NULL, "[%s] read back %s", g_case, p);
        const cJSON *tl = cJSON_GetObjectItem(wf, "tensors");
        CHECKF(saved && (int)am_tensors_count(saved) == cJSON_GetArraySize(tl), "[%s] %s: %zu tensors, want %d", g_case, wf->string,
               am_tensors_count(saved), cJSON_GetArraySize(tl));
        for (const cJSON *t = tl->child; t && saved; t = t->next) {
            am_tensor *x = am_tensors_get(saved, cJSON_GetObjectItem(t, "name")->valuestring);
            CHECKF(x != NULL, "[%s] saved tensor %s", g_case, cJSON_GetObjectItem(t, "name")->valuestring);
            if (!x) continue;
            const char *dt = cJSON_GetObjectItem(t, "dtype")->valuestring;
            CHECK(!strcmp(bin ? am_dtype_name(am_tensor_dtype(x)) : am_dtype_st_name(am_tensor_dtype(x)), dt));
            const cJSON *sh = cJSON_GetObjectItem(t, "shape");
            CHECK(am_tensor_ndim(x) == cJSON_GetArraySize(sh));
            int d = 0;
            for (const cJSON *s = sh->child; s; s = s->next, d++) CHECK(am_tensor_dim(x, d) == (int64_t)s->valuedouble);
        }
        am_tensors_free(saved);
    }
    /* the shard index, exactly */
    const cJSON *idx = cJSON_GetObjectItem(rt, "index");
    if (cJSON_IsObject(idx)) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, cJSON_GetObjectItem(idx, "file")->valuestring);
        char *text = am_test_read_file(p, NULL);
        cJSON *got = text ? cJSON_Parse(text) : NULL;
        CHECKF(got && cJSON_Compare(got, cJSON_GetObjectItem(idx, "content"), true), "[%s] index %s content", g_case, p);
        char wantp[4400];
        snprintf(wantp, sizeof wantp, "%s/%s", g_dir, cJSON_GetObjectItem(idx, "file")->valuestring);
        char *want = am_test_read_file(wantp, NULL);
        CHECKF(want && text && !strcmp(want, text), "[%s] index file bytes equal transformers'", g_case);
        free(want);
        cJSON_Delete(got);
        free(text);
    }
    char p[4400];
    snprintf(p, sizeof p, "%s/config.json", dir);
    check_json_file(p, cJSON_GetObjectItem(rt, "config_json"), cJSON_GetObjectItem(rt, "config_json_types"));
    const cJSON *gj = cJSON_GetObjectItem(rt, "generation_config_json");
    if (gj && !cJSON_IsNull(gj)) {
        snprintf(p, sizeof p, "%s/generation_config.json", dir);
        check_json_file(p, gj, cJSON_GetObjectItem(rt, "generation_config_json_types"));
    }
    /* reload: outputs bit-exact */
    am_load_options o2 = *lo;
    o2.num_labels = 0;
    o2.ignore_mismatched_sizes = false;
    am_model *m2 = am_model_from_pretrained(task, dir, &o2);
    CHECKF(m2 != NULL, "[%s] reload: %s", g_case, am_last_error());
    if (m2) {
        am_tensors *in = inputs_from(exp, "in.");
        am_forward_options fo = am_forward_options_default();
        fo.output_hidden_states = true;
        am_tensors *out2 = am_model_forward(m2, in, &fo);
        CHECK(out2 != NULL);
        for (size_t i = 0; out2 && i < am_tensors_count(first_out); i++)
            CHECKF(compare_tensor(am_tensors_name(first_out, i), am_tensors_get(out2, am_tensors_name(first_out, i)), am_tensors_at(first_out, i), 0, 0,
                                  true) == 0,
                   "[%s] round trip output %s bit-exact", g_case, am_tensors_name(first_out, i));
        am_tensors_free(out2);
        am_tensors_free(in);
        am_model_free(m2);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* transformers' dtype semantics: a bf16/f16 model returns its float outputs (hidden states, logits)
 * in its dtype, except what 4.32 casts back (LlamaForCausalLM: `logits = logits.float()`); the
 * values are the float32 computation rounded once, so an f16 model whose weights are exact in f32
 * matches the float32 reference to f16 rounding */
static void check_output_dtypes(am_model *m, const am_tensors *exp) {
    am_dtype dt = am_model_dtype(m);
    if (dt == AM_F32) return;
    am_tensors *in = inputs_from(exp, "in.");
    am_forward_options fo = am_forward_options_default();
    fo.output_hidden_states = true;
    am_tensors *out = am_model_forward(m, in, &fo);
    CHECKF(out != NULL, "[%s] %s forward: %s", g_case, am_dtype_name(dt), am_last_error());
    for (size_t i = 0; out && i < am_tensors_count(out); i++) {
        const char *n = am_tensors_name(out, i);
        am_dtype want = !strcmp(n, "logits") && !strcmp(am_model_class_name(m), "LlamaForCausalLM") ? AM_F32 : dt;
        CHECKF(am_tensor_dtype(am_tensors_at(out, i)) == want, "[%s] %s model output %s is %s, want %s", g_case, am_dtype_name(dt), n,
               am_dtype_name(am_tensor_dtype(am_tensors_at(out, i))), am_dtype_name(want));
        char full[256];
        snprintf(full, sizeof full, "out.%s", n);
        if (dt == AM_F16 && am_tensors_get(exp, full))
            CHECKF(compare_tensor(full, am_tensors_at(out, i), am_tensors_get(exp, full), 1e-3, 1e-3, false) == 0, "[%s] f16 model %s", g_case, full);
    }
    am_tensors_free(out);
    am_tensors_free(in);
}

/* alt_loads: other from_pretrained calls on the same folder (use_safetensors=False, ...) */
static void check_alt_loads(const cJSON *ej, const am_tensors *exp, am_task task) {
    const cJSON *alts = cJSON_GetObjectItem(ej, "alt_loads");
    for (const cJSON *a = alts ? alts->child : NULL; a; a = a->next) {
        const char *name = cJSON_GetObjectItem(a, "name")->valuestring;
        am_load_options o = am_load_options_default();
        const cJSON *kw = cJSON_GetObjectItem(a, "kwargs");
        bool supported = true;
        for (const cJSON *k = kw ? kw->child : NULL; k; k = k->next) {
            if (!strcmp(k->string, "use_safetensors")) o.use_safetensors = cJSON_IsTrue(k);
            else if (!strcmp(k->string, "torch_dtype")) supported = am_dtype_parse(k->valuestring, &o.dtype) == AM_OK;
            else supported = false;
        }
        CHECKF(supported, "[%s] alt load %s: unsupported kwargs", g_case, name);
        if (!supported) continue;
        am_model *m = am_model_from_pretrained(task, g_dir, &o);
        CHECKF(m != NULL, "[%s] alt load %s: %s", g_case, name, am_last_error());
        if (!m) continue;
        const cJSON *st = cJSON_GetObjectItem(a, "stats");
        CHECK(am_model_num_parameters(m, false, false) == (int64_t)cJSON_GetObjectItem(st, "num_parameters")->valuedouble);
        CHECKF(am_model_memory_footprint(m, true) == (int64_t)cJSON_GetObjectItem(st, "memory_footprint")->valuedouble, "[%s] alt %s footprint %lld",
               g_case, name, (long long)am_model_memory_footprint(m, true));
        CHECKF(!strcmp(am_dtype_name(am_model_dtype(m)), cJSON_GetObjectItem(st, "dtype")->valuestring), "[%s] alt %s dtype %s", g_case, name,
               am_dtype_name(am_model_dtype(m)));
        const cJSON *ot = cJSON_GetObjectItem(a, "output_tensors");
        if (cJSON_GetArraySize(ot) > 0) {
            /* outputs stored as <prefix>.<name> (auto.logits, alt_bin.last_hidden_state) with their tolerance */
            am_tensors *in = inputs_from(exp, "in.");
            am_tensors *out = am_model_forward(m, in, NULL);
            CHECKF(out != NULL, "[%s] alt %s forward: %s", g_case, name, am_last_error());
            for (const cJSON *t = ot->child; t && out; t = t->next) {
                const char *full = cJSON_IsString(t) ? t->valuestring : t->string;
                const char *dot = strchr(full, '.');
                double atol = 1e-4, rtol = 1e-4;
                const cJSON *spec = cJSON_GetObjectItem(cJSON_GetObjectItem(ej, "outputs"), full);
                if (spec && cJSON_GetObjectItem(spec, "atol")) atol = cJSON_GetObjectItem(spec, "atol")->valuedouble;
                if (spec && cJSON_GetObjectItem(spec, "rtol")) rtol = cJSON_GetObjectItem(spec, "rtol")->valuedouble;
                /* README: outputs computed in bfloat16 (load_bf16 auto.logits) compare with atol 0.15, rtol 0.05 */
                if (am_model_dtype(m) == AM_BF16) atol = 0.15, rtol = 0.05;
                if (cJSON_IsObject(t)) {
                    if (cJSON_GetObjectItem(t, "atol")) atol = cJSON_GetObjectItem(t, "atol")->valuedouble;
                    if (cJSON_GetObjectItem(t, "rtol")) rtol = cJSON_GetObjectItem(t, "rtol")->valuedouble;
                }
                if (!dot || !am_tensors_get(exp, full)) continue;
                CHECKF(compare_tensor(full, am_tensors_get(out, dot + 1), am_tensors_get(exp, full), atol, rtol, false) == 0, "[%s] alt %s %s", g_case,
                       name, full);
            }
            am_tensors_free(out);
            am_tensors_free(in);
        }
        check_output_dtypes(m, exp);
        am_model_free(m);
    }
}

/* output_attentions=True (the fixtures hold no attention tensors): the other outputs still match
 * (the call runs eager); per kind, one [batch, heads, queries, keys] tensor per layer (as many as
 * the matching hidden states minus the embeddings); each row sums to 1; padded keys (the mask
 * input) and keys above the causal diagonal get exactly 0, and a row with no open key is uniform,
 * as transformers' finfo.min masking gives. */
static int64_t count_prefixed(const am_tensors *t, const char *prefix) {
    int64_t n = 0;
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < am_tensors_count(t); i++) {
        const char *nm = am_tensors_name(t, i);
        if (!strncmp(nm, prefix, pl) && nm[pl] >= '0' && nm[pl] <= '9') n++;
    }
    return n;
}

static void check_attentions(const cJSON *ej, const am_tensors *exp, am_model *m) {
    am_tensors *in = inputs_from(exp, "in.");
    am_forward_options fo = am_forward_options_default();
    fo.output_hidden_states = true;
    fo.output_attentions = true;
    am_tensors *out = am_model_forward(m, in, &fo);
    CHECKF(out != NULL, "[%s] forward with output_attentions: %s", g_case, am_last_error());
    if (!out) {
        am_tensors_free(in);
        return;
    }
    check_outputs(ej, exp, out, "output_attentions");
    const am_config *cfg = am_model_config(m);
    const char *mt = am_config_model_type(cfg);
    bool is_decoder = false; /* BertLMHeadModel, RobertaForCausalLM, BartForCausalLM: causal self-attention */
    am_config_get_bool(cfg, "is_decoder", &is_decoder);
    bool dec_only = !strcmp(mt, "gpt2") || !strcmp(mt, "llama") || is_decoder;
    static const struct {
        const char *prefix, *hidden, *q_ids, *k_ids, *mask, *heads_key;
        bool causal;
    } kinds[] = {
        {"attentions.", "hidden_states.", "input_ids", "input_ids", "attention_mask", NULL, false},
        {"encoder_attentions.", "encoder_hidden_states.", "input_ids", "input_ids", "attention_mask", "encoder_attention_heads", false},
        {"decoder_attentions.", "decoder_hidden_states.", "decoder_input_ids", "decoder_input_ids", "decoder_attention_mask", "decoder_attention_heads", true},
        {"cross_attentions.", "decoder_hidden_states.", "decoder_input_ids", "input_ids", "attention_mask", "decoder_attention_heads", false},
    };
    int64_t total = 0;
    for (size_t kd = 0; kd < sizeof kinds / sizeof kinds[0]; kd++) {
        int64_t n = count_prefixed(out, kinds[kd].prefix), nh = count_prefixed(out, kinds[kd].hidden);
        total += n;
        if (!n && !nh) continue;
        /* one attention per layer: one hidden state per layer plus the embeddings, except where the
         * hidden states are per stage (SegFormer: sum(depths) layers in len(depths) stages) */
        const cJSON *depths = cJSON_GetObjectItem(cJSON_GetObjectItem(ej, "config_json"), "depths");
        int64_t layers = cJSON_IsArray(depths) ? 0 : nh - 1;
        for (const cJSON *d = cJSON_IsArray(depths) ? depths->child : NULL; d; d = d->next) layers += (int64_t)d->valuedouble;
        CHECKF(n == layers, "[%s] %lld %s* tensors for %lld %s*", g_case, (long long)n, kinds[kd].prefix, (long long)nh, kinds[kd].hidden);
        const am_tensor *qi = am_tensors_get(in, kinds[kd].q_ids), *ki = am_tensors_get(in, kinds[kd].k_ids);
        const am_tensor *mk = am_tensors_get(in, kinds[kd].mask);
        /* audio (input_values): queries and keys are the frames, masked by the frame-level mask the
         * case records (aux.feature_attention_mask, from attention_mask through the conv lengths) */
        const am_tensor *fm = am_tensors_get(exp, "aux.feature_attention_mask");
        if (kd == 0 && !qi && am_tensors_get(in, "input_values") && fm) qi = ki = mk = fm;
        bool causal = kinds[kd].causal || (kd == 0 && dec_only);
        int64_t heads = -1;
        const char *hk[] = {kinds[kd].heads_key, "num_attention_heads", "n_head", "num_heads", "n_heads", "decoder_attention_heads"};
        for (size_t i = 0; i < 6 && heads < 0; i++)
            if (hk[i] && am_config_get_int(cfg, hk[i], &heads) != AM_OK) heads = -1;
        /* a composite config (VisionEncoderDecoder): the encoder's or the decoder's own config */
        const cJSON *sub = cJSON_GetObjectItem(cJSON_GetObjectItem(ej, "config_json"), kd == 1 ? "encoder" : "decoder");
        for (size_t i = 0; heads < 0 && cJSON_IsObject(sub) && i < 6; i++)
            if (hk[i] && cJSON_IsNumber(cJSON_GetObjectItem(sub, hk[i]))) heads = (int64_t)cJSON_GetObjectItem(sub, hk[i])->valuedouble;
        for (int64_t l = 0; l < n; l++) {
            char nm[64];
            snprintf(nm, sizeof nm, "%s%lld", kinds[kd].prefix, (long long)l);
            am_tensor *t = am_tensors_get(out, nm);
            CHECKF(t && am_tensor_ndim(t) == 4 && am_tensor_dtype(t) == AM_F32, "[%s] %s is a float32 4-D tensor", g_case, nm);
            if (!t || am_tensor_ndim(t) != 4 || !qi || !ki) continue;
            const int64_t *sh = am_tensor_shape(t);
            int64_t B = sh[0], H = sh[1], Tq = sh[2], Tk = sh[3];
            CHECKF(B == am_tensor_shape(qi)[0] && Tq == am_tensor_shape(qi)[1] && Tk == am_tensor_shape(ki)[1] && H == heads,
                   "[%s] %s shape [%lld, %lld, %lld, %lld], heads %lld", g_case, nm, (long long)B, (long long)H, (long long)Tq, (long long)Tk,
                   (long long)heads);
            const float *p = am_tensor_data(t);
            const int64_t *mv = mk && am_tensor_dtype(mk) == AM_I64 ? am_tensor_cdata(mk) : NULL;
            CHECKF(!mk || mv, "[%s] %s is int64", g_case, kinds[kd].mask);
            int64_t bad_sum = 0, bad_mask = 0;
            for (int64_t b = 0; b < B; b++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t i = 0; i < Tq; i++) {
                        const float *row = p + ((b * H + h) * Tq + i) * Tk;
                        double sum = 0;
                        bool any_open = false;
                        for (int64_t j = 0; j < Tk; j++) any_open = any_open || (!(mv && mv[b * Tk + j] == 0) && !(causal && j > i + Tk - Tq));
                        for (int64_t j = 0; j < Tk; j++) {
                            bool open = !(mv && mv[b * Tk + j] == 0) && !(causal && j > i + Tk - Tq);
                            sum += row[j];
                            if ((any_open && !open && row[j] != 0.0f) || (!any_open && fabs(row[j] - 1.0 / (double)Tk) > 1e-6) || row[j] < 0) bad_mask++;
                        }
                        if (fabs(sum - 1.0) > 1e-5) bad_sum++;
                    }
            CHECKF(bad_sum == 0 && bad_mask == 0, "[%s] %s: %lld rows do not sum to 1, %lld masked keys not 0 (or not uniform)", g_case, nm,
                   (long long)bad_sum, (long long)bad_mask);
        }
    }
    CHECKF(total > 0, "[%s] output_attentions returned no attention tensors", g_case);
    am_tensors_free(out);
    am_tensors_free(in);
}

/* The CLI path: `automodel forward` and `automodel info --json` on the same case. */
static void check_cli(const cJSON *ej, const am_tensors *exp, const char *task_name, const char *extra) {
    const char *cli = getenv("AM_CLI");
    if (!cli) return;
    char tmpl[] = "/tmp/am_test_cli_XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) return;
    am_tensors *in = inputs_from(exp, "in.");
    char inp[4400], outp[4400], cmd[13000];
    snprintf(inp, sizeof inp, "%s/in.safetensors", dir);
    snprintf(outp, sizeof outp, "%s/out.safetensors", dir);
    CHECK_OK(am_tensors_save_safetensors(in, inp));
    snprintf(cmd, sizeof cmd, "%s forward %s --task %s %s --inputs %s --output %s --output-hidden-states", cli, g_dir, task_name, extra, inp, outp);
    int rc = am_test_run(cmd, NULL);
    CHECKF(rc == 0, "[%s] CLI forward exit %d: %s", g_case, rc, cmd);
    am_tensors *out = am_tensors_load_safetensors(outp);
    CHECK(out != NULL);
    if (out) check_outputs(ej, exp, out, "cli");
    snprintf(cmd, sizeof cmd, "%s info %s --task %s %s --json", cli, g_dir, task_name, extra);
    char *js = NULL;
    rc = am_test_run(cmd, &js);
    CHECKF(rc == 0, "[%s] CLI info exit %d", g_case, rc);
    cJSON *j = js ? cJSON_Parse(js) : NULL;
    CHECKF(j != NULL, "[%s] CLI info --json is JSON: %s", g_case, js ? js : "");
    if (j) {
        const cJSON *st = cJSON_GetObjectItem(ej, "stats");
        CHECK(cJSON_GetObjectItem(j, "num_parameters")->valuedouble == cJSON_GetObjectItem(st, "num_parameters")->valuedouble);
        CHECK(cJSON_GetObjectItem(j, "memory_footprint")->valuedouble == cJSON_GetObjectItem(st, "memory_footprint")->valuedouble);
        CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "training")));
        CHECK(!strcmp(cJSON_GetObjectItem(j, "class")->valuestring, cJSON_GetObjectItem(ej, "hf_class")->valuestring));
        CHECK(!strcmp(cJSON_GetObjectItem(j, "dtype")->valuestring, cJSON_GetObjectItem(st, "dtype")->valuestring));
        /* the CPU report: the ISA in force and each kernel's choice */
        const cJSON *cpu = cJSON_GetObjectItem(j, "cpu");
        CHECK(cJSON_IsString(cJSON_GetObjectItem(cpu, "isa")) && cJSON_IsString(cJSON_GetObjectItem(cJSON_GetObjectItem(cpu, "kernels"), "gemv")));
        const cJSON *ai = cJSON_GetObjectItem(j, "attn_implementation");
        CHECKF(cJSON_IsString(ai) && !strcmp(ai->valuestring, "sdpa"), "[%s] CLI info attn_implementation", g_case);
    }
    cJSON_Delete(j);
    free(js);
    snprintf(cmd, sizeof cmd, "%s info %s --task %s %s --repr", cli, g_dir, task_name, extra);
    char *repr = NULL;
    am_test_run(cmd, &repr);
    char *want = read_rel("repr.txt");
    CHECKF(repr && want && !strcmp(repr, want), "[%s] CLI --repr", g_case);
    free(repr);
    free(want);
    am_tensors_free(out);
    am_tensors_free(in);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}


/* ---- generation runs (expected.json "generation"): sequences exact, scores within atol=rtol=1e-4
 * with the -inf positions exact, sequences_scores within 1e-4; through the C API and the CLI ---- */

static int compare_scores(const char *name, const am_tensor *got, const am_tensor *want) {
    if (!got) {
        fprintf(stderr, "[%s] %s missing\n", g_case, name);
        return 1;
    }
    if (am_tensor_numel(got) != am_tensor_numel(want) || am_tensor_ndim(got) != am_tensor_ndim(want)) {
        fprintf(stderr, "[%s] %s: %lld elements, want %lld\n", g_case, name, (long long)am_tensor_numel(got), (long long)am_tensor_numel(want));
        return 1;
    }
    const float *g = am_tensor_cdata(got), *w = am_tensor_cdata(want);
    int64_t bad = 0;
    for (int64_t i = 0; i < am_tensor_numel(want); i++) {
        bool ok = isinf(w[i]) ? g[i] == w[i] : !isnan(g[i]) && !isinf(g[i]) && fabs((double)g[i] - w[i]) <= 1e-4 + 1e-4 * fabs((double)w[i]);
        if (!ok && !bad++) fprintf(stderr, "[%s] %s[%lld] = %.8g, want %.8g\n", g_case, name, (long long)i, g[i], w[i]);
    }
    return bad ? 1 : 0;
}

static int compare_i64(const char *name, const am_tensor *got, const am_tensor *want) {
    if (!got || am_tensor_dtype(got) != AM_I64 || am_tensor_ndim(got) != am_tensor_ndim(want)) {
        fprintf(stderr, "[%s] %s missing or not int64 of rank %d\n", g_case, name, am_tensor_ndim(want));
        return 1;
    }
    for (int d = 0; d < am_tensor_ndim(want); d++)
        if (am_tensor_dim(got, d) != am_tensor_dim(want, d)) {
            fprintf(stderr, "[%s] %s: dim %d is %lld, want %lld\n", g_case, name, d, (long long)am_tensor_dim(got, d), (long long)am_tensor_dim(want, d));
            return 1;
        }
    const int64_t *g = am_tensor_cdata(got), *w = am_tensor_cdata(want);
    for (int64_t i = 0; i < am_tensor_numel(want); i++)
        if (g[i] != w[i]) {
            fprintf(stderr, "[%s] %s[%lld] = %lld, want %lld\n", g_case, name, (long long)i, (long long)g[i], (long long)w[i]);
            return 1;
        }
    return 0;
}

/* the run's call as options and as CLI flags */
static void gen_call(const cJSON *call, am_generate_options *o, char *flags, size_t fl) {
    *o = am_generate_options_default();
    o->output_scores = true;
    snprintf(flags, fl, "--output-scores");
    for (const cJSON *k = call ? call->child : NULL; k; k = k->next) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", k->string);
        for (char *p = flag; *p; p++)
            if (*p == '_') *p = '-';
        if (cJSON_IsBool(k)) {
            if (!strcmp(k->string, "do_sample")) o->do_sample = cJSON_IsTrue(k);
            else if (!strcmp(k->string, "early_stopping")) o->early_stopping = cJSON_IsTrue(k);
            if (cJSON_IsTrue(k)) snprintf(flags + strlen(flags), fl - strlen(flags), " %s", flag);
            else snprintf(flags + strlen(flags), fl - strlen(flags), " --no-%s", flag + 2);
            continue;
        }
        double v = k->valuedouble;
        if (!strcmp(k->string, "max_new_tokens")) o->max_new_tokens = (int64_t)v;
        else if (!strcmp(k->string, "num_beams")) o->num_beams = (int64_t)v;
        else if (!strcmp(k->string, "num_return_sequences")) o->num_return_sequences = (int64_t)v;
        else if (!strcmp(k->string, "length_penalty")) o->length_penalty = v;
        else if (!strcmp(k->string, "repetition_penalty")) o->repetition_penalty = v;
        else if (!strcmp(k->string, "no_repeat_ngram_size")) o->no_repeat_ngram_size = (int64_t)v;
        else CHECKF(0, "[%s] generation call key %s not handled by the test", g_case, k->string);
        snprintf(flags + strlen(flags), fl - strlen(flags), " %s %.17g", flag, v);
    }
}

static void check_generation_out(const cJSON *run, const am_tensors *exp, const am_tensors *out, const char *label) {
    const char *name = cJSON_GetObjectItem(run, "name")->valuestring;
    char key[128];
    snprintf(key, sizeof key, "%s.sequences", name);
    CHECKF(compare_i64(key, am_tensors_get(out, "sequences"), am_tensors_get(exp, key)) == 0, "[%s/%s] %s", g_case, label, key);
    snprintf(key, sizeof key, "%s.scores", name);
    if (am_tensors_get(exp, key)) CHECKF(compare_scores(key, am_tensors_get(out, "scores"), am_tensors_get(exp, key)) == 0, "[%s/%s] %s", g_case, label, key);
    snprintf(key, sizeof key, "%s.sequences_scores", name);
    if (am_tensors_get(exp, key))
        CHECKF(compare_scores(key, am_tensors_get(out, "sequences_scores"), am_tensors_get(exp, key)) == 0, "[%s/%s] %s", g_case, label, key);
}

static void check_generation(const cJSON *ej, const am_tensors *exp, am_model *m) {
    const cJSON *runs = cJSON_GetObjectItem(ej, "generation");
    const char *cli = getenv("AM_CLI");
    for (const cJSON *run = runs ? runs->child : NULL; run; run = run->next) {
        const char *name = cJSON_GetObjectItem(run, "name")->valuestring;
        am_tensors *in = am_tensors_new();
        const cJSON *inputs = cJSON_GetObjectItem(run, "inputs");
        for (const cJSON *i = inputs ? inputs->child : NULL; i; i = i->next) am_tensors_set(in, i->valuestring, am_tensors_get(exp, i->string));
        am_generate_options o;
        char flags[1024];
        gen_call(cJSON_GetObjectItem(run, "call"), &o, flags, sizeof flags);
        am_tensors *out = am_model_generate(m, in, &o);
        CHECKF(out != NULL, "[%s] generate %s: %s", g_case, name, am_last_error());
        if (out) check_generation_out(run, exp, out, "api");
        am_tensors_free(out);
        if (cli) {
            char tmpl[] = "/tmp/am_test_gen_XXXXXX";
            char *dir = mkdtemp(tmpl);
            CHECK(dir != NULL);
            if (dir) {
                char inp[4400], outp[4400], cmd[16000];
                snprintf(inp, sizeof inp, "%s/in.safetensors", dir);
                snprintf(outp, sizeof outp, "%s/out.safetensors", dir);
                CHECK_OK(am_tensors_save_safetensors(in, inp));
                snprintf(cmd, sizeof cmd, "%s generate %s --inputs %s --output %s %s", cli, g_dir, inp, outp, flags);
                int rc = am_test_run(cmd, NULL);
                CHECKF(rc == 0, "[%s] CLI generate exit %d: %s", g_case, rc, cmd);
                am_tensors *co = rc == 0 ? am_tensors_load_safetensors(outp) : NULL;
                if (co) check_generation_out(run, exp, co, "cli");
                am_tensors_free(co);
                snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
                CHECK(system(cmd) == 0);
            }
        }
        am_tensors_free(in);
    }
}

int am_test_main(int argc, char **argv) {
    if (argc < 2) return 2;
    g_case = argv[1];
    snprintf(g_dir, sizeof g_dir, "%s", am_test_fixture("models/"));
    strncat(g_dir, g_case, sizeof g_dir - strlen(g_dir) - 1);
    char *ejs = read_rel("expected.json");
    CHECK(ejs != NULL);
    if (!ejs) return 1;
    cJSON *ej = cJSON_Parse(ejs);
    char ep[4200];
    snprintf(ep, sizeof ep, "%s/expected.safetensors", g_dir);
    am_tensors *exp = am_tensors_load_safetensors(ep);
    CHECK(exp != NULL);
    am_task task = task_of(cJSON_GetObjectItem(ej, "auto_class")->valuestring);
    am_load_options lo = am_load_options_default();
    /* AM_TEST_ATTN=eager|sdpa|flash_attention_2: the whole case under that attn_implementation */
    const char *attn = getenv("AM_TEST_ATTN");
    if (attn && *attn) CHECK_OK(am_attn_impl_parse(attn, &lo.attn));
    char extra[256] = "";
    const cJSON *kw = cJSON_GetObjectItem(cJSON_GetObjectItem(ej, "load"), "kwargs");
    for (const cJSON *k = kw ? kw->child : NULL; k; k = k->next) {
        if (!strcmp(k->string, "num_labels")) {
            lo.num_labels = k->valueint;
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " --num-labels %d", k->valueint);
        } else if (!strcmp(k->string, "ignore_mismatched_sizes") && cJSON_IsTrue(k)) {
            lo.ignore_mismatched_sizes = true;
            strncat(extra, " --ignore-mismatched-sizes", sizeof extra - strlen(extra) - 1);
        }
    }
    /* from_pretrained: the log messages name the path as given; the fixture used the case name */
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    char parent[4200];
    snprintf(parent, sizeof parent, "%s", am_test_fixture("models"));
    CHECK(chdir(parent) == 0);
    am_model *m = am_model_from_pretrained(task, g_case, &lo);
    CHECK(chdir(cwd) == 0);
    CHECKF(m != NULL, "[%s] from_pretrained: %s", g_case, am_last_error());
    if (m) {
        CHECKF(!strcmp(am_model_class_name(m), cJSON_GetObjectItem(ej, "hf_class")->valuestring), "[%s] class %s", g_case, am_model_class_name(m));
        am_tensors *in = inputs_from(exp, "in.");
        am_forward_options fo = am_forward_options_default();
        fo.output_hidden_states = true;
        am_tensors *out = am_model_forward(m, in, &fo);
        CHECKF(out != NULL, "[%s] forward: %s", g_case, am_last_error());
        if (out) check_outputs(ej, exp, out, "api");
        check_stats(ej, m);
        check_loading(ej, m);
        const char *impl = NULL;
        CHECK_OK(am_config_get_string(am_model_config(m), "_attn_implementation", &impl));
        CHECKF(impl && !strcmp(impl, attn && *attn ? attn : "sdpa") && !strcmp(impl, am_attn_impl_name(am_model_attn_implementation(m))),
               "[%s] _attn_implementation %s", g_case, impl ? impl : "(none)");
        check_attentions(ej, exp, m);
        char *repr = am_model_repr(m), *want = read_rel("repr.txt");
        size_t rl = repr ? strlen(repr) : 0;
        CHECKF(repr && want && !strncmp(repr, want, rl) && !strcmp(want + rl, "\n"), "[%s] repr differs:\n%s", g_case, repr);
        free(want);
        am_free(repr);
        char *crepr = am_config_repr(am_model_config(m));
        want = read_rel("config_repr.txt");
        rl = crepr ? strlen(crepr) : 0;
        CHECKF(crepr && want && !strncmp(crepr, want, rl) && !strcmp(want + rl, "\n"), "[%s] config repr differs:\n%s", g_case, crepr);
        free(want);
        am_free(crepr);
        /* under AM_TEST_ATTN the forward, generation and attention checks run again; saving,
         * other loads and the CLI do not depend on the attention implementation */
        bool variant = attn && *attn;
        if (out && !variant) check_save(ej, m, out, exp, &lo, task);
        if (!variant) check_alt_loads(ej, exp, task);
        check_generation(ej, exp, m);
        if (!variant) check_cli(ej, exp, am_task_name(task), extra);
        am_tensors_free(out);
        am_tensors_free(in);
        am_model_free(m);
    }
    am_tensors_free(exp);
    cJSON_Delete(ej);
    free(ejs);
    return 0;
}
