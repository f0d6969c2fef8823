/* kernels/isa.c — what the CPU can do, what we allow ourselves to use (AM_MAX_ISA, and oneDNN's
 * ONEDNN_MAX_CPU_ISA), and the run-time report of which kernel every path picked. Decided once, on
 * first use, for the whole process. */
#include "core/log.h"
#include "kernels/kernels.h"
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static unsigned g_feat;          /* AM__CPU_* bits the CPU and OS support */
static am__isa g_native, g_isa;  /* best level the CPU has; level in force after the caps */
static const char *g_cap_src;    /* "AM_MAX_ISA=...", "ONEDNN_MAX_CPU_ISA=..." or NULL */
static dnnl_cpu_isa_t g_dnnl_isa;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
static unsigned detect(void) {
    unsigned a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    bool osxsave = c & (1u << 27), avx = c & (1u << 28);
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    bool ymm = avx && (xcr0 & 6) == 6, zmm = ymm && (xcr0 & 0xe0) == 0xe0, tiles = (xcr0 & 0x60000) == 0x60000;
    if (ymm && (c & (1u << 12))) f |= AM__CPU_FMA;
    if (ymm && (c & (1u << 29))) f |= AM__CPU_F16C;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    if (ymm && (b & (1u << 5))) f |= AM__CPU_AVX2;
    if (zmm && (b & (1u << 16))) f |= AM__CPU_AVX512F;
    if (zmm && (b & (1u << 30))) f |= AM__CPU_AVX512BW;
    if (zmm && (b & (1u << 31))) f |= AM__CPU_AVX512VL;
    if (zmm && (c & (1u << 11))) f |= AM__CPU_AVX512VNNI;
    if (zmm && (d & (1u << 23))) f |= AM__CPU_AVX512FP16;
    if (tiles && (d & (1u << 22))) f |= AM__CPU_AMX_BF16;
    if (tiles && (d & (1u << 25))) f |= AM__CPU_AMX_INT8;
    unsigned sub = a;
    if (sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        if (zmm && (a & (1u << 5))) f |= AM__CPU_AVX512BF16;
        if (tiles && (a & (1u << 21))) f |= AM__CPU_AMX_FP16;
    }
    return f;
}
#else
static unsigned detect(void) { return 0; }
#endif

static const char *const k_isa_names[] = {"portable", "avx2", "avx512", "avx512_bf16", "amx"};

static am__isa level_of(unsigned f) {
    const unsigned avx2 = AM__CPU_AVX2 | AM__CPU_FMA | AM__CPU_F16C, avx512 = avx2 | AM__CPU_AVX512F | AM__CPU_AVX512BW | AM__CPU_AVX512VL;
    if ((f & avx512) == avx512) {
        if (f & AM__CPU_AVX512BF16) return (f & AM__CPU_AMX_BF16) ? AM__ISA_AMX : AM__ISA_AVX512_BF16;
        return AM__ISA_AVX512;
    }
    return (f & avx2) == avx2 ? AM__ISA_AVX2 : AM__ISA_PORTABLE;
}

static bool parse_level(const char *s, am__isa *out) {
    if (!strcasecmp(s, "native") || !strcasecmp(s, "all")) {
        *out = AM__ISA_AMX;
        return true;
    }
    if (!strcasecmp(s, "c")) {
        *out = AM__ISA_PORTABLE;
        return true;
    }
    for (int i = 0; i <= AM__ISA_AMX; i++)
        if (!strcasecmp(s, k_isa_names[i])) {
            *out = (am__isa)i;
            return true;
        }
    return false;
}

/* oneDNN's level names (ONEDNN_MAX_CPU_ISA / dnnl_get_effective_cpu_isa) on our scale */
static am__isa from_dnnl(dnnl_cpu_isa_t i) {
    switch (i) {
    case dnnl_cpu_isa_avx512_core_amx: return AM__ISA_AMX;
    case dnnl_cpu_isa_avx512_core_bf16: return AM__ISA_AVX512_BF16;
    case dnnl_cpu_isa_avx512_core:
    case dnnl_cpu_isa_avx512_core_vnni: return AM__ISA_AVX512;
    case dnnl_cpu_isa_avx2:
    case dnnl_cpu_isa_avx2_vnni: return AM__ISA_AVX2;
    case dnnl_cpu_isa_all: return AM__ISA_AMX;
    default: return AM__ISA_PORTABLE;
    }
}
static dnnl_cpu_isa_t to_dnnl(am__isa l) {
    switch (l) {
    case AM__ISA_AMX: return dnnl_cpu_isa_all;
    case AM__ISA_AVX512_BF16: return dnnl_cpu_isa_avx512_core_bf16;
    case AM__ISA_AVX512: return dnnl_cpu_isa_avx512_core_vnni;
    case AM__ISA_AVX2: return dnnl_cpu_isa_avx2;
    default: return dnnl_cpu_isa_sse41;
    }
}
static const char *dnnl_isa_name(dnnl_cpu_isa_t i) {
    switch (i) {
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_sse41: return "sse41";
    default: return "other";
    }
}

static void init(void) {
    g_feat = detect();
    g_native = level_of(g_feat);
    g_isa = g_native;
    const char *cap = getenv("AM_MAX_ISA");
    am__isa want;
    if (cap && *cap) {
        if (!parse_level(cap, &want))
            am__log(AM_LOG_WARNING, "AM_MAX_ISA=%s is not one of avx2, avx512, avx512_bf16, amx, native (or c); ignored", cap);
        else {
            if (want < g_isa) g_isa = want, g_cap_src = "AM_MAX_ISA";
            /* oneDNN down to the same level; must come before its first primitive */
            if (want < AM__ISA_AMX && dnnl_set_max_cpu_isa(to_dnnl(want)) != dnnl_success)
                am__log(AM_LOG_WARNING, "AM_MAX_ISA=%s: oneDNN already chose its ISA; its kernels are not capped", cap);
        }
    }
    /* ONEDNN_MAX_CPU_ISA (read by oneDNN itself) caps our own kernels too, so one variable forces
     * one level everywhere */
    g_dnnl_isa = dnnl_get_effective_cpu_isa();
    am__isa d = from_dnnl(g_dnnl_isa);
    if (d < g_isa) {
        g_isa = d;
        if (!g_cap_src) g_cap_src = "ONEDNN_MAX_CPU_ISA";
    }
}

unsigned am__cpu_features(void) {
    pthread_once(&g_once, init);
    return g_feat;
}

am__isa am__isa_level(void) {
    pthread_once(&g_once, init);
    return g_isa;
}

const char *am__isa_name(am__isa l) { return l >= AM__ISA_PORTABLE && l <= AM__ISA_AMX ? k_isa_names[l] : "?"; }

bool am__bf16_matmul_native(void) { return am__isa_level() >= AM__ISA_AVX512_BF16; }

static char g_report[1536];
static pthread_once_t g_report_once = PTHREAD_ONCE_INIT;

static void build_report(void) {
    unsigned f = am__cpu_features();
    static const struct {
        unsigned bit;
        const char *name;
    } k[] = {{AM__CPU_AVX2, "avx2"},           {AM__CPU_FMA, "fma"},
             {AM__CPU_F16C, "f16c"},           {AM__CPU_AVX512F, "avx512f"},
             {AM__CPU_AVX512BW, "avx512bw"},   {AM__CPU_AVX512VL, "avx512vl"},
             {AM__CPU_AVX512VNNI, "avx512_vnni"}, {AM__CPU_AVX512BF16, "avx512_bf16"},
             {AM__CPU_AVX512FP16, "avx512_fp16"}, {AM__CPU_AMX_BF16, "amx_bf16"},
             {AM__CPU_AMX_INT8, "amx_int8"},   {AM__CPU_AMX_FP16, "amx_fp16"}};
    char feats[400] = "";
    size_t n = 0;
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (f & k[i].bit) n += (size_t)snprintf(feats + n, sizeof feats - n, "%s\"%s\"", n ? ", " : "", k[i].name);
    const char *prec = getenv("AM_FLOAT32_MATMUL_PRECISION");
    snprintf(g_report, sizeof g_report,
             "{\"cpu_features\": [%s], \"native_isa\": \"%s\", \"isa\": \"%s\", \"isa_cap\": %s%s%s, \"onednn_isa\": \"%s\", "
             "\"kernels\": {\"gemm_f32\": \"onednn\", \"gemm_bf16\": \"%s\", \"gemm_f16\": \"%s\", \"gemv\": \"%s\", "
             "\"int8_gemv\": \"%s\", \"float32_matmul_precision\": \"%s\"}}",
             feats, am__isa_name(g_native), am__isa_name(g_isa), g_cap_src ? "\"" : "", g_cap_src ? g_cap_src : "null", g_cap_src ? "\"" : "",
             dnnl_isa_name(g_dnnl_isa), am__bf16_matmul_native() ? "onednn_bf16" : "f32_widened_once",
             "f32_converted_once", am__gemv_isa(), am__qgemv_isa(), prec && *prec ? prec : "highest");
}

const char *am_cpu_report_json(void) {
    pthread_once(&g_report_once, build_report);
    return g_report;
}
