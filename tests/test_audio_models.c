/* tests/test_audio_models.c — Wav2Vec2 beyond the models/ fixture case, against transformers 4.32's
 * references in fixtures/pipelines_media:
 *  - asr_ctc_wav2vec2 (Wav2Vec2ForCTC): the model_level references (a padded batch of two with an
 *    attention_mask: logits, hidden states), stats, loading report, repr, the save round trip, and
 *    every model call the ASR pipeline made (logits of stored input_values, argmax ids = the stored
 *    tokens except the frames case.json lists as fragile);
 *  - the same checkpoint as Wav2Vec2Model (task base): last_hidden_state = the CTC model's last
 *    hidden state, extract_features of the last conv layer's width;
 *  - audio_classification_wav2vec2 (Wav2Vec2ForSequenceClassification): the logits of every model
 *    call of the audio-classification pipeline (real speech decoded by ffmpeg, 1-3 s);
 *  - input checks and training mode (SpecAugment, LayerDrop) on the classification checkpoint;
 *  - use_weighted_layer_sum, recomputed from the hidden states it returns. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fixture {
    char dir[4200];
    char *js;
    cJSON *cj;
    am_tensors *exp;
} fixture;

static bool fixture_open(fixture *f, const char *name) {
    char p[4400];
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s", am_test_fixture(name));
    snprintf(p, sizeof p, "%s/case.json", f->dir);
    f->js = am_test_read_file(p, NULL);
    f->cj = f->js ? cJSON_Parse(f->js) : NULL;
    snprintf(p, sizeof p, "%s/expected.safetensors", f->dir);
    f->exp = am_tensors_load_safetensors(p);
    CHECKF(f->cj && f->exp, "%s: case.json and expected.safetensors", name);
    return f->cj && f->exp;
}

static void fixture_close(fixture *f) {
    cJSON_Delete(f->cj);
    free(f->js);
    am_tensors_free(f->exp);
}

/* input_values (and an all-ones attention_mask when the pipeline passed one) -> forward */
static am_tensors *forward_values(am_model *m, const am_tensor *iv, bool ones_mask) {
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_values", (am_tensor *)iv);
    am_tensor *mk = NULL;
    if (ones_mask) {
        mk = am_tensor_new(AM_I64, 2, am_tensor_shape(iv));
        int64_t *d = am_tensor_data(mk);
        for (int64_t i = 0; i < am_tensor_numel(mk); i++) d[i] = 1;
        am_tensors_set(in, "attention_mask", mk);
    }
    am_tensors *out = am_model_forward(m, in, NULL);
    am_tensor_free(mk);
    am_tensors_free(in);
    return out;
}

/* save_pretrained: the listed files and config keys; the reload reproduces `out` exactly */
static void save_roundtrip(am_model *m, am_task task, const cJSON *rt, const am_tensors *in, const am_tensors *out) {
    char tmpl[] = "/tmp/am_test_w2v_XXXXXX", p[4400];
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL);
    if (!tmp) return;
    CHECK_OK(am_model_save_pretrained(m, tmp, NULL));
    for (const cJSON *f = cJSON_GetObjectItem(rt, "files")->child; f; f = f->next) {
        snprintf(p, sizeof p, "%s/%s", tmp, f->valuestring);
        CHECKF(access(p, F_OK) == 0, "saved %s", f->valuestring);
    }
    snprintf(p, sizeof p, "%s/config.json", tmp);
    char *cfg = am_test_read_file(p, NULL);
    cJSON *cfgj = cfg ? cJSON_Parse(cfg) : NULL;
    int nkeys = 0;
    /* the keys listed, plus "_name_or_path" (the load path, which the reference leaves out) */
    for (const cJSON *k = cfgj ? cfgj->child : NULL; k; k = k->next) nkeys += strcmp(k->string, "_name_or_path") != 0;
    const cJSON *keys = cJSON_GetObjectItem(rt, "config_json_keys");
    CHECKF(nkeys == cJSON_GetArraySize(keys), "saved config has %d keys, want %d", nkeys, cJSON_GetArraySize(keys));
    for (const cJSON *k = keys->child; k; k = k->next) CHECKF(cJSON_GetObjectItem(cfgj, k->valuestring) != NULL, "saved config key %s", k->valuestring);
    cJSON_Delete(cfgj);
    free(cfg);
    am_model *r = am_model_from_pretrained(task, tmp, NULL);
    CHECKF(r != NULL, "reload: %s", am_last_error());
    am_forward_options fo = am_forward_options_default();
    fo.output_hidden_states = true;
    am_tensors *o2 = r ? am_model_forward(r, in, &fo) : NULL;
    CHECK(o2 && am_test_close("reloaded logits", am_tensors_get(o2, "logits"), am_tensors_get(out, "logits"), 0, 0));
    am_tensors_free(o2);
    am_model_free(r);
    snprintf(p, sizeof p, "rm -rf %s", tmp);
    CHECK(system(p) == 0);
}

static void asr_ctc(void) {
    fixture f;
    if (!fixture_open(&f, "pipelines_media/asr_ctc_wav2vec2")) goto done0;
    const cJSON *ml = cJSON_GetObjectItem(f.cj, "model_level");
    am_model *m = am_model_from_pretrained(AM_TASK_CTC, f.dir, NULL);
    CHECKF(m != NULL, "load: %s", am_last_error());
    if (!m) goto done0;
    CHECK(!strcmp(am_model_class_name(m), cJSON_GetObjectItem(ml, "loaded_class")->valuestring));
    const cJSON *st = cJSON_GetObjectItem(ml, "stats");
    CHECK(am_model_num_parameters(m, false, false) == (int64_t)cJSON_GetObjectItem(st, "num_parameters")->valuedouble);
    CHECK(am_model_num_parameters(m, true, false) == (int64_t)cJSON_GetObjectItem(st, "num_parameters_only_trainable")->valuedouble);
    CHECK(am_model_num_parameters(m, false, true) == (int64_t)cJSON_GetObjectItem(st, "num_parameters_exclude_embeddings")->valuedouble);
    CHECK(am_model_memory_footprint(m, true) == (int64_t)cJSON_GetObjectItem(st, "memory_footprint")->valuedouble);
    CHECK(am_model_memory_footprint(m, false) == (int64_t)cJSON_GetObjectItem(st, "memory_footprint_no_buffers")->valuedouble);
    CHECK(!am_model_is_training(m));
    const am_loading_info *li = am_model_loading_info(m);
    CHECK(li->n_missing == 0 && li->n_unexpected == 0 && li->n_mismatched == 0);
    char p[4400];
    char *repr = am_model_repr(m);
    snprintf(p, sizeof p, "%s/%s", f.dir, cJSON_GetObjectItem(ml, "repr_file")->valuestring);
    char *want = am_test_read_file(p, NULL);
    CHECKF(repr && want && !strncmp(repr, want, strlen(repr)) && !strcmp(want + strlen(repr), "\n"), "repr:\n%s", repr);
    am_free(repr);
    free(want);
    /* model_level: a batch of two, the second row padded (attention_mask zeros at the end) */
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_values", am_tensors_get(f.exp, "model.in.input_values"));
    am_tensors_set(in, "attention_mask", am_tensors_get(f.exp, "model.in.attention_mask"));
    am_forward_options fo = am_forward_options_default();
    fo.output_hidden_states = true;
    am_tensors *out = am_model_forward(m, in, &fo);
    CHECKF(out != NULL, "forward: %s", am_last_error());
    int n_out = 0;
    for (const cJSON *o = cJSON_GetObjectItem(ml, "outputs")->child; out && o; o = o->next) {
        if (strncmp(o->string, "model.out.", 10)) continue;
        n_out++;
        CHECKF(am_test_close(o->string, am_tensors_get(out, o->string + 10), am_tensors_get(f.exp, o->string), cJSON_GetObjectItem(o, "atol")->valuedouble,
                         cJSON_GetObjectItem(o, "rtol")->valuedouble),
               "model_level %s", o->string);
    }
    CHECK(n_out == 3);
    am_test_cli_model_level(f.dir, "ctc", in, ml, f.exp); /* the same references through `automodel` */
    /* the base model on the same checkpoint: its last_hidden_state is the CTC model's last hidden state */
    am_load_options lo = am_load_options_default();
    am_model *base = am_model_from_pretrained(AM_TASK_BASE, f.dir, &lo);
    CHECKF(base && !strcmp(am_model_class_name(base), "Wav2Vec2Model"), "base: %s", base ? am_model_class_name(base) : am_last_error());
    am_tensors *bo = base ? am_model_forward(base, in, NULL) : NULL;
    CHECK(bo && am_test_close("base last_hidden_state", am_tensors_get(bo, "last_hidden_state"), am_tensors_get(f.exp, "model.out.hidden_states.2"), 1e-4, 1e-4));
    const am_tensor *ef = bo ? am_tensors_get(bo, "extract_features") : NULL;
    CHECK(ef && am_tensor_ndim(ef) == 3 && am_tensor_dim(ef, 0) == 2 && am_tensor_dim(ef, 1) == 29 && am_tensor_dim(ef, 2) == 16);
    am_tensors_free(bo);
    am_model_free(base);
    /* every pipeline model call whose input_values were stored: logits, and argmax = tokens */
    int calls = 0;
    for (const cJSON *run = cJSON_GetObjectItem(f.cj, "runs")->child; run; run = run->next)
        for (const cJSON *c = cJSON_GetObjectItem(run, "model_calls")->child; c; c = c->next) {
            char key[256], k2[256];
            const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
            int ci = cJSON_GetObjectItem(c, "call")->valueint;
            snprintf(key, sizeof key, "%s.%d.input_values", rn, ci);
            const am_tensor *iv = am_tensors_get(f.exp, key);
            if (!iv) continue; /* long chunks are not stored (README) */
            const cJSON *am = cJSON_GetObjectItem(c, "attention_mask");
            am_tensors *o = forward_values(m, iv, cJSON_IsString(am) && strstr(am->valuestring, "all ones"));
            CHECKF(o != NULL, "%s: %s", key, am_last_error());
            snprintf(k2, sizeof k2, "%s.%d.logits", rn, ci);
            const am_tensor *lg = o ? am_tensors_get(o, "logits") : NULL;
            CHECKF(o && am_test_close(k2, lg, am_tensors_get(f.exp, k2), 1e-4, 1e-4), "%s", k2);
            snprintf(k2, sizeof k2, "%s.%d.tokens", rn, ci);
            const am_tensor *tk = am_tensors_get(f.exp, k2);
            if (lg && tk && am_tensor_dim(lg, 1) == am_tensor_dim(tk, 1)) {
                int64_t T = am_tensor_dim(lg, 1), V = am_tensor_dim(lg, 2), bad = 0;
                const float *L = am_tensor_cdata(lg);
                const int64_t *want_ids = am_tensor_cdata(tk);
                for (int64_t t = 0; t < T; t++) {
                    int64_t best = 0;
                    for (int64_t v = 1; v < V; v++)
                        if (L[t * V + v] > L[t * V + best]) best = v;
                    bool fragile = false;
                    for (const cJSON *fr = cJSON_GetObjectItem(c, "fragile_frames")->child; fr; fr = fr->next)
                        fragile = fragile || cJSON_GetArrayItem(fr, 0)->valueint == t;
                    if (best != want_ids[t] && !fragile) bad++;
                }
                CHECKF(bad == 0, "%s: %lld frames with another argmax", k2, (long long)bad);
            } else CHECKF(0, "%s: tokens and logits of the same length", k2);
            am_tensors_free(o);
            calls++;
        }
    CHECKF(calls == 10, "%d CTC model calls checked", calls);
    if (out) save_roundtrip(m, AM_TASK_CTC, cJSON_GetObjectItem(ml, "save_roundtrip"), in, out);
    am_tensors_free(out);
    am_tensors_free(in);
    am_model_free(m);
done0:
    fixture_close(&f);
}

static void audio_classification(void) {
    fixture f;
    if (!fixture_open(&f, "pipelines_media/audio_classification_wav2vec2")) goto done;
    am_model *m = am_model_from_pretrained(AM_TASK_AUDIO_CLASSIFICATION, f.dir, NULL);
    CHECKF(m && !strcmp(am_model_class_name(m), "Wav2Vec2ForSequenceClassification"), "load: %s", m ? am_model_class_name(m) : am_last_error());
    int calls = 0;
    for (const cJSON *run = m ? cJSON_GetObjectItem(f.cj, "runs")->child : NULL; run; run = run->next)
        for (const cJSON *c = cJSON_GetObjectItem(run, "model_calls")->child; c; c = c->next) {
            char key[256], k2[256];
            const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
            int ci = cJSON_GetObjectItem(c, "call")->valueint;
            snprintf(key, sizeof key, "%s.%d.input_values", rn, ci);
            snprintf(k2, sizeof k2, "%s.%d.logits", rn, ci);
            am_tensors *o = forward_values(m, am_tensors_get(f.exp, key), false); /* no attention mask (case.json) */
            CHECKF(o && am_test_close(k2, am_tensors_get(o, "logits"), am_tensors_get(f.exp, k2), 1e-4, 1e-4), "%s %s", k2, o ? "" : am_last_error());
            am_tensors_free(o);
            calls++;
        }
    CHECKF(calls == 6, "%d classification model calls checked", calls);
    am_model_free(m);
done:
    fixture_close(&f);
}

/* bad inputs get transformers' error or a clear one; training mode runs SpecAugment and LayerDrop */
static void inputs_and_training(void) {
    am_model *m = am_model_from_pretrained(AM_TASK_AUDIO_CLASSIFICATION, am_test_fixture("models/wav2vec2_audiocls"), NULL);
    CHECKF(m != NULL, "load: %s", am_last_error());
    if (!m) return;
    int64_t s1[2] = {1, 5}, s2[2] = {2, 400}, s3[3] = {1, 1, 400}, s4[2] = {1, 400};
    am_tensor *shortv = am_tensor_new(AM_F32, 2, s1), *v2 = am_tensor_new(AM_F32, 2, s2), *v3 = am_tensor_new(AM_F32, 3, s3);
    am_tensor *iv = am_tensor_new(AM_I64, 2, s2), *mk = am_tensor_new(AM_I64, 2, s4);
    float *d = am_tensor_data(v2);
    for (int64_t i = 0; i < 800; i++) d[i] = (float)sin(0.05 * (double)i);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_values", shortv);
    CHECK(am_model_forward(m, in, NULL) == NULL);
    CHECKF(strstr(am_last_error(), "too short") && strstr(am_last_error(), "kernel size 10") && strstr(am_last_error(), "layer 0"), "%s", am_last_error());
    am_tensors_set(in, "input_values", v3);
    CHECK(am_model_forward(m, in, NULL) == NULL);
    CHECKF(strstr(am_last_error(), "2 dimensions"), "%s", am_last_error());
    am_tensors_set(in, "input_values", iv);
    CHECK(am_model_forward(m, in, NULL) == NULL);
    CHECKF(strstr(am_last_error(), "must be a float tensor"), "%s", am_last_error());
    am_tensors_set(in, "input_values", v2);
    am_tensors_set(in, "attention_mask", mk);
    CHECK(am_model_forward(m, in, NULL) == NULL);
    CHECKF(strstr(am_last_error(), "like input_values"), "%s", am_last_error());
    am_tensors *in2 = am_tensors_new();
    am_tensors_set(in2, "input_values", v2);
    am_tensors_set(in2, "input_ids", iv);
    CHECK(am_model_forward(m, in2, NULL) == NULL);
    CHECKF(strstr(am_last_error(), "unexpected keyword argument 'input_ids'"), "%s", am_last_error());
    am_tensors_free(in2);
    in2 = am_tensors_new();
    am_tensors_set(in2, "input_values", v2);
    /* training mode: dropout, SpecAugment (mask_time_prob 0.05, min 2 spans of 10 frames in 19) and
     * LayerDrop draw from the call's stream: finite logits, equal for the same dropout_seed, and not
     * the eval logits */
    am_tensors *ev = am_model_forward(m, in2, NULL);
    am_model_train(m, true);
    am_forward_options fo = am_forward_options_default();
    fo.dropout_seed = 7;
    am_tensors *t1 = am_model_forward(m, in2, &fo), *t2 = am_model_forward(m, in2, &fo);
    CHECKF(ev && t1 && t2, "training forward: %s", am_last_error());
    if (ev && t1 && t2) {
        const float *a = am_tensor_cdata(am_tensors_get(t1, "logits")), *b = am_tensor_cdata(am_tensors_get(t2, "logits"));
        const float *e = am_tensor_cdata(am_tensors_get(ev, "logits"));
        bool same = true, differs = false, finite = true;
        for (int i = 0; i < 6; i++) {
            same = same && a[i] == b[i];
            differs = differs || a[i] != e[i];
            finite = finite && isfinite(a[i]);
        }
        CHECK(same && differs && finite);
    }
    am_model_train(m, false);
    am_tensors_free(ev), am_tensors_free(t1), am_tensors_free(t2);
    am_tensors_free(in2);
    am_tensors_free(in);
    am_tensor_free(shortv), am_tensor_free(v2), am_tensor_free(v3), am_tensor_free(iv), am_tensor_free(mk);
    am_model_free(m);
}

/* use_weighted_layer_sum: layer_weights (missing from the checkpoint, initialised to 1 / layers as
 * transformers does) softmax-weight the hidden states, which the output then always carries; the
 * logits are classifier(masked mean(projector(sum))) recomputed here from those outputs */
static void weighted_layer_sum(void) {
    char dir[4200], p[4400];
    snprintf(dir, sizeof dir, "%s", am_test_fixture("models/wav2vec2_audiocls"));
    snprintf(p, sizeof p, "%s/expected.safetensors", dir);
    am_tensors *exp = am_tensors_load_safetensors(p);
    am_config *cfg = am_config_from_pretrained(dir);
    CHECK(exp && cfg);
    if (!exp || !cfg) goto done;
    CHECK_OK(am_config_set_bool(cfg, "use_weighted_layer_sum", true));
    am_load_options lo = am_load_options_default();
    lo.config = cfg;
    am_model *m = am_model_from_pretrained(AM_TASK_AUDIO_CLASSIFICATION, dir, &lo);
    CHECKF(m != NULL, "load: %s", am_last_error());
    if (!m) goto done;
    const am_loading_info *li = am_model_loading_info(m);
    CHECKF(li->n_missing == 1 && !strcmp(li->missing_keys[0], "layer_weights"), "missing %zu", li->n_missing);
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_values", am_tensors_get(exp, "in.input_values"));
    am_tensors_set(in, "attention_mask", am_tensors_get(exp, "in.attention_mask"));
    am_tensors *out = am_model_forward(m, in, NULL); /* no output_hidden_states asked */
    CHECKF(out != NULL, "forward: %s", am_last_error());
    const am_tensor *h[3] = {NULL, NULL, NULL}, *lg = out ? am_tensors_get(out, "logits") : NULL;
    for (int l = 0; out && l < 3; l++) {
        char n[32];
        snprintf(n, sizeof n, "hidden_states.%d", l);
        h[l] = am_tensors_get(out, n);
        /* the hidden states themselves are those of the plain model */
        snprintf(p, sizeof p, "out.%s", n);
        CHECKF(h[l] && am_test_close(n, h[l], am_tensors_get(exp, p), 1e-4, 1e-4), "%s", n);
    }
    const am_tensor *fm = am_tensors_get(exp, "aux.feature_attention_mask");
    const am_tensor *pw = am_model_get_parameter(m, "projector.weight"), *pb = am_model_get_parameter(m, "projector.bias");
    const am_tensor *cw = am_model_get_parameter(m, "classifier.weight"), *cb = am_model_get_parameter(m, "classifier.bias");
    if (lg && h[0] && h[1] && h[2] && fm && pw && pb && cw && cb) {
        int64_t B = am_tensor_dim(h[0], 0), T = am_tensor_dim(h[0], 1), H = am_tensor_dim(h[0], 2), P = am_tensor_dim(pw, 0), NL = am_tensor_dim(cw, 0);
        const float *W = am_tensor_cdata(pw), *bp = am_tensor_cdata(pb), *C = am_tensor_cdata(cw), *bc = am_tensor_cdata(cb), *got = am_tensor_cdata(lg);
        const int64_t *mk = am_tensor_cdata(fm);
        int bad = 0;
        for (int64_t b = 0; b < B; b++) {
            double pooled[64] = {0};
            int64_t n = 0;
            for (int64_t t = 0; t < T; t++) {
                if (!mk[b * T + t]) continue;
                n++;
                for (int64_t j = 0; j < P && j < 64; j++) {
                    double acc = bp[j];
                    for (int64_t k = 0; k < H; k++) {
                        double x = 0;
                        for (int l = 0; l < 3; l++) x += ((const float *)am_tensor_cdata(h[l]))[(b * T + t) * H + k] / 3.0;
                        acc += W[j * H + k] * x;
                    }
                    pooled[j] += acc;
                }
            }
            for (int64_t c = 0; c < NL; c++) {
                double y = bc[c];
                for (int64_t j = 0; j < P && j < 64; j++) y += C[c * P + j] * pooled[j] / (double)n;
                if (fabs(y - got[b * NL + c]) > 1e-5 + 1e-5 * fabs(y)) bad++;
            }
        }
        CHECKF(bad == 0 && P <= 64, "%d weighted-sum logits differ from the recomputation", bad);
    } else CHECKF(0, "weighted layer sum outputs: %s", am_last_error());
    am_tensors_free(out);
    am_tensors_free(in);
    am_model_free(m);
done:
    am_config_free(cfg);
    am_tensors_free(exp);
}

/* configs the builder refuses, with the message naming the problem */
static void bad_configs(void) {
    static const struct {
        const char *json, *needle;
        am_task task;
    } k[] = {
        {"{\"model_type\": \"wav2vec2\", \"conv_dim\": [4, 4], \"conv_stride\": [2], \"conv_kernel\": [3, 3]}", "`len(config.conv_stride) = 1`",
         AM_TASK_BASE},
        {"{\"model_type\": \"wav2vec2\", \"feat_extract_norm\": \"batch\"}", "one of ['group', 'layer']", AM_TASK_BASE},
        {"{\"model_type\": \"wav2vec2\", \"add_adapter\": true}", "does not support the use of Wav2Vec2 adapters", AM_TASK_AUDIO_CLASSIFICATION},
        {"{\"model_type\": \"wav2vec2\", \"adapter_attn_dim\": 16}", "adapter_attn_dim", AM_TASK_CTC},
        {"{\"model_type\": \"wav2vec2\", \"hidden_size\": 30, \"num_attention_heads\": 4}", "multiple of num_attention_heads", AM_TASK_BASE},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        am_config *c = am_config_from_json(k[i].json, "config.json");
        am_model *m = c ? am_model_from_config(k[i].task, c, 1) : NULL;
        CHECKF(m == NULL && strstr(am_last_error(), k[i].needle) != NULL, "config %zu: %s", i, am_last_error());
        am_model_free(m);
        am_config_free(c);
    }
    /* wav2vec2 is no AutoModelForSequenceClassification in 4.32 */
    am_model *m = am_model_from_pretrained(AM_TASK_SEQUENCE_CLASSIFICATION, am_test_fixture("models/wav2vec2_audiocls"), NULL);
    CHECKF(!m, "wav2vec2 under sequence-classification loaded");
    am_model_free(m);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    asr_ctc();
    audio_classification();
    inputs_and_training();
    weighted_layer_sum();
    bad_configs();
    return 0;
}
