/* tests/test_whisper.c — Whisper beyond the models/whisper_cg fixture case (transformers 4.32):
 *  - fixtures/pipelines_media/asr_whisper_timestamps (a tiny random Whisper with the full 51,865-token
 *    vocabulary and the real 80 x 3000 front end): its model_level references (forward outputs,
 *    stats, loading report, repr, save round trip);
 *  - for it and asr_whisper_tiny_cg: the tokens of every pipeline model call, generated from its
 *    input_features with the call's generate kwargs (Whisper's forced language / task /
 *    <|notimestamps|> ids, suppress_tokens, begin_suppress_tokens; the timestamp processor when
 *    return_timestamps), through the C API and `automodel generate`. The features transformers did
 *    not store (the 22 kHz file and the two 30 s chunks of the long file) come from
 *    fixtures/whisper_features (see its PROVENANCE.md);
 *  - the Whisper generate options: language / task rebuilding forced_decoder_ids, the timestamp
 *    processor's rules on the generated sequence, and the refusals with transformers' messages;
 *  - WhisperModel (the base class) loaded from the head's checkpoint against whisper_cg's hidden states. */
#include "harness.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool same_i64(const am_tensor *got, const int64_t *want, int64_t n) {
    if (!got || am_tensor_dtype(got) != AM_I64 || am_tensor_numel(got) != n) return false;
    return !memcmp(am_tensor_cdata(got), want, (size_t)n * sizeof(int64_t));
}

static void print_i64(const char *what, const am_tensor *t) {
    fprintf(stderr, "%s:", what);
    for (int64_t i = 0; t && i < am_tensor_numel(t); i++) fprintf(stderr, " %lld", (long long)((const int64_t *)am_tensor_cdata(t))[i]);
    fprintf(stderr, "\n");
}

static cJSON *load_case(const char *dir, am_tensors **exp) {
    char p[4400];
    snprintf(p, sizeof p, "%s/case.json", dir);
    char *js = am_test_read_file(p, NULL);
    cJSON *cj = js ? cJSON_Parse(js) : NULL;
    free(js);
    snprintf(p, sizeof p, "%s/expected.safetensors", dir);
    *exp = am_tensors_load_safetensors(p);
    CHECKF(cj && *exp, "%s: case.json and expected.safetensors", dir);
    return cj;
}

/* model_level of asr_whisper_timestamps */
static void model_level(const char *dir, const cJSON *cj, const am_tensors *exp, am_model *m) {
    const cJSON *ml = cJSON_GetObjectItem(cj, "model_level");
    CHECK(ml != NULL);
    if (!ml) return;
    CHECK(!strcmp(am_model_class_name(m), cJSON_GetObjectItem(ml, "loaded_class")->valuestring));
    const cJSON *st = cJSON_GetObjectItem(ml, "stats");
    CHECK(am_model_num_parameters(m, false, false) == (int64_t)cJSON_GetObjectItem(st, "num_parameters")->valuedouble);
    CHECK(am_model_num_parameters(m, true, false) == (int64_t)cJSON_GetObjectItem(st, "num_parameters_only_trainable")->valuedouble);
    CHECKF(am_model_num_parameters(m, false, true) == (int64_t)cJSON_GetObjectItem(st, "num_parameters_exclude_embeddings")->valuedouble,
           "exclude_embeddings %lld", (long long)am_model_num_parameters(m, false, true));
    CHECK(am_model_memory_footprint(m, true) == (int64_t)cJSON_GetObjectItem(st, "memory_footprint")->valuedouble);
    CHECK(am_model_memory_footprint(m, false) == (int64_t)cJSON_GetObjectItem(st, "memory_footprint_no_buffers")->valuedouble);
    CHECK(!strcmp(am_dtype_name(am_model_dtype(m)), cJSON_GetObjectItem(st, "dtype")->valuestring));
    CHECK(!am_model_is_training(m));
    const am_loading_info *li = am_model_loading_info(m);
    const cJSON *lj = cJSON_GetObjectItem(ml, "loading_info");
    CHECK((int)li->n_missing == cJSON_GetArraySize(cJSON_GetObjectItem(lj, "missing_keys")));
    CHECK((int)li->n_unexpected == cJSON_GetArraySize(cJSON_GetObjectItem(lj, "unexpected_keys")));
    CHECK((int)li->n_mismatched == cJSON_GetArraySize(cJSON_GetObjectItem(lj, "mismatched_keys")));
    char p[4400];
    char *repr = am_model_repr(m);
    snprintf(p, sizeof p, "%s/%s", dir, cJSON_GetObjectItem(ml, "repr_file")->valuestring);
    char *want = am_test_read_file(p, NULL);
    size_t rl = repr ? strlen(repr) : 0;
    CHECKF(repr && want && !strncmp(repr, want, rl) && (!strcmp(want + rl, "\n") || !want[rl]), "repr:\n%s", repr);
    am_free(repr);
    free(want);
    /* forward on model.in.* (input_features stored once, as the run it is the same as) */
    const cJSON *outs = cJSON_GetObjectItem(ml, "outputs");
    am_tensors *in = am_tensors_new();
    const cJSON *fin = cJSON_GetObjectItem(outs, "model.in.input_features");
    const char *fkey = fin && cJSON_GetObjectItem(fin, "same_as") ? cJSON_GetObjectItem(fin, "same_as")->valuestring : "model.in.input_features";
    am_tensors_set(in, "input_features", am_tensors_get(exp, fkey));
    am_tensors_set(in, "decoder_input_ids", am_tensors_get(exp, "model.in.decoder_input_ids"));
    am_forward_options fo = am_forward_options_default();
    fo.output_hidden_states = true;
    am_tensors *out = am_model_forward(m, in, &fo);
    CHECKF(out != NULL, "forward: %s", am_last_error());
    am_tensor *last = NULL;
    if (out) { /* logits_last_position = logits[:, -1:] */
        const am_tensor *lg = am_tensors_get(out, "logits");
        int64_t B = am_tensor_dim(lg, 0), T = am_tensor_dim(lg, 1), V = am_tensor_dim(lg, 2);
        last = am_tensor_new(AM_F32, 3, (int64_t[]){B, 1, V});
        for (int64_t b = 0; b < B; b++)
            memcpy((float *)am_tensor_data(last) + b * V, (const float *)am_tensor_cdata(lg) + (b * T + T - 1) * V, (size_t)V * sizeof(float));
    }
    int checked = 0;
    for (const cJSON *o = outs->child; out && o; o = o->next) {
        if (strncmp(o->string, "model.out.", 10)) continue;
        const char *name = o->string + 10;
        const am_tensor *got = !strcmp(name, "logits_last_position") ? last : am_tensors_get(out, name);
        CHECKF(am_test_close(o->string, got, am_tensors_get(exp, o->string), cJSON_GetObjectItem(o, "atol")->valuedouble,
                         cJSON_GetObjectItem(o, "rtol")->valuedouble),
               "model_level %s", o->string);
        checked++;
    }
    CHECK(checked == 4);
    am_test_cli_model_level(dir, "speech-seq2seq", in, ml, exp); /* the same references through `automodel` */
    /* save round trip: the files, config keys, and a reload reproduces the outputs exactly */
    char tmpl[] = "/tmp/am_test_whisper_XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL);
    if (tmp && out) {
        CHECK_OK(am_model_save_pretrained(m, tmp, NULL));
        am_test_check_saved(tmp, cJSON_GetObjectItem(ml, "save_roundtrip"));
        /* the checkpoint's generation config is written back as loaded (lang_to_id, no_timestamps_token_id ...) */
        snprintf(p, sizeof p, "%s/generation_config.json", tmp);
        char *gs = am_test_read_file(p, NULL);
        snprintf(p, sizeof p, "%s/generation_config.json", dir);
        char *gw = am_test_read_file(p, NULL);
        cJSON *gsj = gs ? cJSON_Parse(gs) : NULL, *gwj = gw ? cJSON_Parse(gw) : NULL;
        CHECKF(gsj && gwj && cJSON_Compare(gsj, gwj, true), "saved generation_config.json equals the loaded one");
        cJSON_Delete(gsj);
        cJSON_Delete(gwj);
        free(gs);
        free(gw);
        am_model *r = am_model_from_pretrained(AM_TASK_SPEECH_SEQ2SEQ, tmp, NULL);
        CHECKF(r != NULL, "reload: %s", am_last_error());
        am_tensors *o2 = r ? am_model_forward(r, in, &fo) : NULL;
        for (size_t i = 0; o2 && i < am_tensors_count(out); i++) {
            const am_tensor *a = am_tensors_at(out, i), *b = am_tensors_get(o2, am_tensors_name(out, i));
            CHECKF(b && am_tensor_numel(a) == am_tensor_numel(b) && !memcmp(am_tensor_cdata(a), am_tensor_cdata(b), (size_t)am_tensor_numel(a) * sizeof(float)),
                   "reload reproduces %s exactly", am_tensors_name(out, i));
        }
        am_tensors_free(o2);
        am_model_free(r);
        snprintf(p, sizeof p, "rm -rf %s", tmp);
        CHECK(system(p) == 0);
    }
    am_tensor_free(last);
    am_tensors_free(out);
    am_tensors_free(in);
}

/* the tokens of every model call whose input_features are stored; returns how many were checked */
static int model_calls(const char *dir, const cJSON *cj, const am_tensors *exp, const am_tensors *derived, am_model *m, int *not_stored) {
    const char *cli = getenv("AM_CLI");
    int n = 0;
    for (const cJSON *run = cJSON_GetObjectItem(cj, "runs")->child; run; run = run->next)
        for (const cJSON *c = cJSON_GetObjectItem(run, "model_calls")->child; c; c = c->next) {
            char fk[256], tk[256];
            const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
            int ci = cJSON_GetObjectItem(c, "call")->valueint;
            snprintf(fk, sizeof fk, "%s.%d.input_features", rn, ci);
            snprintf(tk, sizeof tk, "%s.%d.tokens", rn, ci);
            const am_tensor *feat = am_tensors_get(exp, fk), *want = am_tensors_get(exp, tk);
            if (!feat && derived) feat = am_tensors_get(derived, fk);
            CHECKF(want != NULL, "%s stored", tk);
            if (!feat || !want) {
                ++*not_stored;
                continue;
            }
            am_generate_options o = am_generate_options_default();
            char flags[256] = "";
            const cJSON *kw = cJSON_GetObjectItem(c, "generate_kwargs");
            for (const cJSON *k = kw ? kw->child : NULL; k; k = k->next) {
                if (!strcmp(k->string, "max_new_tokens")) {
                    o.max_new_tokens = (int64_t)k->valuedouble;
                    snprintf(flags + strlen(flags), sizeof flags - strlen(flags), " --max-new-tokens %lld", (long long)o.max_new_tokens);
                } else if (!strcmp(k->string, "return_timestamps")) {
                    o.return_timestamps = cJSON_IsTrue(k);
                    strncat(flags, cJSON_IsTrue(k) ? " --return-timestamps" : " --no-return-timestamps", sizeof flags - strlen(flags) - 1);
                } else CHECKF(0, "%s: generate kwarg %s not handled by the test", tk, k->string);
            }
            am_tensors *in = am_tensors_new();
            am_tensors_set(in, "input_features", (am_tensor *)feat);
            am_tensors *out = am_model_generate(m, in, &o);
            CHECKF(out != NULL, "%s: %s", tk, am_last_error());
            const am_tensor *seq = out ? am_tensors_get(out, "sequences") : NULL;
            bool ok = same_i64(seq, am_tensor_cdata(want), am_tensor_numel(want));
            if (!ok) print_i64("got ", seq), print_i64("want", want);
            CHECKF(ok, "%s: generated tokens", tk);
            am_tensors_free(out);
            if (cli) { /* the same through `automodel generate --inputs` */
                char tmpl[] = "/tmp/am_test_wgen_XXXXXX";
                char *tmp = mkdtemp(tmpl);
                CHECK(tmp != NULL);
                if (tmp) {
                    char ip[4400], op[4400], cmd[13500];
                    snprintf(ip, sizeof ip, "%s/in.safetensors", tmp);
                    snprintf(op, sizeof op, "%s/out.safetensors", tmp);
                    CHECK_OK(am_tensors_save_safetensors(in, ip));
                    snprintf(cmd, sizeof cmd, "%s generate %s --inputs %s --output %s%s", cli, dir, ip, op, flags);
                    int rc = am_test_run(cmd, NULL);
                    CHECKF(rc == 0, "CLI: %s", cmd);
                    am_tensors *co = rc == 0 ? am_tensors_load_safetensors(op) : NULL;
                    CHECKF(co && same_i64(am_tensors_get(co, "sequences"), am_tensor_cdata(want), am_tensor_numel(want)), "CLI %s: generated tokens", tk);
                    am_tensors_free(co);
                    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
                    CHECK(system(cmd) == 0);
                }
            }
            am_tensors_free(in);
            n++;
        }
    return n;
}

/* language / task / timestamps on the full-vocabulary model, from the stored 30 s features */
static void options(am_model *m, const am_tensor *feat) {
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_features", (am_tensor *)feat);
    am_generate_options o = am_generate_options_default();
    o.max_new_tokens = 6;
    o.language = "French";
    o.task = "translate";
    am_tensors *out = am_model_generate(m, in, &o);
    CHECKF(out != NULL, "language/task: %s", am_last_error());
    const int64_t *s = out ? am_tensor_cdata(am_tensors_get(out, "sequences")) : NULL;
    /* <|startoftranscript|> <|fr|> <|translate|> <|notimestamps|> */
    CHECKF(s && s[0] == 50258 && s[1] == 50265 && s[2] == 50358 && s[3] == 50363, "forced language / task / notimestamps ids");
    am_tensors_free(out);
    o.language = "fr";
    o.task = NULL;
    o.return_timestamps = 1;
    o.max_new_tokens = 16;
    out = am_model_generate(m, in, &o);
    CHECKF(out != NULL, "language + timestamps: %s", am_last_error());
    const am_tensor *st = out ? am_tensors_get(out, "sequences") : NULL;
    s = st ? am_tensor_cdata(st) : NULL;
    /* <|fr|> <|transcribe|> (the default task), no <|notimestamps|>: the first timestamp <|0.00|> is forced at 3 */
    CHECKF(s && s[1] == 50265 && s[2] == 50359 && s[3] == 50364, "timestamps: forced ids then <|0.00|>");
    /* timestamps pair up after the first: two timestamps are followed by text, a lone one by a timestamp or eos */
    for (int64_t i = 5; s && i < am_tensor_dim(st, 1); i++) {
        bool last = s[i - 1] >= 50364, pen = i - 2 < 4 || s[i - 2] >= 50364;
        if (last && pen) CHECKF(s[i] < 50364, "position %lld: text after a timestamp pair", (long long)i);
        else if (last) CHECKF(s[i] >= 50257, "position %lld: a timestamp (or eos) after a lone timestamp", (long long)i);
        CHECKF(s[i] != 50363, "no <|notimestamps|> when timestamps are asked");
    }
    am_tensors_free(out);
    /* refusals, with transformers' messages */
    o = am_generate_options_default();
    o.max_new_tokens = 2;
    o.language = "klingon";
    CHECK(am_model_generate(m, in, &o) == NULL && strstr(am_last_error(), "Unsupported language: klingon. Language should be one of: ['english', 'chinese'"));
    o.language = "xx";
    CHECK(am_model_generate(m, in, &o) == NULL && strstr(am_last_error(), "Language should be one of: ['en', 'zh'"));
    o.language = NULL;
    o.task = "summarize";
    CHECK(am_model_generate(m, in, &o) == NULL && strstr(am_last_error(), "The `summarize`task is not supported"));
    o.task = "transcribe";
    o.is_multilingual = 0;
    CHECK(am_model_generate(m, in, &o) == NULL && strstr(am_last_error(), "Cannot specify `task` or `language` for an English-only model"));
    am_tensors_free(in);
}

int am_test_main(int argc, char **argv) {
    (void)argc, (void)argv;
    int not_stored = 0, calls = 0;
    char dir[4200];
    am_tensors *exp = NULL;
    /* the full-vocabulary checkpoint */
    snprintf(dir, sizeof dir, "%s", am_test_fixture("pipelines_media/asr_whisper_timestamps"));
    cJSON *cj = load_case(dir, &exp);
    am_model *m = am_model_from_pretrained(AM_TASK_SPEECH_SEQ2SEQ, dir, NULL);
    CHECKF(m != NULL, "load %s: %s", dir, am_last_error());
    if (m && cj && exp) {
        model_level(dir, cj, exp, m);
        /* the features transformers did not store (whisper_features/PROVENANCE.md); the no-timestamps
         * long run reads the same two chunks */
        char fp[4400];
        snprintf(fp, sizeof fp, "%s", am_test_fixture("whisper_features/asr_whisper_timestamps_features.safetensors"));
        am_tensors *derived = am_tensors_load_safetensors(fp);
        CHECKF(derived != NULL, "%s: %s", fp, am_last_error());
        for (int k = 0; derived && k < 2; k++) {
            char a[96], b[96];
            snprintf(a, sizeof a, "long_chunk30.%d.input_features", k);
            snprintf(b, sizeof b, "long_chunk30_timestamps.%d.input_features", k);
            am_tensors_set(derived, a, am_tensors_get(derived, b));
        }
        calls += model_calls(dir, cj, exp, derived, m, &not_stored);
        am_tensors_free(derived);
        options(m, am_tensors_get(exp, "wav_no_timestamps.0.input_features"));
    }
    am_model_free(m);
    am_tensors_free(exp);
    cJSON_Delete(cj);
    /* whisper_cg with the real tokenizer: every call's features are stored */
    snprintf(dir, sizeof dir, "%s", am_test_fixture("pipelines_media/asr_whisper_tiny_cg"));
    cj = load_case(dir, &exp);
    m = am_model_from_pretrained(AM_TASK_SPEECH_SEQ2SEQ, dir, NULL);
    CHECKF(m != NULL, "load %s: %s", dir, am_last_error());
    int before = calls;
    if (m && cj && exp) calls += model_calls(dir, cj, exp, NULL, m, &not_stored);
    CHECKF(calls - before == 12, "asr_whisper_tiny_cg: %d model calls checked", calls - before);
    /* Whisper options on a model without a full generation config, and on other models */
    am_tensors *in = am_tensors_new();
    am_tensors_set(in, "input_features", am_tensors_get(exp, "wav_max_new_10.0.input_features"));
    am_generate_options o = am_generate_options_default();
    { /* generate takes the feature extractor's attention_mask beside input_features and ignores it, as 4.32 does */
        am_tensor *fm = am_tensor_new(AM_I64, 2, (int64_t[]){1, 40});
        for (int64_t i = 0; i < 40; i++) ((int64_t *)am_tensor_data(fm))[i] = i < 20;
        am_tensors_set(in, "attention_mask", fm);
        am_tensor_free(fm);
        o.max_new_tokens = 10;
        am_tensors *mo = m ? am_model_generate(m, in, &o) : NULL;
        const am_tensor *want = am_tensors_get(exp, "wav_max_new_10.0.tokens");
        CHECKF(mo && want && same_i64(am_tensors_get(mo, "sequences"), am_tensor_cdata(want), am_tensor_numel(want)), "generate with attention_mask: %s",
               mo ? "tokens differ" : am_last_error());
        am_tensors_free(mo);
        o = am_generate_options_default();
    }
    o.return_timestamps = 1;
    CHECK(m && am_model_generate(m, in, &o) == NULL && strstr(am_last_error(), "You are trying to return timestamps, but the generation config is not properly set"));
    o = am_generate_options_default();
    o.language = "en";
    CHECK(m && am_model_generate(m, in, &o) == NULL && strstr(am_last_error(), "not compatible with the `language` argument"));
    /* input_features of the wrong length: transformers' ValueError */
    am_tensor *short_f = am_tensor_new(AM_F32, 3, (int64_t[]){1, 16, 30});
    am_tensors *bad = am_tensors_new();
    am_tensors_set(bad, "input_features", short_f);
    am_tensor *dids = am_tensor_new(AM_I64, 2, (int64_t[]){1, 1});
    am_tensors_set(bad, "decoder_input_ids", dids);
    am_tensor_free(dids);
    CHECK(m && am_model_forward(m, bad, NULL) == NULL &&
          strstr(am_last_error(), "Whisper expects the mel input features to be of length 40, but found 30. Make sure to pad the input mel features to 40."));
    am_tensor_free(short_f);
    am_tensors_free(bad);
    am_tensors_free(in);
    am_model_free(m);
    am_tensors_free(exp);
    cJSON_Delete(cj);
    /* WhisperModel (the base) from the head's checkpoint: last_hidden_state is the decoder's last hidden state */
    char cg[4200], ep[4400];
    snprintf(cg, sizeof cg, "%s", am_test_fixture("models/whisper_cg"));
    snprintf(ep, sizeof ep, "%s/expected.safetensors", cg);
    am_tensors *cge = am_tensors_load_safetensors(ep);
    am_model *base = am_model_from_pretrained(AM_TASK_BASE, cg, NULL);
    CHECKF(base && cge && !strcmp(am_model_class_name(base), "WhisperModel"), "WhisperModel: %s", am_last_error());
    if (base && cge) {
        am_tensors *bin = am_tensors_new();
        am_tensors_set(bin, "input_features", am_tensors_get(cge, "in.input_features"));
        am_tensors_set(bin, "decoder_input_ids", am_tensors_get(cge, "in.decoder_input_ids"));
        am_tensors_set(bin, "decoder_attention_mask", am_tensors_get(cge, "in.decoder_attention_mask"));
        am_tensor *am = am_tensor_new(AM_I64, 2, (int64_t[]){2, 40}); /* the extractor's mask: accepted, unused */
        am_tensors_set(bin, "attention_mask", am);
        am_tensor_free(am);
        am_tensors *bo = am_model_forward(base, bin, NULL);
        CHECKF(bo != NULL, "WhisperModel forward: %s", am_last_error());
        CHECK(bo && !am_tensors_get(bo, "logits"));
        /* rows past the decoder mask are compared too: the reference's hidden states cover them */
        CHECK(bo && am_test_close("last_hidden_state", am_tensors_get(bo, "last_hidden_state"), am_tensors_get(cge, "out.decoder_hidden_states.2"), 1e-4, 1e-4));
        CHECK(bo && am_test_close("encoder_last_hidden_state", am_tensors_get(bo, "encoder_last_hidden_state"), am_tensors_get(cge, "out.encoder_last_hidden_state"),
                              1e-4, 1e-4));
        am_tensors_free(bo);
        am_tensors_free(bin);
    }
    am_model_free(base);
    am_tensors_free(cge);
    fprintf(stderr, "whisper: %d model calls' tokens checked, %d calls without input_features\n", calls, not_stored);
    CHECK(calls == 18 && not_stored == 0);
    return 0;
}
