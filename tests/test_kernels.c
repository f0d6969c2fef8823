/* tests/test_kernels.c — the linear entry (kernels/linear.c) on every path the ISA in force allows,
 * against a double-precision loop: float32/bfloat16/float16 weights, both layouts, GEMV and GEMM
 * row counts, packed and plain bf16, the float32 copy made once, concurrent first use, and
 * float32_matmul_precision "medium"; plus the ISA report. ctest runs it at the native ISA and
 * again under AM_MAX_ISA caps (tests/kernels.cmake). */
#include "core/tensor.h"
#include "harness.h"
#include "kernels/kernels.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

static uint64_t g_st = 987654321;
static float rnd(void) { return (float)((double)((g_st = g_st * 6364136223846793005ULL + 1) >> 40) / (1 << 24) - 0.5); }

/* the report is JSON with the documented keys, and the GEMV runs the best body the level allows */
static void check_report(void) {
    const char *r = am_cpu_report_json();
    printf("ISA report: %s\n", r);
    cJSON *j = cJSON_Parse(r);
    CHECKF(j != NULL, "report is JSON: %s", r);
    if (!j) return;
    const cJSON *k = cJSON_GetObjectItem(j, "kernels");
    CHECK(cJSON_IsArray(cJSON_GetObjectItem(j, "cpu_features")));
    CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "isa")) && !strcmp(cJSON_GetObjectItem(j, "isa")->valuestring, am__isa_name(am__isa_level())));
    CHECK(k && cJSON_IsString(cJSON_GetObjectItem(k, "gemv")) && cJSON_IsString(cJSON_GetObjectItem(k, "gemm_bf16")));
    am__isa l = am__isa_level();
    const char *want_gemv = l >= AM__ISA_AVX512 ? "avx512" : l >= AM__ISA_AVX2 ? "avx2" : "c";
    if (!getenv("AM_GEMV_ISA")) CHECKF(!strcmp(am__gemv_isa(), want_gemv), "gemv body %s at isa %s, want %s", am__gemv_isa(), am__isa_name(l), want_gemv);
    /* the level never exceeds what the CPU has, nor the cap */
    unsigned f = am__cpu_features();
    if (l >= AM__ISA_AVX512) CHECK((f & AM__CPU_AVX512F) && (f & AM__CPU_AVX512BW));
    if (l >= AM__ISA_AVX512_BF16) CHECK(f & AM__CPU_AVX512BF16);
    const char *cap = getenv("AM_MAX_ISA");
    if (cap && !strcmp(cap, "avx2")) CHECK(l <= AM__ISA_AVX2 && !am__bf16_matmul_native());
    if (cap && !strcmp(cap, "avx512")) CHECK(l <= AM__ISA_AVX512 && !am__bf16_matmul_native());
    const char *ocap = getenv("ONEDNN_MAX_CPU_ISA");
    if (ocap && !strcasecmp(ocap, "avx2")) CHECK(l <= AM__ISA_AVX2);
    /* bf16 weights take oneDNN's bf16 matmul exactly when bf16 units are allowed */
    CHECK(!strcmp(am__linear_path(AM_BF16, 64, AM__PREC_DEFAULT), am__bf16_matmul_native() ? "onednn_bf16" : "f32_copy"));
    CHECK(!strcmp(am__linear_path(AM_F16, 64, AM__PREC_DEFAULT), "f32_copy"));
    CHECK(!strcmp(am__linear_path(AM_BF16, 1, AM__PREC_DEFAULT), "gemv"));
    cJSON_Delete(j);
}

/* y = x·Wᵀ + b in double, W given as float32 values [N,K] (already rounded to its storage) */
static void reference(int64_t M, int64_t N, int64_t K, const float *x, const float *w, const float *b, double *ref, double *mag) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double s = b[n], a = fabs(b[n]);
            for (int64_t k = 0; k < K; k++) {
                s += (double)x[m * K + k] * w[n * K + k];
                a += fabs((double)x[m * K + k] * w[n * K + k]);
            }
            ref[m * N + n] = s;
            mag[m * N + n] = a;
        }
}

static am_tensor *make_weight(am_dtype dt, bool kn, int64_t N, int64_t K, float *w /* rounded in place */) {
    int64_t shape[2] = {kn ? K : N, kn ? N : K};
    am_tensor *f = am__tensor_empty(AM_F32, 2, shape);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) ((float *)f->data)[kn ? k * N + n : n * K + k] = w[n * K + k];
    am_tensor *t = dt == AM_F32 ? f : am__tensor_convert(f, dt);
    if (t != f) am_tensor_free(f);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) {
            int64_t i = kn ? k * N + n : n * K + k;
            w[n * K + k] = dt == AM_F32 ? ((float *)t->data)[i] : dt == AM_BF16 ? am__bf16_to_f32(((uint16_t *)t->data)[i]) : am__f16_to_f32(((uint16_t *)t->data)[i]);
        }
    return t;
}

/* error bound: float32 paths ~1e-5 relative to the sum of |terms|; the bf16 matmul rounds x to
 * bf16 (2^-9 relative per term) */
static bool within(double got, double ref, double mag, bool bf16_math) {
    double tol = (bf16_math ? 1.0 / 256 : 2e-6 * 8) * mag + 1e-5;
    return fabs(got - ref) <= tol && !isnan(got);
}

static void check_linear(void) {
    static const int64_t shapes[][3] = {{1, 33, 70}, {3, 64, 48}, {9, 100, 96}, {16, 768, 64}, {64, 130, 200}, {130, 96, 768}};
    static const am_dtype dts[3] = {AM_F32, AM_BF16, AM_F16};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        float *x = malloc((size_t)(M * K) * 4), *w = malloc((size_t)(N * K) * 4), *b = malloc((size_t)N * 4), *y = malloc((size_t)(M * N) * 4);
        double *ref = malloc((size_t)(M * N) * 8), *mag = malloc((size_t)(M * N) * 8);
        for (int64_t i = 0; i < M * K; i++) x[i] = rnd();
        for (int64_t i = 0; i < N; i++) b[i] = rnd();
        for (int d = 0; d < 3; d++)
            for (int kn = 0; kn < 2; kn++) {
                for (int64_t i = 0; i < N * K; i++) w[i] = rnd();
                am_tensor *t = make_weight(dts[d], kn, N, K, w);
                reference(M, N, K, x, w, b, ref, mag);
                const char *path = am__linear_path(dts[d], M, AM__PREC_DEFAULT);
                bool bf16_math = !strcmp(path, "onednn_bf16");
                for (int rep = 0; rep < 2; rep++) { /* the second call runs on what the first cached */
                    for (int64_t i = 0; i < M * N; i++) y[i] = NAN;
                    am__linear_w(M, x, t, kn, b, y, AM__PREC_DEFAULT);
                    int64_t bad = 0, first = -1;
                    for (int64_t i = 0; i < M * N; i++)
                        if (!within(y[i], ref[i], mag[i], bf16_math) && !bad++) first = i;
                    CHECKF(!bad, "linear %s %s kn=%d M=%lld N=%lld K=%lld call %d: %lld bad, first [%lld] %.6g want %.6g", path, am_dtype_name(dts[d]), kn,
                           (long long)M, (long long)N, (long long)K, rep, (long long)bad, (long long)first, first >= 0 ? y[first] : 0.0,
                           first >= 0 ? ref[first] : 0.0);
                }
                /* the GEMM paths keep what they made in the tensor (never a copy per call) */
                if (strcmp(path, "gemv") && dts[d] != AM_F32) CHECKF(t->packed != NULL, "%s weight cached after %s", am_dtype_name(dts[d]), path);
                am_tensor_free(t);
            }
        free(x);
        free(w);
        free(b);
        free(y);
        free(ref);
        free(mag);
    }
}

/* several threads make the first call on one weight at once: one conversion, right results */
typedef struct {
    am_tensor *t;
    const float *x, *b;
    float *y;
    int64_t M;
} race_arg;
static void *race(void *v) {
    race_arg *a = v;
    am__linear_w(a->M, a->x, a->t, false, a->b, a->y, AM__PREC_DEFAULT);
    return NULL;
}
static void check_concurrent_first_use(void) {
    enum { T = 4 };
    const int64_t M = 24, N = 80, K = 72;
    float *x = malloc((size_t)(M * K) * 4), *w = malloc((size_t)(N * K) * 4), *b = malloc((size_t)N * 4), *y = malloc((size_t)(T * M * N) * 4);
    for (int64_t i = 0; i < M * K; i++) x[i] = rnd();
    for (int64_t i = 0; i < N; i++) b[i] = rnd();
    for (int d = 1; d < 3; d++) {
        for (int64_t i = 0; i < N * K; i++) w[i] = rnd();
        am_tensor *t = make_weight(d == 1 ? AM_BF16 : AM_F16, false, N, K, w);
        pthread_t th[T];
        race_arg a[T];
        for (int i = 0; i < T; i++) {
            a[i] = (race_arg){t, x, b, y + i * M * N, M};
            pthread_create(&th[i], NULL, race, &a[i]);
        }
        for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
        for (int i = 1; i < T; i++) CHECKF(!memcmp(y, y + i * M * N, (size_t)(M * N) * 4), "thread %d got the same result (dtype %d)", i, d);
        am_tensor_free(t);
    }
    free(x);
    free(w);
    free(b);
    free(y);
}

/* float32_matmul_precision: "medium" computes f32 weights in bf16 where bf16 units exist (the
 * result moves, within bf16 error), and changes nothing elsewhere */
static void check_precision(void) {
    am__matmul_prec p;
    CHECK(am__matmul_prec_parse("medium", &p) && p == AM__PREC_MEDIUM);
    CHECK(am__matmul_prec_parse("HIGHEST", &p) && p == AM__PREC_HIGHEST);
    CHECK(!am__matmul_prec_parse("low", &p));
    const int64_t M = 64, N = 96, K = 256;
    float *x = malloc((size_t)(M * K) * 4), *w = malloc((size_t)(N * K) * 4), *b = calloc((size_t)N, 4);
    float *y1 = malloc((size_t)(M * N) * 4), *y2 = malloc((size_t)(M * N) * 4);
    double *ref = malloc((size_t)(M * N) * 8), *mag = malloc((size_t)(M * N) * 8);
    for (int64_t i = 0; i < M * K; i++) x[i] = rnd();
    for (int64_t i = 0; i < N * K; i++) w[i] = rnd();
    am_tensor *t = make_weight(AM_F32, false, N, K, w);
    reference(M, N, K, x, w, b, ref, mag);
    am__linear_w(M, x, t, false, b, y1, AM__PREC_HIGHEST);
    CHECK(am__linear_set_precision(t, AM__PREC_MEDIUM));
    am__linear_w(M, x, t, false, b, y2, AM__PREC_DEFAULT);
    bool native = am__bf16_matmul_native();
    CHECK(!strcmp(am__linear_path(AM_F32, M, AM__PREC_MEDIUM), native ? "onednn_bf16" : "onednn_f32"));
    int64_t bad = 0;
    double diff = 0;
    for (int64_t i = 0; i < M * N; i++) {
        if (!within(y1[i], ref[i], mag[i], false) || !within(y2[i], ref[i], mag[i], true)) bad++;
        diff = fmax(diff, fabs((double)y1[i] - y2[i]));
    }
    CHECKF(!bad, "precision: %lld outside tolerance", (long long)bad);
    if (native && !getenv("AM_NO_PACK")) CHECKF(diff > 0, "medium precision changed nothing: fpmath bf16 not in effect");
    else if (!native) CHECKF(diff == 0, "medium precision without bf16 units must stay float32 (diff %.3g)", diff);
    printf("float32_matmul_precision medium vs highest, %lldx%lldx%lld: max |diff| %.3g\n", (long long)M, (long long)N, (long long)K, diff);
    am_tensor_free(t);
    free(x);
    free(w);
    free(b);
    free(y1);
    free(y2);
    free(ref);
    free(mag);
}

/* float32_matmul_precision "medium" on the fixture models: the error against transformers'
 * float32 reference is measured (and printed: docs/precision.md quotes it), bounded by the
 * fixtures' bf16 tolerance, and nonzero where bf16 units exist; a bad value is refused */
static void check_model_precision(void) {
    static const struct {
        const char *name;
        am_task task;
        const char *out;
    } cases[] = {{"bert_model", AM_TASK_BASE, "last_hidden_state"}, {"distilbert_seqcls", AM_TASK_SEQUENCE_CLASSIFICATION, "logits"},
                 {"gpt2_lm", AM_TASK_CAUSAL_LM, "logits"},      {"llama_lm", AM_TASK_CAUSAL_LM, "logits"},
                 {"t5_cg", AM_TASK_SEQ2SEQ_LM, "logits"},       {"bart_cg", AM_TASK_SEQ2SEQ_LM, "logits"}};
    char path[4096];
    am_load_options o = am_load_options_default();
    o.float32_matmul_precision = "low";
    snprintf(path, sizeof path, "%s", am_test_fixture("models/bert_model"));
    am_model *bad = am_model_from_pretrained(AM_TASK_BASE, path, &o);
    CHECKF(bad == NULL && strstr(am_last_error(), "float32_matmul_precision"), "bad precision refused: %s", am_last_error());
    am_model_free(bad);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(path, sizeof path, "%s/expected.safetensors", am_test_fixture("models"));
        snprintf(path, sizeof path, "%s/%s/expected.safetensors", am_test_fixture("models"), cases[c].name);
        am_tensors *exp = am_tensors_load_safetensors(path);
        CHECKF(exp != NULL, "%s: %s", path, am_last_error());
        if (!exp) continue;
        am_tensors *in = am_tensors_new();
        for (size_t i = 0; i < am_tensors_count(exp); i++)
            if (!strncmp(am_tensors_name(exp, i), "in.", 3)) am_tensors_set(in, am_tensors_name(exp, i) + 3, am_tensors_at(exp, i));
        snprintf(path, sizeof path, "%s/%s", am_test_fixture("models"), cases[c].name);
        o.float32_matmul_precision = "medium";
        am_model *m = am_model_from_pretrained(cases[c].task, path, &o);
        CHECKF(m != NULL, "%s medium: %s", cases[c].name, am_last_error());
        am_tensors *out = m ? am_model_forward(m, in, NULL) : NULL;
        char want_name[128];
        snprintf(want_name, sizeof want_name, "out.%s", cases[c].out);
        am_tensor *got = out ? am_tensors_get(out, cases[c].out) : NULL, *want = am_tensors_get(exp, want_name);
        CHECKF(got && want && am_tensor_numel(got) == am_tensor_numel(want) && am_tensor_dtype(got) == AM_F32, "%s: output %s", cases[c].name, cases[c].out);
        if (got && want && am_tensor_numel(got) == am_tensor_numel(want)) {
            const float *g = am_tensor_cdata(got), *w = am_tensor_cdata(want);
            double worst = 0, worst_rel = 0;
            int64_t bad_n = 0;
            for (int64_t i = 0; i < am_tensor_numel(want); i++) {
                double d = fabs((double)g[i] - w[i]);
                worst = fmax(worst, d);
                worst_rel = fmax(worst_rel, d / (fabs(w[i]) + 1e-3));
                if (!(d <= 0.15 + 0.05 * fabs(w[i]))) bad_n++;
            }
            CHECKF(!bad_n, "%s medium: %lld elements outside the bf16 tolerance (max |diff| %.3g)", cases[c].name, (long long)bad_n, worst);
            if (am__bf16_matmul_native() && !getenv("AM_NO_PACK")) CHECKF(worst > 1e-6, "%s medium: no bf16 rounding seen (max |diff| %.3g)", cases[c].name, worst);
            printf("float32_matmul_precision=medium %s %s: max |diff| vs transformers float32 %.3g\n", cases[c].name, cases[c].out, worst);
        }
        am_tensors_free(out);
        am_model_free(m);
        am_tensors_free(in);
        am_tensors_free(exp);
    }
}

int am_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    check_report();
    check_linear();
    check_concurrent_first_use();
    check_precision();
    check_model_precision();
    return 0;
}
