/* tests/test_seq2seq.c — T5 and BART beyond the fixture cases' forward: the generation ops (encoder
 * once, decoder steps over the KV cache) reproduce the fixtures' greedy runs and the forward
 * logits; T5 v1.1-style configs (gated-gelu, untied head), T5EncoderModel, T5Model, BartModel and
 * BartForSequenceClassification from configs; bad input gives clear errors. */
#include "harness.h"
#include "models/seq2seq.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static am_model *load_case(const char *name) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", am_test_fixture("models/"));
    strncat(dir, name, sizeof dir - strlen(dir) - 1);
    am_model *m = am_model_from_pretrained(AM_TASK_SEQ2SEQ_LM, dir, NULL);
    CHECKF(m != NULL, "%s: %s", name, am_last_error());
    return m;
}

static am_tensors *expected(const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s", am_test_fixture("models/"));
    strncat(p, name, sizeof p - strlen(p) - 1);
    strncat(p, "/expected.safetensors", sizeof p - strlen(p) - 1);
    am_tensors *e = am_tensors_load_safetensors(p);
    CHECKF(e != NULL, "%s: %s", p, am_last_error());
    return e;
}

static am_tensors *prefixed(const am_tensors *exp, const char *prefix) {
    am_tensors *in = am_tensors_new();
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < am_tensors_count(exp); i++) {
        const char *n = am_tensors_name(exp, i);
        if (!strncmp(n, prefix, pl) && strcmp(n + pl, "sequences") && strcmp(n + pl, "scores")) am_tensors_set(in, n + pl, am_tensors_at(exp, i));
    }
    return in;
}

static bool close_to(float got, float want) {
    if (isinf(want)) return got == want;
    return fabs((double)got - (double)want) <= 1e-4 + 1e-4 * fabs((double)want);
}

/* Greedy decoding through the model's generation ops, with forced_eos at the last step when the
 * config has one (the only processor the fixtures' greedy runs use); compares sequences exactly and
 * the processed scores within 1e-4. */
static void greedy_case(const char *name, const char *run) {
    am_model *m = load_case(name);
    am_tensors *exp = expected(name);
    if (!m || !exp) goto done;
    const am__gen_ops *g = m->gen;
    CHECKF(g && g->encoder_decoder && g->encode && g->step, "%s: encoder-decoder generation ops", name);
    if (!g) goto done;
    char key[64];
    snprintf(key, sizeof key, "%s.", run);
    am_tensors *in = prefixed(exp, key);
    snprintf(key, sizeof key, "%s.sequences", run);
    const am_tensor *want = am_tensors_get(exp, key);
    snprintf(key, sizeof key, "%s.scores", run);
    const am_tensor *wscores = am_tensors_get(exp, key);
    int64_t B = am_tensor_dim(want, 0), L = am_tensor_dim(want, 1), V = g->vocab_size(m);
    const am_config *cfg = am_model_config(m);
    int64_t start = 0, forced_eos = -1, eos = -1, pad = 0;
    CHECK_OK(am_config_get_int(cfg, "decoder_start_token_id", &start));
    if (am_config_get_int(cfg, "forced_eos_token_id", &forced_eos) != AM_OK) forced_eos = -1;
    am_config_get_int(cfg, "eos_token_id", &eos);
    am_config_get_int(cfg, "pad_token_id", &pad);
    void *enc = NULL;
    am__kv_cache *cache = NULL;
    CHECK_OK(g->encode(m, in, 1, &enc));
    CHECK_OK(g->cache_new(m, B, L, &cache));
    int64_t *seq = calloc((size_t)(B * L), sizeof *seq), *ids = calloc((size_t)B, sizeof *ids);
    bool *done = calloc((size_t)B, sizeof *done);
    float *logits = malloc((size_t)(B * V) * sizeof(float));
    for (int64_t b = 0; b < B; b++) seq[b * L] = ids[b] = start;
    for (int64_t t = 1; enc && cache && t < L; t++) {
        CHECK_OK(g->step(m, cache, enc, B, 1, ids, NULL, NULL, 0, logits));
        for (int64_t b = 0; b < B; b++) {
            float *row = logits + b * V;
            if (forced_eos >= 0 && t == L - 1) /* ForcedEOSTokenLogitsProcessor at max_length - 1 */
                for (int64_t v = 0; v < V; v++) row[v] = v == forced_eos ? 0.0f : -INFINITY;
            int64_t best = 0;
            for (int64_t v = 1; v < V; v++)
                if (row[v] > row[best]) best = v;
            const float *ws = (const float *)am_tensor_cdata(wscores) + ((t - 1) * B + b) * V;
            int bad = 0;
            for (int64_t v = 0; v < V; v++) bad += !close_to(row[v], ws[v]);
            CHECKF(bad == 0, "%s %s step %lld row %lld: %d scores differ", name, run, (long long)t, (long long)b, bad);
            ids[b] = done[b] ? pad : best;
            seq[b * L + t] = ids[b];
            if (ids[b] == eos) done[b] = true;
        }
    }
    const int64_t *w = am_tensor_cdata(want);
    for (int64_t i = 0; i < B * L; i++) CHECKF(seq[i] == w[i], "%s %s: sequences[%lld] = %lld, want %lld", name, run, (long long)i, (long long)seq[i], (long long)w[i]);
    free(seq);
    free(ids);
    free(done);
    free(logits);
    am__kv_free(cache);
    g->enc_free(enc);
    am_tensors_free(in);
done:
    am_tensors_free(exp);
    am_model_free(m);
}

/* Feeding decoder_input_ids one token at a time through the cache gives the forward's logits. */
static void stepwise_matches_forward(am_model *m, const am_tensors *in, const char *what) {
    am_tensors *full = am_model_forward(m, in, NULL);
    CHECKF(full != NULL, "%s forward: %s", what, am_last_error());
    if (!full) return;
    const am_tensor *lg = am_tensors_get(full, "logits"), *dids = am_tensors_get(in, "decoder_input_ids");
    int64_t B = am_tensor_dim(dids, 0), T = am_tensor_dim(dids, 1), V = am_tensor_dim(lg, 2);
    const am__gen_ops *g = m->gen;
    void *enc = NULL;
    am__kv_cache *cache = NULL;
    CHECK_OK(g->encode(m, in, 1, &enc));
    CHECK_OK(g->cache_new(m, B, T, &cache));
    float *logits = malloc((size_t)(B * V) * sizeof(float));
    int64_t *ids = malloc((size_t)B * sizeof(int64_t));
    int bad = 0;
    for (int64_t t = 0; enc && cache && t < T; t++) {
        for (int64_t b = 0; b < B; b++) ids[b] = ((const int64_t *)am_tensor_cdata(dids))[b * T + t];
        CHECK_OK(g->step(m, cache, enc, B, 1, ids, NULL, NULL, 0, logits));
        for (int64_t b = 0; b < B; b++)
            for (int64_t v = 0; v < V; v++) bad += !close_to(logits[b * V + v], ((const float *)am_tensor_cdata(lg))[(b * T + t) * V + v]);
    }
    CHECKF(bad == 0, "%s: %d step logits differ from the forward's", what, bad);
    free(logits);
    free(ids);
    am__kv_free(cache);
    if (enc) g->enc_free(enc);
    am_tensors_free(full);
}

static am_tensor *ids_tensor(int64_t B, int64_t T, const int64_t *v) {
    int64_t shape[2] = {B, T};
    return am_tensor_from_data(AM_I64, 2, shape, v);
}

static void set(am_tensors *ts, const char *name, am_tensor *t) {
    am_tensors_set(ts, name, t);
    am_tensor_free(t);
}

static void fixture_stepwise(const char *name) {
    am_model *m = load_case(name);
    am_tensors *exp = expected(name);
    if (m && exp) {
        am_tensors *in = prefixed(exp, "in.");
        stepwise_matches_forward(m, in, name);
        am_tensors_free(in);
    }
    am_tensors_free(exp);
    am_model_free(m);
}

static bool err_has(const char *needle) {
    bool ok = strstr(am_last_error(), needle) != NULL;
    if (!ok) fprintf(stderr, "error message \"%s\" lacks \"%s\"\n", am_last_error(), needle);
    return ok;
}

static const char *k_t5_v11 =
    "{\"model_type\": \"t5\", \"vocab_size\": 50, \"d_model\": 16, \"d_kv\": 4, \"d_ff\": 24, \"num_layers\": 2, \"num_decoder_layers\": 3,"
    " \"num_heads\": 4, \"relative_attention_num_buckets\": 8, \"relative_attention_max_distance\": 16, \"feed_forward_proj\": \"gated-gelu\","
    " \"tie_word_embeddings\": false, \"decoder_start_token_id\": 0}";

static void t5_variants(void) {
    am_config *c = am_config_from_json(k_t5_v11, "t5_v11");
    CHECKF(c != NULL, "%s", am_last_error());
    if (!c) return;
    /* T5Config.__init__ derives these */
    const char *act = NULL;
    bool gated = false;
    CHECK_OK(am_config_get_string(c, "dense_act_fn", &act));
    CHECK(act && !strcmp(act, "gelu_new"));
    CHECK_OK(am_config_get_bool(c, "is_gated_act", &gated));
    CHECK(gated);
    char *cj = am_config_to_json_string(c);
    CHECK(cj && strstr(cj, "\"dense_act_fn\": \"gelu_new\"") && strstr(cj, "\"is_gated_act\": true") && strstr(cj, "\"num_decoder_layers\": 3"));
    am_free(cj);
    am_model *m = am_model_from_config(AM_TASK_SEQ2SEQ_LM, c, 7);
    CHECKF(m != NULL, "%s", am_last_error());
    if (m) {
        am_model_train(m, false);
        char *r = am_model_repr(m);
        CHECK(r && strstr(r, "(DenseReluDense): T5DenseGatedActDense(") && strstr(r, "(wi_0): Linear(in_features=16, out_features=24, bias=False)") &&
              strstr(r, "(act): NewGELUActivation()"));
        am_free(r);
        /* untied: lm_head is its own tensor, and counts */
        CHECK(am_model_get_parameter(m, "lm_head.weight") != am_model_get_parameter(m, "shared.weight"));
        CHECK(am_model_get_parameter(m, "decoder.embed_tokens.weight") == am_model_get_parameter(m, "shared.weight"));
        am_tensors *in = am_tensors_new();
        int64_t ids[] = {5, 6, 7, 8, 1, 9, 10, 1, 0, 0}, mask[] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, dids[] = {0, 3, 4, 0, 11, 12};
        set(in, "input_ids", ids_tensor(2, 5, ids));
        set(in, "attention_mask", ids_tensor(2, 5, mask));
        set(in, "decoder_input_ids", ids_tensor(2, 3, dids));
        stepwise_matches_forward(m, in, "t5 gated-gelu untied");
        am_tensors_free(in);
        am_model_free(m);
    }
    /* T5Model and T5EncoderModel */
    am_model *base = am_model_from_config(AM_TASK_BASE, c, 7);
    CHECKF(base && !strcmp(am_model_class_name(base), "T5Model"), "T5Model: %s", am_last_error());
    if (base) {
        am_tensors *in = am_tensors_new();
        int64_t ids[] = {5, 6, 7}, dids[] = {0, 3};
        set(in, "input_ids", ids_tensor(1, 3, ids));
        am_tensors *out = am_model_forward(base, in, NULL);
        CHECK(out == NULL && err_has("decoder_input_ids"));
        set(in, "decoder_input_ids", ids_tensor(1, 2, dids));
        out = am_model_forward(base, in, NULL);
        CHECKF(out && am_tensor_dim(am_tensors_get(out, "last_hidden_state"), 1) == 2 &&
                   am_tensor_dim(am_tensors_get(out, "encoder_last_hidden_state"), 1) == 3,
               "T5Model outputs: %s", am_last_error());
        am_tensors_free(out);
        am_tensors_free(in);
        am_model_free(base);
    }
    am_config_set_json(c, "architectures", "[\"T5EncoderModel\"]");
    am_model *em = am_model_from_config(AM_TASK_AUTO, c, 7);
    CHECKF(em && !strcmp(am_model_class_name(em), "T5EncoderModel"), "T5EncoderModel: %s", am_last_error());
    if (em) {
        char *r = am_model_repr(em);
        CHECK(r && !strstr(r, "decoder") && !strstr(r, "lm_head"));
        am_free(r);
        am_tensors *in = am_tensors_new();
        int64_t ids[] = {5, 6, 7};
        set(in, "input_ids", ids_tensor(1, 3, ids));
        am_forward_options fo = am_forward_options_default();
        fo.output_hidden_states = true;
        am_tensors *out = am_model_forward(em, in, &fo);
        CHECKF(out && am_tensors_get(out, "last_hidden_state") && am_tensors_get(out, "hidden_states.2"), "T5EncoderModel outputs: %s", am_last_error());
        am_tensors_free(out);
        set(in, "decoder_input_ids", ids_tensor(1, 3, ids));
        out = am_model_forward(em, in, NULL);
        CHECK(out == NULL && err_has("decoder_input_ids"));
        am_tensors_free(in);
        am_model_free(em);
    }
    am_config_free(c);
    /* feed_forward_proj must be ACT or gated-ACT */
    am_config *bad = am_config_from_json("{\"model_type\": \"t5\", \"feed_forward_proj\": \"gated-gelu-new\"}", "bad_t5.json");
    CHECK(bad == NULL && err_has("bad_t5.json") && err_has("feed_forward_proj"));
    bad = am_config_from_json("{\"model_type\": \"t5\", \"feed_forward_proj\": \"fancy-relu\"}", "bad_t5.json");
    CHECK(bad == NULL && err_has("gated-{ACT_FN}"));
}

static const char *k_bart_small =
    "{\"model_type\": \"bart\", \"vocab_size\": 40, \"d_model\": 16, \"encoder_layers\": 1, \"decoder_layers\": 2, \"encoder_attention_heads\": 2,"
    " \"decoder_attention_heads\": 4, \"encoder_ffn_dim\": 20, \"decoder_ffn_dim\": 24, \"max_position_embeddings\": 12, \"scale_embedding\": true}";

static void bart_variants(void) {
    am_config *c = am_config_from_json(k_bart_small, "bart_small");
    CHECKF(c != NULL, "%s", am_last_error());
    if (!c) return;
    int64_t nhl = 0;
    CHECK_OK(am_config_get_int(c, "num_hidden_layers", &nhl));
    CHECK(nhl == 1); /* = encoder_layers */
    CHECK(am_config_num_labels(c) == 3);
    am_model *m = am_model_from_config(AM_TASK_SEQ2SEQ_LM, c, 3);
    CHECKF(m != NULL, "%s", am_last_error());
    if (m) {
        am_model_train(m, false);
        am_tensors *in = am_tensors_new();
        int64_t ids[] = {0, 5, 6, 7, 2, 0, 8, 2, 1, 1}, mask[] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, dids[] = {2, 0, 5, 6, 2, 0, 8, 9};
        set(in, "input_ids", ids_tensor(2, 5, ids));
        set(in, "attention_mask", ids_tensor(2, 5, mask));
        set(in, "decoder_input_ids", ids_tensor(2, 4, dids));
        stepwise_matches_forward(m, in, "bart scale_embedding, 2/4 heads");
        /* without decoder_input_ids: shift_tokens_right(input_ids) */
        am_tensors *in2 = am_tensors_new();
        int64_t shifted[] = {2, 0, 5, 6, 7, 2, 0, 8, 2, 1};
        set(in2, "input_ids", ids_tensor(2, 5, ids));
        set(in2, "attention_mask", ids_tensor(2, 5, mask));
        am_tensors *a = am_model_forward(m, in2, NULL);
        set(in2, "decoder_input_ids", ids_tensor(2, 5, shifted));
        am_tensors *b = am_model_forward(m, in2, NULL);
        CHECK(a && b && !memcmp(am_tensor_cdata(am_tensors_get(a, "logits")), am_tensor_cdata(am_tensors_get(b, "logits")), am_tensor_nbytes(am_tensors_get(b, "logits"))));
        am_tensors_free(a);
        am_tensors_free(b);
        am_tensors_free(in2);
        /* encoder input longer than the learned position table (12) */
        int64_t longids[13] = {0};
        am_tensors *in3 = am_tensors_new();
        set(in3, "input_ids", ids_tensor(1, 13, longids));
        set(in3, "decoder_input_ids", ids_tensor(1, 1, longids));
        a = am_model_forward(m, in3, NULL);
        CHECK(a == NULL && err_has("max_position_embeddings = 12") && err_has("too long"));
        void *enc = NULL;
        CHECK(m->gen->encode(m, in3, 1, &enc) != AM_OK && enc == NULL && err_has("max_position_embeddings"));
        /* a decoder running past the position table fails at that step, not by reading beyond it */
        am_tensors_free(in3);
        in3 = am_tensors_new();
        set(in3, "input_ids", ids_tensor(1, 3, ids));
        CHECK_OK(m->gen->encode(m, in3, 1, &enc));
        am__kv_cache *cache = NULL;
        CHECK_OK(m->gen->cache_new(m, 1, 20, &cache));
        float *lg = malloc(40 * sizeof(float));
        am_status s = AM_OK;
        int steps = 0;
        for (int i = 0; i < 20 && s == AM_OK; i++, steps++) s = m->gen->step(m, cache, enc, 1, 1, ids, NULL, NULL, 0, lg);
        CHECK(s != AM_OK && steps == 13 && err_has("max_position_embeddings"));
        CHECK(m->gen->max_positions(m) == 12);
        free(lg);
        am__kv_free(cache);
        m->gen->enc_free(enc);
        am_tensors_free(in3);
        /* empty input */
        am_tensors *in4 = am_tensors_new();
        set(in4, "input_ids", ids_tensor(1, 0, ids));
        a = am_model_forward(m, in4, NULL);
        CHECK(a == NULL && err_has("empty"));
        enc = NULL;
        CHECK(m->gen->encode(m, in4, 1, &enc) != AM_OK && enc == NULL && err_has("empty"));
        am_tensors_free(in4);
        am_tensors *none = am_tensors_new();
        CHECK(m->gen->encode(m, none, 1, &enc) != AM_OK && err_has("input_ids"));
        am_tensors_free(none);
        am_tensors_free(in);
        am_model_free(m);
    }
    /* no decoder start: BartModel cannot shift input_ids */
    am_config *c2 = am_config_copy(c);
    am_config_set_json(c2, "decoder_start_token_id", "null");
    am_model *bm = am_model_from_config(AM_TASK_BASE, c2, 3);
    CHECKF(bm && !strcmp(am_model_class_name(bm), "BartModel"), "BartModel: %s", am_last_error());
    if (bm) {
        am_tensors *in = am_tensors_new();
        int64_t ids[] = {0, 5, 2};
        set(in, "input_ids", ids_tensor(1, 3, ids));
        am_tensors *o = am_model_forward(bm, in, NULL);
        CHECK(o == NULL && err_has("decoder_start_token_id"));
        set(in, "decoder_input_ids", ids_tensor(1, 3, ids));
        o = am_model_forward(bm, in, NULL);
        CHECKF(o && am_tensors_get(o, "last_hidden_state"), "BartModel with decoder_input_ids: %s", am_last_error());
        am_tensors_free(o);
        am_tensors_free(in);
        am_model_free(bm);
    }
    am_config_free(c2);
    /* sequence classification at the last <eos> */
    am_model *sc = am_model_from_config(AM_TASK_SEQUENCE_CLASSIFICATION, c, 3);
    CHECKF(sc && !strcmp(am_model_class_name(sc), "BartForSequenceClassification"), "%s", am_last_error());
    if (sc) {
        am_model_train(sc, false);
        char *r = am_model_repr(sc);
        CHECK(r && strstr(r, "(classification_head): BartClassificationHead(") && strstr(r, "(out_proj): Linear(in_features=16, out_features=3, bias=True)"));
        am_free(r);
        am_tensors *in = am_tensors_new();
        int64_t ids[] = {0, 5, 6, 2, 0, 7, 2, 1}, mask[] = {1, 1, 1, 1, 1, 1, 1, 0};
        set(in, "input_ids", ids_tensor(2, 4, ids));
        set(in, "attention_mask", ids_tensor(2, 4, mask));
        am_tensors *o = am_model_forward(sc, in, NULL);
        CHECKF(o && am_tensor_dim(am_tensors_get(o, "logits"), 1) == 3, "seqcls logits: %s", am_last_error());
        am_tensors_free(o);
        int64_t ids2[] = {0, 2, 6, 2, 0, 7, 2, 1};
        set(in, "input_ids", ids_tensor(2, 4, ids2));
        o = am_model_forward(sc, in, NULL);
        CHECK(o == NULL && err_has("same number of <eos> tokens"));
        am_tensors_free(in);
        am_model_free(sc);
    }
    am_config_free(c);
}

static am_tensors *gen_or_null(am_model *m, const am_tensors *in, const am_generate_options *o) { return am_model_generate(m, in, o); }

/* am_model_generate on encoder-decoders: decoder prompt rules, options, errors; CLI text mode. */
static void generate_api(void) {
    am_config *c = am_config_from_json(k_t5_v11, "t5_v11");
    am_model *m = c ? am_model_from_config(AM_TASK_SEQ2SEQ_LM, c, 11) : NULL;
    CHECKF(m != NULL, "%s", am_last_error());
    if (m) {
        am_model_train(m, false);
        am_tensors *in = am_tensors_new();
        int64_t ids[] = {5, 6, 7, 8, 9, 10, 0, 0}, mask[] = {1, 1, 1, 1, 1, 1, 0, 0};
        set(in, "input_ids", ids_tensor(2, 4, ids));
        set(in, "attention_mask", ids_tensor(2, 4, mask));
        am_generate_options o = am_generate_options_default();
        o.max_new_tokens = 5;
        am_tensors *out = gen_or_null(m, in, &o);
        CHECKF(out != NULL, "t5 generate: %s", am_last_error());
        const am_tensor *sq = out ? am_tensors_get(out, "sequences") : NULL;
        CHECK(sq && am_tensor_dim(sq, 0) == 2 && am_tensor_dim(sq, 1) <= 6 && ((const int64_t *)am_tensor_cdata(sq))[0] == 0);
        /* the padded row gives the same tokens alone, unpadded (the encoder mask reaches cross-attention) */
        am_tensors *in1 = am_tensors_new();
        set(in1, "input_ids", ids_tensor(1, 2, ids + 4));
        am_tensors *out1 = gen_or_null(m, in1, &o);
        const am_tensor *sq1 = out1 ? am_tensors_get(out1, "sequences") : NULL;
        CHECK(sq && sq1);
        if (sq && sq1) {
            int64_t L = am_tensor_dim(sq, 1), L1 = am_tensor_dim(sq1, 1);
            for (int64_t t = 0; t < L1; t++) CHECK(((const int64_t *)am_tensor_cdata(sq))[L + t] == ((const int64_t *)am_tensor_cdata(sq1))[t]);
        }
        am_tensors_free(out1);
        am_tensors_free(in1);
        am_tensors_free(out);
        /* decoder_input_ids without the start token: it is prepended */
        int64_t dids[] = {3, 4};
        set(in, "decoder_input_ids", ids_tensor(2, 1, dids));
        o.max_new_tokens = 2;
        out = gen_or_null(m, in, &o);
        sq = out ? am_tensors_get(out, "sequences") : NULL;
        CHECKF(sq && am_tensor_dim(sq, 1) == 4 && ((const int64_t *)am_tensor_cdata(sq))[0] == 0 && ((const int64_t *)am_tensor_cdata(sq))[1] == 3 &&
                   ((const int64_t *)am_tensor_cdata(sq))[5] == 4,
               "decoder prompt: %s", am_last_error());
        am_tensors_free(out);
        /* sampling: same seed, same tokens; num_return_sequences rows */
        am_tensors *in2 = am_tensors_new();
        set(in2, "input_ids", ids_tensor(2, 4, ids));
        set(in2, "attention_mask", ids_tensor(2, 4, mask));
        o = am_generate_options_default();
        o.max_new_tokens = 6;
        o.do_sample = 1;
        o.num_return_sequences = 3;
        o.seed = 99;
        am_tensors *a = gen_or_null(m, in2, &o), *b = gen_or_null(m, in2, &o);
        CHECKF(a && b && am_tensor_dim(am_tensors_get(a, "sequences"), 0) == 6 &&
                   am_tensor_nbytes(am_tensors_get(a, "sequences")) == am_tensor_nbytes(am_tensors_get(b, "sequences")) &&
                   !memcmp(am_tensor_cdata(am_tensors_get(a, "sequences")), am_tensor_cdata(am_tensors_get(b, "sequences")),
                           am_tensor_nbytes(am_tensors_get(a, "sequences"))),
               "sampling: %s", am_last_error());
        am_tensors_free(a);
        am_tensors_free(b);
        /* beam search with every row kept */
        o = am_generate_options_default();
        o.max_new_tokens = 4;
        o.num_beams = 4;
        o.num_return_sequences = 4;
        o.no_repeat_ngram_size = 2;
        a = gen_or_null(m, in2, &o);
        CHECKF(a && am_tensor_dim(am_tensors_get(a, "sequences"), 0) == 8 && am_tensors_get(a, "sequences_scores"), "beam: %s", am_last_error());
        am_tensors_free(a);
        /* empty encoder input, unknown inputs */
        am_tensors *e = am_tensors_new();
        set(e, "input_ids", ids_tensor(1, 0, ids));
        o = am_generate_options_default();
        CHECK(gen_or_null(m, e, &o) == NULL && err_has("empty"));
        set(e, "input_ids", ids_tensor(1, 2, ids));
        set(e, "token_type_ids", ids_tensor(1, 2, ids));
        CHECK(gen_or_null(m, e, &o) == NULL && err_has("token_type_ids"));
        am_tensors_free(e);
        am_tensors_free(in2);
        am_tensors_free(in);
        am_model_free(m);
    }
    /* no decoder_start_token_id and no bos_token_id: a clear error */
    am_config_set_json(c, "decoder_start_token_id", "null");
    m = c ? am_model_from_config(AM_TASK_SEQ2SEQ_LM, c, 11) : NULL;
    if (m) {
        am_tensors *in = am_tensors_new();
        int64_t ids[] = {5, 6};
        set(in, "input_ids", ids_tensor(1, 2, ids));
        am_generate_options o = am_generate_options_default();
        o.max_new_tokens = 2;
        CHECK(gen_or_null(m, in, &o) == NULL && err_has("`decoder_start_token_id` or `bos_token_id` has to be defined"));
        o.decoder_start_token_id = 4; /* given as an option it works */
        am_tensors *out = gen_or_null(m, in, &o);
        CHECKF(out && ((const int64_t *)am_tensor_cdata(am_tensors_get(out, "sequences")))[0] == 4, "%s", am_last_error());
        am_tensors_free(out);
        am_tensors_free(in);
        am_model_free(m);
    }
    am_config_free(c);
    /* BART: forced_bos, forced_eos, and the position table bounding both sides */
    c = am_config_from_json(k_bart_small, "bart_small");
    m = c ? am_model_from_config(AM_TASK_SEQ2SEQ_LM, c, 5) : NULL;
    if (m) {
        am_model_train(m, false);
        am_tensors *in = am_tensors_new();
        int64_t ids[13] = {0, 5, 6, 7, 2};
        set(in, "input_ids", ids_tensor(1, 5, ids));
        am_generate_options o = am_generate_options_default();
        o.max_new_tokens = 4;
        o.forced_bos_token_id = 0;
        o.min_new_tokens = 4;
        am_tensors *out = gen_or_null(m, in, &o);
        const int64_t *sv = out ? am_tensor_cdata(am_tensors_get(out, "sequences")) : NULL;
        CHECKF(sv && sv[0] == 2 && sv[1] == 0 && sv[4] == 2, "forced bos/eos: %s", am_last_error());
        am_tensors_free(out);
        o = am_generate_options_default();
        o.max_new_tokens = 20;
        CHECK(gen_or_null(m, in, &o) == NULL && err_has("max_position_embeddings"));
        set(in, "input_ids", ids_tensor(1, 13, ids));
        o.max_new_tokens = 2;
        CHECK(gen_or_null(m, in, &o) == NULL && err_has("max_position_embeddings = 12"));
        am_tensors_free(in);
        am_model_free(m);
    }
    am_config_free(c);
    /* CLI text mode: a t5-small vocabulary model with the t5-small tokenizer */
    const char *cli = getenv("AM_CLI");
    c = am_config_from_json("{\"model_type\": \"t5\", \"vocab_size\": 32128, \"d_model\": 16, \"d_kv\": 4, \"d_ff\": 16, \"num_layers\": 1,"
                            " \"num_heads\": 4, \"decoder_start_token_id\": 0}", "t5_text");
    m = c ? am_model_from_config(AM_TASK_SEQ2SEQ_LM, c, 1) : NULL;
    char tmpl[] = "/tmp/am_test_s2s_XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (m && dir && cli) {
        am_model_train(m, false);
        CHECK_OK(am_model_save_pretrained(m, dir, NULL));
        char cmd[9000];
        snprintf(cmd, sizeof cmd, "cp %s/tokenizer.json %s/tokenizer_config.json %s/", am_test_fixture("tokenizers/t5-small"), am_test_fixture("tokenizers/t5-small"), dir);
        CHECK(system(cmd) == 0);
        snprintf(cmd, sizeof cmd, "%s generate %s 'translate English to German: The house is wonderful.' --max-new-tokens 5 2>&1", cli, dir);
        char *o1 = NULL;
        CHECKF(am_test_run(cmd, &o1) == 0 && o1 && strstr(o1, "5 tokens in"), "CLI text mode: %s", o1 ? o1 : "");
        free(o1);
        snprintf(cmd, sizeof cmd, "%s generate %s 'summarize: a b c' --max-new-tokens 3 --num-beams 2 2>&1", cli, dir);
        CHECKF(am_test_run(cmd, &o1) == 0 && o1 && strstr(o1, "3 tokens in"), "CLI text mode, beams: %s", o1 ? o1 : "");
        free(o1);
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
    }
    am_model_free(m);
    am_config_free(c);
}

/* AutoModelForMaskedLM maps bart to BartForConditionalGeneration in 4.32: the same class, logits
 * and generation as the seq2seq-lm load */
static void bart_masked_lm(void) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%sbart_cg", am_test_fixture("models/"));
    am_model *a = am_model_from_pretrained(AM_TASK_MASKED_LM, dir, NULL), *b = am_model_from_pretrained(AM_TASK_SEQ2SEQ_LM, dir, NULL);
    CHECKF(a && b, "bart masked-lm load: %s", am_last_error());
    if (a && b) {
        CHECK(!strcmp(am_model_class_name(a), "BartForConditionalGeneration") && am_model_can_generate(a));
        am_tensors *exp = expected("bart_cg"), *in = exp ? prefixed(exp, "in.") : NULL;
        am_tensors *oa = in ? am_model_forward(a, in, NULL) : NULL, *ob = in ? am_model_forward(b, in, NULL) : NULL;
        am_tensor *la = oa ? am_tensors_get(oa, "logits") : NULL, *lb = ob ? am_tensors_get(ob, "logits") : NULL;
        CHECKF(la && lb && am_tensor_numel(la) == am_tensor_numel(lb), "bart masked-lm forward: %s", am_last_error());
        for (int64_t i = 0; la && lb && i < am_tensor_numel(la); i++)
            if (((const float *)am_tensor_cdata(la))[i] != ((const float *)am_tensor_cdata(lb))[i]) {
                CHECKF(0, "bart masked-lm logits differ from seq2seq-lm at %lld", (long long)i);
                break;
            }
        am_tensors_free(oa);
        am_tensors_free(ob);
        am_tensors_free(in);
        am_tensors_free(exp);
    }
    am_model_free(a);
    am_model_free(b);
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    const char *runs[] = {"gen1", "gen"};
    for (int i = 0; i < 2; i++) greedy_case("t5_cg", runs[i]);
    for (int i = 0; i < 2; i++) greedy_case("bart_cg", runs[i]);
    fixture_stepwise("t5_cg");
    fixture_stepwise("bart_cg");
    t5_variants();
    bart_variants();
    generate_api();
    bart_masked_lm();
    return 0;
}
