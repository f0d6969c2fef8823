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
#include "pipelines/pipeline.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *g_cli;

static char *dup_s(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* got vs want (Python's result as JSON): the same shape and key order, strings and other numbers
 * exact, "score" within 1e-4 */
static bool same(const cJSON *got, const cJSON *want, const char *key, char *why, size_t nwhy) {
    if (cJSON_IsNumber(want)) {
        if (!cJSON_IsNumber(got)) return snprintf(why, nwhy, "%s: not a number", key ? key : "?"), false;
        double tol = key && !strcmp(key, "score") ? 1e-4 : 0;
        if (fabs(got->valuedouble - want->valuedouble) > tol)
            return snprintf(why, nwhy, "%s: %.17g vs %.17g", key ? key : "?", got->valuedouble, want->valuedouble), false;
        return true;
    }
    if (cJSON_IsString(want)) {
        if (!cJSON_IsString(got) || strcmp(got->valuestring, want->valuestring))
            return snprintf(why, nwhy, "%s: '%s' vs '%s'", key ? key : "?", cJSON_IsString(got) ? got->valuestring : "?", want->valuestring), false;
        return true;
    }
    if (cJSON_IsNull(want)) return cJSON_IsNull(got) ? true : (snprintf(why, nwhy, "%s: not null", key ? key : "?"), false);
    if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(got) || cJSON_GetArraySize(got) != cJSON_GetArraySize(want))
            return snprintf(why, nwhy, "%s: list of %d vs %d", key ? key : "?", cJSON_IsArray(got) ? cJSON_GetArraySize(got) : -1,
                            cJSON_GetArraySize(want)), false;
        for (int i = 0; i < cJSON_GetArraySize(want); i++)
            if (!same(cJSON_GetArrayItem(got, i), cJSON_GetArrayItem(want, i), key, why, nwhy)) return false;
        return true;
    }
    if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(got) || cJSON_GetArraySize(got) != cJSON_GetArraySize(want)) return snprintf(why, nwhy, "object keys differ"), false;
        const cJSON *w;
        int i = 0;
        cJSON_ArrayForEach(w, want) {
            const cJSON *g = cJSON_GetArrayItem(got, i++); /* the same keys in the same order, as json.dumps writes them */
            if (!g || strcmp(g->string, w->string)) return snprintf(why, nwhy, "key '%s' vs '%s'", g ? g->string : "?", w->string), false;
            if (!same(g, w, w->string, why, nwhy)) return false;
        }
        return true;
    }
    if (cJSON_IsBool(want)) return cJSON_IsBool(got) && cJSON_IsTrue(got) == cJSON_IsTrue(want);
    return false;
}

static cJSON *load_json(const char *rel) {
    char *text = am_test_read_file(am_test_fixture(rel), NULL);
    cJSON *c = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECKF(c != NULL, "%s", rel);
    return c;
}

static cJSON *load_case(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "pipelines_media/%s/case.json", name);
    return load_json(rel);
}

/* the inputs of a run: one file or a list */
static size_t run_inputs(const cJSON *run, char **paths, size_t max) {
    const cJSON *in = cJSON_GetObjectItem(run, "inputs");
    size_t n = 0;
    if (cJSON_IsString(in)) paths[n++] = dup_s(am_test_fixture(in->valuestring));
    const cJSON *it;
    if (cJSON_IsArray(in))
        cJSON_ArrayForEach(it, in) if (n < max) paths[n++] = dup_s(am_test_fixture(it->valuestring));
    return n;
}

static void check_json(const char *what, const char *got_text, const cJSON *want) {
    cJSON *got = got_text ? cJSON_Parse(got_text) : NULL;
    char why[768] = "";
    CHECKF(got && same(got, want, NULL, why, sizeof why), "%s: %s\n got  %.600s", what, why, got_text ? got_text : "(null)");
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
    cJSON *c = load_case(name);
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
    char *paths[8];
    size_t n = run_inputs(run, paths, 8);
    char rel[256];
    snprintf(rel, sizeof rel, "pipelines_media/%s", name);
    char cmd[8192];
    int at = snprintf(cmd, sizeof cmd, "'%s' pipeline %s '%s' --json", g_cli, task, am_test_fixture(rel));
    for (size_t i = 0; i < n; i++) at += snprintf(cmd + at, sizeof cmd - at, " '%s'", paths[i]);
    const cJSON *kw;
    cJSON_ArrayForEach(kw, cJSON_GetObjectItem(run, "call_kwargs")) {
        char flag[64];
        size_t i = 0;
        for (; kw->string[i] && i + 1 < sizeof flag; i++) flag[i] = kw->string[i] == '_' ? '-' : kw->string[i];
        flag[i] = 0;
        char *v = cJSON_IsString(kw) ? dup_s(kw->valuestring) : cJSON_PrintUnformatted(kw);
        at += snprintf(cmd + at, sizeof cmd - at, " --%s '%s'", flag, v);
        free(v);
    }
    snprintf(cmd + at, sizeof cmd - at, " 2>/dev/null");
    char *out = NULL;
    int rc = am_test_run(cmd, &out);
    char what[256];
    snprintf(what, sizeof what, "%s/%s (CLI, rc %d)", name, rn, rc);
    CHECKF(rc == 0, "%s", what);
    check_json(what, out, cJSON_GetObjectItem(run, "result"));
    free(out);
    for (size_t i = 0; i < n; i++) free(paths[i]);
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
        size_t n = run_inputs(run, paths, 8);
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
    cJSON *c = load_case(name);
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
