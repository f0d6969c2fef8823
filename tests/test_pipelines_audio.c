/* tests/test_pipelines_audio.c — the audio pipelines against transformers 4.32, on every audio case
 * of fixtures/pipelines_media:
 *  1. the decoders alone: each ASR run's recorded model-call tokens and strides (case.json) through
 *     the CTC post-processing (stride trimming, Wav2Vec2CTCTokenizer decode, char / word offsets)
 *     and WhisperTokenizer._decode_asr (chunk merging, timestamps) give the recorded result exactly;
 *  2. every run end to end, through `automodel pipeline TASK MODEL FILE... --json --KWARG VALUE` and
 *     through am_pipeline_call: labels and order exact, scores within 1e-4, transcripts and
 *     timestamps equal;
 *  3. refusals: kwargs the task does not take, timestamps a model type cannot give. */
#include "harness.h"
#include "pipeline_cases.h"
#include "pipelines/pipeline.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *g_cli;

static cJSON *load_json(const char *rel) {
    char *text = am_test_read_file(am_test_fixture(rel), NULL);
    cJSON *c = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECKF(c != NULL, "%s", rel);
    return c;
}

static void check_json(const char *what, const char *got_text, const cJSON *want) {
    cJSON *got = got_text ? cJSON_Parse(got_text) : NULL;
    char why[768] = "";
    CHECKF(got && am_test_json_same(got, want, NULL, why, sizeof why), "%s: %s\n got  %.600s", what, why, got_text ? got_text : "(null)");
    cJSON_Delete(got);
}

/* ---- 1. the decoders on the recorded tokens ---- */

/* the model calls of input `which` of a run (a list run has one call per input, unchunked) */
static size_t calls_of(const cJSON *run, size_t which, size_t n_inputs, am__asr_call *calls, int64_t **bufs, size_t max) {
    const cJSON *mc;
    size_t k = 0, idx = 0;
    cJSON_ArrayForEach(mc, cJSON_GetObjectItem(run, "model_calls")) {
        size_t input = n_inputs > 1 ? idx : 0;
        idx++;
        if (input != which || k >= max) continue;
        const cJSON *tok = cJSON_GetObjectItem(mc, "tokens");
        if (cJSON_IsArray(cJSON_GetArrayItem(tok, 0))) tok = cJSON_GetArrayItem(tok, 0);
        int nt = cJSON_GetArraySize(tok);
        bufs[k] = malloc((nt ? nt : 1) * sizeof(int64_t));
        for (int i = 0; i < nt; i++) bufs[k][i] = (int64_t)cJSON_GetArrayItem(tok, i)->valuedouble;
        calls[k].tokens = bufs[k];
        calls[k].n = (size_t)nt;
        const cJSON *st = cJSON_GetObjectItem(mc, "stride");
        calls[k].has_stride = cJSON_IsArray(st);
        for (int i = 0; calls[k].has_stride && i < 3; i++) calls[k].stride[i] = (int64_t)cJSON_GetArrayItem(st, i)->valuedouble;
        k++;
    }
    return k;
}

static int64_t ctc_ratio(const char *case_name) {
    char rel[256];
    snprintf(rel, sizeof rel, "pipelines_media/%s/config.json", case_name);
    cJSON *cfg = load_json(rel);
    int64_t r = 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(cfg, "conv_stride")) r *= (int64_t)it->valuedouble;
    cJSON_Delete(cfg);
    return r;
}

static void check_decoders(const char *name) {
    cJSON *c = am_test_load_case(name);
    if (!c) return;
    char rel[256];
    snprintf(rel, sizeof rel, "pipelines_media/%s", name);
    am_tokenizer *tok = am_tokenizer_from_pretrained(am_test_fixture(rel));
    CHECKF(tok != NULL, "%s: %s", name, am_last_error());
    bool ctc = !strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "pipeline_construction"), "asr_type")->valuestring, "ctc");
    int64_t ratio = ctc ? ctc_ratio(name) : 0;
    snprintf(rel, sizeof rel, "pipelines_media/%s/preprocessor_config.json", name);
    cJSON *pp = load_json(rel);
    snprintf(rel, sizeof rel, "pipelines_media/%s/config.json", name);
    cJSON *cfg = load_json(rel);
    double chunk_length = pp && cJSON_GetObjectItem(pp, "chunk_length") ? cJSON_GetObjectItem(pp, "chunk_length")->valuedouble : 30;
    double msp = cfg && cJSON_GetObjectItem(cfg, "max_source_positions") ? cJSON_GetObjectItem(cfg, "max_source_positions")->valuedouble : 1500;
    const cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(c, "runs")) {
        if (!tok) break;
        const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
        const cJSON *in = cJSON_GetObjectItem(run, "inputs");
        size_t n_in = cJSON_IsArray(in) ? (size_t)cJSON_GetArraySize(in) : 1;
        const cJSON *kw = cJSON_GetObjectItem(run, "call_kwargs");
        const cJSON *rt = cJSON_GetObjectItem(kw, "return_timestamps");
        int ts = !rt ? 0 : cJSON_IsTrue(rt) ? 1 : cJSON_IsString(rt) && !strcmp(rt->valuestring, "char") ? 2 : cJSON_IsString(rt) ? 3 : 0;
        const cJSON *want = cJSON_GetObjectItem(run, "result");
        for (size_t i = 0; i < n_in; i++) {
            am__asr_call calls[16];
            int64_t *bufs[16];
            size_t nc = calls_of(run, i, n_in, calls, bufs, 16);
            am_pipeline_result *r = NULL;
            am_status s = ctc ? am__asr_ctc_post(tok, ratio, 16000, calls, nc, ts, &r)
                              : am__asr_whisper_post(tok, 16000, chunk_length / msp, calls, nc, ts == 1, false, &r);
            CHECKF(s == AM_OK, "%s/%s: %s", name, rn, am_last_error());
            char *j = r ? am_pipeline_result_json(r) : NULL;
            char what[256];
            snprintf(what, sizeof what, "%s/%s input %zu (decoders on the recorded tokens)", name, rn, i);
            check_json(what, j, n_in > 1 ? cJSON_GetArrayItem(want, (int)i) : want);
            free(j);
            am_pipeline_result_free(r);
            for (size_t k = 0; k < nc; k++) free(bufs[k]);
        }
    }
    am_tokenizer_free(tok);
    cJSON_Delete(pp);
    cJSON_Delete(cfg);
    cJSON_Delete(c);
}

/* return_language (no fixture records it): tokens as Whisper generates them, with <|en|>; every chunk
 * is {"language": "english", "timestamp", "text"} (timestamp tokens split chunks either way; without
 * return_timestamps the timestamps are dropped from them), the last one open-ended. */
static void check_whisper_language(void) {
    am_tokenizer *t = am_tokenizer_from_pretrained(am_test_fixture("pipelines_media/asr_whisper_timestamps"));
    CHECKF(t != NULL, "%s", am_last_error());
    if (!t) return;
    static const int64_t toks[] = {50258, 50259, 50359, 50364, 50403, 36596, 50940, 50940, 37430};
    am__asr_call call = {toks, sizeof toks / sizeof toks[0], false, {0, 0, 0}};
    for (int ts = 0; ts < 2; ts++) {
        am_pipeline_result *r = NULL;
        CHECK_OK(am__asr_whisper_post(t, 16000, 0.02, &call, 1, ts, true, &r));
        char *j = r ? am_pipeline_result_json(r) : NULL;
        const char *want = ts ? "{\"text\": \"igner\u7fa9\", \"chunks\": [{\"language\": \"english\", \"timestamp\": [0.0, 0.78], \"text\": \"\"}, "
                                "{\"language\": \"english\", \"timestamp\": [11.52, null], \"text\": \"igner\u7fa9\"}]}"
                              : "{\"text\": \"igner\u7fa9\", \"chunks\": [{\"language\": \"english\", \"text\": \"\"}, "
                                "{\"language\": \"english\", \"text\": \"igner\u7fa9\"}]}";
        cJSON *w = cJSON_Parse(want);
        check_json(ts ? "return_language with timestamps" : "return_language", j, w);
        cJSON_Delete(w);
        free(j);
        am_pipeline_result_free(r);
    }
    am_tokenizer_free(t);
}

/* The CTC tokenizer on its own: decode rules, offsets, refusals. */
static void check_ctc_tokenizer(void) {
    am_tokenizer *t = am_tokenizer_from_pretrained(am_test_fixture("pipelines_media/asr_ctc_wav2vec2"));
    CHECKF(t != NULL, "%s", am_last_error());
    if (!t) return;
    /* <pad>=0 |=4 E=5 T=6 A=7 H=11 S=12; "THE THE" spelled with repeats and blanks */
    int32_t ids[] = {0, 6, 6, 11, 0, 5, 4, 4, 6, 0, 11, 5, 5, 0};
    char *s = am_tokenizer_decode(t, ids, sizeof ids / sizeof ids[0], NULL);
    CHECKF(s && !strcmp(s, "THE THE"), "%s", s ? s : am_last_error());
    am_free(s);
    int32_t dbl[] = {5, 0, 5, 4, 0};
    s = am_tokenizer_decode(t, dbl, 5, NULL); /* a blank separates a doubled letter */
    CHECKF(s && !strcmp(s, "EE"), "%s", s ? s : "");
    am_free(s);
    am_decode_options o = am_decode_options_default();
    o.skip_special_tokens = true; /* the blank is special: skipped before grouping, so E E merge */
    s = am_tokenizer_decode(t, dbl, 5, &o);
    CHECKF(s && !strcmp(s, "E"), "%s", s ? s : "");
    am_free(s);
    am_encoding *e = am_tokenizer_encode(t, "THE CAT", NULL, NULL);
    CHECK(e != NULL);
    if (e) {
        CHECK(am_encoding_len(e) == 7);
        CHECK(am_encoding_ids(e)[0] == 6 && am_encoding_ids(e)[3] == 4);
        am_encoding_free(e);
    }
    am_tokenizer_free(t);
}

/* WhisperTokenizer from the slow files (vocab.json, merges.txt, added_tokens.json) encodes and
 * decodes as the whisper-tiny tokenizer.json (the same tokenizer, per the fixtures' README). */
static void check_whisper_slow_files(void) {
    am_tokenizer *slow = am_tokenizer_from_pretrained(am_test_fixture("pipelines_media/asr_whisper_timestamps"));
    am_tokenizer *fast = am_tokenizer_from_pretrained(am_test_fixture("tokenizers/whisper-tiny"));
    CHECKF(slow && fast, "%s", am_last_error());
    if (slow && fast) {
        CHECK(am_tokenizer_vocab_size(slow) == am_tokenizer_vocab_size(fast));
        CHECK(am_tokenizer_token_to_id(slow, "<|notimestamps|>") == 50363 && am_tokenizer_token_to_id(slow, "<|30.00|>") == 51864);
        static const char *const texts[] = {"Hello world", " leading, space's 123", "naïve café — 你好 😀", "<|en|> tokens<|0.00|>", ""};
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            am_encoding *a = am_tokenizer_encode(slow, texts[i], NULL, NULL), *b = am_tokenizer_encode(fast, texts[i], NULL, NULL);
            CHECKF(a && b && am_encoding_len(a) == am_encoding_len(b) &&
                       !memcmp(am_encoding_ids(a), am_encoding_ids(b), am_encoding_len(a) * sizeof(int32_t)),
                   "'%s': the slow files encode differently", texts[i]);
            if (a) {
                am_decode_options o = am_decode_options_default();
                o.skip_special_tokens = true;
                char *x = am_tokenizer_decode(slow, am_encoding_ids(a), am_encoding_len(a), &o);
                char *y = am_tokenizer_decode(fast, am_encoding_ids(a), am_encoding_len(a), &o);
                CHECKF(x && y && !strcmp(x, y), "'%s': decoded '%s' vs '%s'", texts[i], x ? x : "", y ? y : "");
                am_free(x);
                am_free(y);
            }
            am_encoding_free(a);
            am_encoding_free(b);
        }
    }
    am_tokenizer_free(slow);
    am_tokenizer_free(fast);
}

/* ---- 2. end to end ---- */

static void check_cli_run(const char *name, const char *task, const cJSON *run) {
    const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
    char *out = NULL;
    int rc = am_test_cli_pipeline(g_cli, name, task, run, &out);
    char what[256];
    snprintf(what, sizeof what, "%s/%s (CLI, rc %d)", name, rn, rc);
    CHECKF(rc == 0, "%s", what);
    check_json(what, out, cJSON_GetObjectItem(run, "result"));
    free(out);
}

static void check_api_case(const char *name, am_task task, const cJSON *c) {
    char rel[256];
    snprintf(rel, sizeof rel, "pipelines_media/%s", name);
    am_pipeline *p = am_pipeline_new(task, am_test_fixture(rel), NULL);
    CHECKF(p != NULL, "%s: %s", name, am_last_error());
    if (!p) return;
    const cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(c, "runs")) {
        const char *rn = cJSON_GetObjectItem(run, "name")->valuestring;
        char *paths[8];
        size_t n = am_test_run_inputs(run, paths, 8);
        char *kw = cJSON_PrintUnformatted(cJSON_GetObjectItem(run, "call_kwargs"));
        am_pipeline_result *res[8] = {0};
        CHECK_OK(am_pipeline_call(p, n, (const char *const *)paths, kw, res));
        const cJSON *in = cJSON_GetObjectItem(run, "inputs");
        char what[256];
        snprintf(what, sizeof what, "%s/%s (C API)", name, rn);
        if (cJSON_IsArray(in)) {
            char *j = am_pipeline_results_json((const am_pipeline_result *const *)res, n);
            check_json(what, j, cJSON_GetObjectItem(run, "result"));
            free(j);
        } else if (res[0]) {
            char *j = am_pipeline_result_json(res[0]);
            check_json(what, j, cJSON_GetObjectItem(run, "result"));
            free(j);
            /* the typed accessors agree with the JSON */
            if (task == AM_TASK_SPEECH_SEQ2SEQ) {
                const cJSON *want = cJSON_GetObjectItem(run, "result");
                const char *txt = am_pipeline_result_text(res[0]);
                CHECKF(txt && !strcmp(txt, cJSON_GetObjectItem(want, "text")->valuestring), "%s: text", what);
                const cJSON *ch = cJSON_GetObjectItem(want, "chunks");
                CHECK(!ch == !am_pipeline_result_chunks(res[0]));
                if (ch) CHECK(am_pipeline_result_count(res[0]) == (size_t)cJSON_GetArraySize(ch));
            } else {
                CHECK(am_pipeline_result_labels(res[0]) != NULL);
            }
        }
        for (size_t i = 0; i < n; i++) {
            am_pipeline_result_free(res[i]);
            free(paths[i]);
        }
        free(kw);
    }
    am_pipeline_free(p);
}

static void check_case(const char *name, const char *task_name, am_task task) {
    cJSON *c = am_test_load_case(name);
    if (!c) return;
    const cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(c, "runs")) check_cli_run(name, task_name, run);
    check_api_case(name, task, c);
    cJSON_Delete(c);
}

/* ---- 3. refusals ---- */

static void check_refusals(void) {
    am_pipeline *p = am_pipeline_new(AM_TASK_SPEECH_SEQ2SEQ, am_test_fixture("pipelines_media/asr_ctc_wav2vec2"), NULL);
    CHECKF(p != NULL, "%s", am_last_error());
    if (p) {
        const char *in[1] = {am_test_fixture("media/aud_speech_e_16k.flac")};
        am_pipeline_result *r[1] = {0};
        CHECK(am_pipeline_call(p, 1, in, "{\"return_timestamps\": true}", r) != AM_OK && strstr(am_last_error(), "char"));
        CHECK(am_pipeline_call(p, 1, in, "{\"top_k\": 3}", r) != AM_OK && strstr(am_last_error(), "top_k"));
        CHECK(am_pipeline_call(p, 1, in, "{\"chunk_length_s\": \"ten\"}", r) != AM_OK && strstr(am_last_error(), "chunk_length_s"));
        CHECK(am_pipeline_call(p, 1, in, "{\"chunk_length_s\": 1.0, \"stride_length_s\": 0.6}", r) != AM_OK &&
              strstr(am_last_error(), "Chunk length must be superior to stride length"));
        am_pipeline_free(p);
    }
    p = am_pipeline_new(AM_TASK_SPEECH_SEQ2SEQ, am_test_fixture("pipelines_media/asr_whisper_tiny_cg"), NULL);
    CHECKF(p != NULL, "%s", am_last_error());
    if (p) {
        const char *in[1] = {am_test_fixture("media/aud_speech_e_16k.flac")};
        am_pipeline_result *r[1] = {0};
        CHECK(am_pipeline_call(p, 1, in, "{\"return_timestamps\": \"char\"}", r) != AM_OK && strstr(am_last_error(), "Whisper cannot return `char`"));
        CHECK(am_pipeline_call(p, 1, in, "{\"return_timestamps\": \"word\"}", r) != AM_OK && strstr(am_last_error(), "not implemented"));
        am_pipeline_free(p);
    }
    /* a broken audio file is that input's error, not a crash */
    p = am_pipeline_new(AM_TASK_AUDIO_CLASSIFICATION, am_test_fixture("pipelines_media/audio_classification_wav2vec2"), NULL);
    CHECKF(p != NULL, "%s", am_last_error());
    if (p) {
        const char *in[1] = {am_test_fixture("pipelines_media/audio_classification_wav2vec2/config.json")};
        am_pipeline_result *r[1] = {0};
        CHECK_OK(am_pipeline_call(p, 1, in, NULL, r));
        CHECK(r[0] && am_pipeline_result_error(r[0]) && strstr(am_pipeline_result_error(r[0]), "config.json"));
        am_pipeline_result_free(r[0]);
        am_pipeline_free(p);
    }
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    g_cli = getenv("AM_CLI");
    if (!g_cli) {
        fprintf(stderr, "AM_CLI is not set\n");
        return 1;
    }
    check_ctc_tokenizer();
    check_whisper_slow_files();
    check_whisper_language();
    check_decoders("asr_ctc_wav2vec2");
    check_decoders("asr_whisper_timestamps");
    check_decoders("asr_whisper_tiny_cg");
    check_case("audio_classification_wav2vec2", "audio-classification", AM_TASK_AUDIO_CLASSIFICATION);
    check_case("asr_ctc_wav2vec2", "automatic-speech-recognition", AM_TASK_SPEECH_SEQ2SEQ);
    check_case("asr_whisper_tiny_cg", "automatic-speech-recognition", AM_TASK_SPEECH_SEQ2SEQ);
    check_case("asr_whisper_timestamps", "automatic-speech-recognition", AM_TASK_SPEECH_SEQ2SEQ);
    check_refusals();
    return 0;
}
