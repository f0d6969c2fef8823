/* tests/test_attention.c — the attention kernel (kernels/attention.c) against a double-precision
 * reference with transformers' masking rules: eager and the fused kernel (sdpa / flash) over
 * GQA, causal with a cache offset, padding masks (additive and bytes), fully masked rows, T5's
 * position bias, no scale, strided K/V (a KV cache), head sizes that are and are not multiples of
 * 16, key counts across several blocks; eager's returned probabilities (rows sum to 1, masked
 * keys 0, P·V = the output); dropout in both paths identical; bad head counts refused. */
#include "harness.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>

static uint64_t g_rng = 88172645463325252ull;
static float frand(void) {
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

typedef struct {
    int64_t B, Tq, Tk, Hq, Hkv, D;
    bool causal, mask, bytes, bias, cache, full_masked_row;
    float scale;
} shape;

/* reference: scores in double with finfo.min added and clamped, softmax, P·V */
static void reference(const am__attn_args *a, double *out, double *probs) {
    int64_t G = a->Hq / a->Hkv;
    double *s = malloc((size_t)a->Tk * sizeof(double));
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t h = 0; h < a->Hq; h++)
            for (int64_t i = 0; i < a->Tq; i++) {
                const float *qi = a->q + b * a->q_batch + i * a->q_row + h * a->D;
                double mx = -INFINITY, sum = 0;
                for (int64_t j = 0; j < a->Tk; j++) {
                    const float *kj = a->k + b * a->kv_batch + j * a->kv_row + (h / G) * a->kv_head;
                    double d = 0;
                    for (int64_t e = 0; e < a->D; e++) d += (double)qi[e] * kj[e];
                    float x = (float)d * a->scale;
                    if (a->bias) x += a->bias[(h * a->Tq + i) * a->Tk + j];
                    if (a->mask_add) x += a->mask_add[b * a->mask_stride + j];
                    if (a->key_mask && !a->key_mask[b * a->mask_stride + j]) x += AM_FINFO_MIN_F32;
                    if (a->causal && j > i + a->Tk - a->Tq) x += AM_FINFO_MIN_F32;
                    s[j] = x < AM_FINFO_MIN_F32 ? AM_FINFO_MIN_F32 : x;
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int64_t j = 0; j < a->Tk; j++) sum += s[j] = exp(s[j] - mx);
                double *o = out + ((b * a->Tq + i) * a->Hq + h) * a->D;
                for (int64_t e = 0; e < a->D; e++) o[e] = 0;
                for (int64_t j = 0; j < a->Tk; j++) {
                    double p = s[j] / sum;
                    probs[((b * a->Hq + h) * a->Tq + i) * a->Tk + j] = p;
                    const float *vj = a->v + b * a->kv_batch + j * a->kv_row + (h / G) * a->kv_head;
                    for (int64_t e = 0; e < a->D; e++) o[e] += p * vj[e];
                }
            }
    free(s);
}

static float *rnd(int64_t n) {
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = frand();
    return x;
}

static void run_case(const shape *c) {
    int64_t B = c->B, Tq = c->Tq, Tk = c->Tk, Hq = c->Hq, Hkv = c->Hkv, D = c->D, cap = Tk + 5;
    float *q = rnd(B * Tq * Hq * D), *out = malloc((size_t)(B * Tq * Hq * D) * sizeof(float));
    /* packed [B, Tk, Hkv*D], or a cache [B, Hkv, cap, D] */
    float *k = rnd(B * (c->cache ? cap : Tk) * Hkv * D), *v = rnd(B * (c->cache ? cap : Tk) * Hkv * D);
    for (int64_t i = 0; i < B * Tq * Hq * D; i++) q[i] *= 2.0f; /* peaky enough rows */
    am__attn_args a = am__attn_packed(B, Tq, Tk, Hq, Hkv, D, q, Hq * D, k, v, Hkv * D, out, Hq * D);
    if (c->cache) a.kv_row = D, a.kv_head = cap * D, a.kv_batch = Hkv * cap * D;
    a.scale = c->scale, a.causal = c->causal;
    float *madd = NULL, *bias = NULL;
    uint8_t *bytes = NULL;
    if (c->mask) {
        madd = malloc((size_t)(B * Tk) * sizeof(float));
        bytes = malloc((size_t)(B * Tk));
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < Tk; j++) {
                bool keep = !(b == B - 1 && j < Tk / 3) && !(c->full_masked_row && b == 0);
                madd[b * Tk + j] = keep ? 0.0f : AM_FINFO_MIN_F32;
                bytes[b * Tk + j] = keep;
            }
        if (c->bytes) a.key_mask = bytes;
        else a.mask_add = madd;
    }
    if (c->bias) {
        bias = rnd(Hq * Tq * Tk);
        a.bias = bias;
    }
    double *ref = malloc((size_t)(B * Tq * Hq * D) * sizeof(double)), *rp = malloc((size_t)(B * Hq * Tq * Tk) * sizeof(double));
    float *probs = malloc((size_t)(B * Hq * Tq * Tk) * sizeof(float));
    reference(&a, ref, rp);
    char label[160];
    snprintf(label, sizeof label, "B%lld Tq%lld Tk%lld H%lld/%lld D%lld%s%s%s%s%s%s", (long long)B, (long long)Tq, (long long)Tk, (long long)Hq,
             (long long)Hkv, (long long)D, c->causal ? " causal" : "", c->mask ? (c->bytes ? " key_mask" : " mask_add") : "", c->bias ? " bias" : "",
             c->cache ? " cache" : "", c->full_masked_row ? " fully-masked-row" : "", c->scale == 1.0f ? " unscaled" : "");
    static const am_attn_impl impls[] = {AM_ATTN_EAGER, AM_ATTN_SDPA, AM_ATTN_FLASH, AM_ATTN_EAGER};
    for (int r = 0; r < 4; r++) {
        a.impl = impls[r];
        a.probs = r == 3 ? probs : NULL; /* the last round returns the probabilities */
        for (int64_t i = 0; i < B * Tq * Hq * D; i++) out[i] = NAN;
        CHECK_OK(am__attention(&a));
        double worst = 0;
        for (int64_t i = 0; i < B * Tq * Hq * D; i++) {
            double d = fabs(out[i] - ref[i]);
            worst = d > worst || isnan(d) ? (isnan(d) ? INFINITY : d) : worst;
        }
        CHECKF(worst < 2e-5, "[%s] %s%s: max |out - reference| = %g", label, am__attn_impl_name(a.impl), r == 3 ? " (probs)" : "", worst);
    }
    /* the returned probabilities: the reference's, rows sum to 1, masked keys exactly 0 unless
     * the row is fully masked (then uniform), and P·V reproduces the output */
    double worst_p = 0, worst_sum = 0, worst_pv = 0;
    int64_t nonzero_masked = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hq; h++)
            for (int64_t i = 0; i < Tq; i++) {
                const float *p = probs + ((b * Hq + h) * Tq + i) * Tk;
                double sum = 0;
                bool any_open = false;
                for (int64_t j = 0; j < Tk; j++) {
                    bool open = !(c->mask && !bytes[b * Tk + j]) && !(c->causal && j > i + Tk - Tq);
                    any_open = any_open || open;
                }
                for (int64_t j = 0; j < Tk; j++) {
                    bool open = !(c->mask && !bytes[b * Tk + j]) && !(c->causal && j > i + Tk - Tq);
                    if (any_open && !open && p[j] != 0.0f) nonzero_masked++;
                    if (!any_open && fabs(p[j] - 1.0 / (double)Tk) > 1e-6) nonzero_masked++;
                    sum += p[j];
                    double d = fabs(p[j] - rp[((b * Hq + h) * Tq + i) * Tk + j]);
                    worst_p = d > worst_p ? d : worst_p;
                }
                worst_sum = fabs(sum - 1) > worst_sum ? fabs(sum - 1) : worst_sum;
                for (int64_t e = 0; e < D; e++) {
                    double o = 0;
                    for (int64_t j = 0; j < Tk; j++) o += (double)p[j] * a.v[b * a.kv_batch + j * a.kv_row + (h / (Hq / Hkv)) * a.kv_head + e];
                    double d = fabs(o - out[((b * Tq + i) * Hq + h) * D + e]);
                    worst_pv = d > worst_pv ? d : worst_pv;
                }
            }
    CHECKF(worst_p < 1e-6 && worst_sum < 1e-5 && nonzero_masked == 0 && worst_pv < 1e-5,
           "[%s] probs: max diff %g, max |row sum - 1| %g, %lld masked entries not 0 (or not uniform), P·V vs output %g", label, worst_p, worst_sum,
           (long long)nonzero_masked, worst_pv);
    free(q), free(k), free(v), free(out), free(madd), free(bytes), free(bias), free(ref), free(rp), free(probs);
}

/* Training: dropout on the probabilities drops the same elements whichever implementation is
 * asked for (dropout runs materialised), and the returned probabilities are the dropped ones. */
static void dropout_case(void) {
    int64_t B = 2, T = 9, H = 2, D = 8;
    float *q = rnd(B * T * H * D), *k = rnd(B * T * H * D), *v = rnd(B * T * H * D);
    float *o1 = malloc((size_t)(B * T * H * D) * sizeof(float)), *o2 = malloc((size_t)(B * T * H * D) * sizeof(float));
    float *p = malloc((size_t)(B * H * T * T) * sizeof(float));
    am__attn_args a = am__attn_packed(B, T, T, H, H, D, q, H * D, k, v, H * D, o1, H * D);
    a.dropout_p = 0.5f, a.seed = 7, a.impl = AM_ATTN_SDPA;
    CHECK_OK(am__attention(&a));
    a.out = o2, a.impl = AM_ATTN_EAGER, a.probs = p;
    CHECK_OK(am__attention(&a));
    CHECK(memcmp(o1, o2, (size_t)(B * T * H * D) * sizeof(float)) == 0);
    int64_t zeros = 0;
    for (int64_t i = 0; i < B * H * T * T; i++) zeros += p[i] == 0.0f;
    CHECKF(zeros > B * H * T * T / 4 && zeros < 3 * B * H * T * T / 4, "dropout 0.5 zeroed %lld of %lld probabilities", (long long)zeros,
           (long long)(B * H * T * T));
    free(q), free(k), free(v), free(o1), free(o2), free(p);
}

static int g_warn_fallback, g_info_flash;
static void capture(am_log_level level, const char *msg, void *user) {
    (void)user;
    if (level == AM_LOG_WARNING && strstr(msg, "does not support `output_attentions=True`. Falling back to the manual attention")) g_warn_fallback++;
    if (level == AM_LOG_INFO && strstr(msg, "flash_attention_2") && strstr(msg, "fused attention kernel")) g_info_flash++;
}

/* output_attentions on a model loaded with sdpa: transformers' fallback warning, once; the call
 * runs eager (same outputs as an eager model, bit for bit) and returns one tensor per layer */
static void fallback_case(const char *dir) {
    am_log_level lv = am_log_get_level();
    am_log_set_level(AM_LOG_INFO);
    am_log_set_callback(capture, NULL);
    am_load_options lo = am_load_options_default();
    lo.attn = AM_ATTN_FLASH;
    am_model *fl = am_model_from_pretrained(AM_TASK_BASE, dir, &lo);
    lo.attn = AM_ATTN_EAGER;
    am_model *eg = am_model_from_pretrained(AM_TASK_BASE, dir, &lo);
    CHECK(fl && eg && g_info_flash == 1);
    if (fl && eg) {
        int64_t shape[2] = {2, 5};
        int64_t ids[10] = {1, 5, 9, 3, 2, 7, 4, 4, 0, 0}, mask[10] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
        am_tensors *in = am_tensors_new();
        am_tensor *t = am_tensor_from_data(AM_I64, 2, shape, ids), *mk = am_tensor_from_data(AM_I64, 2, shape, mask);
        am_tensors_set(in, "input_ids", t);
        am_tensors_set(in, "attention_mask", mk);
        am_forward_options fo = am_forward_options_default();
        fo.output_attentions = true;
        am_tensors *a = am_model_forward(fl, in, &fo), *b = am_model_forward(fl, in, &fo), *c = am_model_forward(eg, in, &fo);
        CHECKF(g_warn_fallback == 1, "fallback warning logged %d times", g_warn_fallback);
        CHECK(a && b && c && am_tensors_count(a) == am_tensors_count(c));
        for (size_t i = 0; a && c && i < am_tensors_count(a); i++) {
            am_tensor *x = am_tensors_at(a, i), *y = am_tensors_get(c, am_tensors_name(a, i));
            CHECKF(y && am_tensor_nbytes(x) == am_tensor_nbytes(y) && !memcmp(am_tensor_cdata(x), am_tensor_cdata(y), am_tensor_nbytes(x)),
                   "%s: flash model with output_attentions equals the eager model's", am_tensors_name(a, i));
        }
        CHECK(a && am_tensors_get(a, "attentions.0") && am_tensors_get(a, "attentions.1") && !am_tensors_get(a, "attentions.2"));
        am_tensors_free(a), am_tensors_free(b), am_tensors_free(c), am_tensors_free(in);
        am_tensor_free(t), am_tensor_free(mk);
    }
    am_model_free(fl);
    am_model_free(eg);
    am_log_set_callback(NULL, NULL);
    am_log_set_level(lv);
}

int am_test_main(int argc, char **argv) {
    (void)argc, (void)argv;
    printf("attention fused kernel ISA: %s\n", am__gemv_isa());
    const shape cases[] = {
        {2, 7, 7, 4, 4, 8, false, true, false, false, false, false, 0.35355339f},   /* BERT-like, tiny head */
        {2, 7, 7, 4, 4, 8, true, true, false, false, false, false, 0.35355339f},    /* GPT-2-like */
        {2, 70, 70, 2, 2, 64, true, true, false, false, false, true, 0.125f},       /* several query blocks, fully masked row */
        {1, 5, 150, 4, 2, 16, true, false, false, false, true, false, 0.25f},       /* GQA decode over a cache, past 145 */
        {2, 3, 131, 8, 2, 32, true, true, true, false, true, false, 0.17677669f},    /* cache + byte mask, GQA 4 */
        {2, 9, 9, 4, 4, 16, false, true, false, true, false, false, 1.0f},         /* T5 encoder: bias, unscaled */
        {2, 6, 11, 4, 4, 16, false, true, false, false, false, true, 1.0f},        /* T5 cross attention, a fully masked row */
        {1, 130, 130, 2, 2, 80, false, false, false, false, false, false, 0.11180340f}, /* D not a multiple of 16 */
        {3, 1, 1, 3, 1, 24, true, false, false, false, true, false, 0.2f},          /* first decode step */
        {1, 200, 200, 1, 1, 64, true, false, false, false, false, false, 0.125f},   /* causal block skipping */
        {2, 1, 150, 4, 2, 64, true, true, false, false, true, false, 0.125f},      /* one query row (a decode step) over 3 key blocks, padding, GQA */
        {2, 1, 70, 4, 4, 16, false, true, false, true, true, true, 1.0f},          /* one query row: position bias, a fully masked row */
        {1, 1, 130, 2, 2, 20, true, false, true, false, true, false, 0.2236068f},  /* one query row, D not a multiple of the vector width */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
    dropout_case();
    float x[16] = {0};
    am__attn_args bad = am__attn_packed(1, 1, 1, 3, 2, 2, x, 6, x, x, 4, x, 6);
    CHECK(am__attention(&bad) == AM_ERR_INVALID_ARGUMENT);
    /* names, and transformers' message for an unknown one */
    am_attn_impl impl;
    CHECK(am_attn_impl_parse("flash_attention_2", &impl) == AM_OK && impl == AM_ATTN_FLASH);
    CHECK(am_attn_impl_parse("sdpa", &impl) == AM_OK && impl == AM_ATTN_SDPA);
    CHECK(am_attn_impl_parse("eager", &impl) == AM_OK && impl == AM_ATTN_EAGER);
    CHECK(am_attn_impl_parse("flash", &impl) == AM_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(am_last_error(), "Specified `attn_implementation=\"flash\"` is not supported. The only possible arguments are "
                                   "`attn_implementation=\"eager\"` (manual attention implementation), `\"attn_implementation=flash_attention_2\"`") != NULL,
           "%s", am_last_error());
    CHECK(!strcmp(am_attn_impl_name(AM_ATTN_DEFAULT), "sdpa"));
    /* at load: the option, else config._attn_implementation; an unknown value is refused */
    const char *dir = am_test_fixture("models/bert_model");
    am_config *cfg = am_config_from_pretrained(dir);
    CHECK(cfg != NULL);
    if (cfg) {
        am_load_options lo = am_load_options_default();
        lo.config = cfg;
        CHECK_OK(am_config_set_string(cfg, "_attn_implementation", "eager"));
        am_model *m = am_model_from_pretrained(AM_TASK_AUTO, dir, &lo);
        CHECKF(m && am_model_attn_implementation(m) == AM_ATTN_EAGER, "config._attn_implementation=eager: %s", m ? "" : am_last_error());
        if (m) {
            char *js = am_config_to_json_string(am_model_config(m));
            CHECKF(js && !strstr(js, "_attn_implementation"), "to_json_string leaves _attn_implementation out:\n%s", js);
            am_free(js);
        }
        am_model_free(m);
        lo.attn = AM_ATTN_FLASH; /* the option wins over the config */
        m = am_model_from_pretrained(AM_TASK_AUTO, dir, &lo);
        const char *got = NULL;
        CHECK(m && am_config_get_string(am_model_config(m), "_attn_implementation", &got) == AM_OK && !strcmp(got, "flash_attention_2"));
        am_model_free(m);
        lo.attn = (am_attn_impl)42;
        CHECK(am_model_from_pretrained(AM_TASK_AUTO, dir, &lo) == NULL);
        lo.attn = AM_ATTN_DEFAULT;
        CHECK_OK(am_config_set_json(cfg, "_attn_implementation", "null")); /* None: the default */
        m = am_model_from_pretrained(AM_TASK_AUTO, dir, &lo);
        CHECKF(m && am_model_attn_implementation(m) == AM_ATTN_SDPA, "_attn_implementation None: %s", m ? "" : am_last_error());
        am_model_free(m);
        CHECK_OK(am_config_set_string(cfg, "_attn_implementation", "flash_attn"));
        CHECK(am_model_from_pretrained(AM_TASK_AUTO, dir, &lo) == NULL);
        CHECKF(strstr(am_last_error(), "Specified `attn_implementation=\"flash_attn\"` is not supported") != NULL, "%s", am_last_error());
        am_config_free(cfg);
    }
    fallback_case(dir);
    return 0;
}
