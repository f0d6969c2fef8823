/* auto/quantize.c — from_pretrained's quantization at load (transformers 4.32's BitsAndBytesConfig
 * path): the options or the quantization_config JSON resolved into one config, the modules kept
 * unquantized chosen as transformers does, and every other nn.Linear / Conv1D weight replaced by
 * an 8-bit or 4-bit tensor the linear entry dispatches on (kernels/quant.c). */
#include "auto/auto.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/util.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void am__qconfig_free(am__qconfig *q) {
    for (size_t i = 0; i < q->n_skip; i++) free(q->skip[i]);
    free(q->skip);
    memset(q, 0, sizeof *q);
}

static am_status skip_add(am__qconfig *q, const char *s) {
    char **v = realloc(q->skip, (q->n_skip + 1) * sizeof *v);
    if (!v) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    q->skip = v;
    if (!(v[q->n_skip] = am__strdup(s))) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    q->n_skip++;
    return AM_OK;
}

static am_status quant_type(const char *s, am__qtype *out) {
    if (!s || !strcmp(s, "fp4")) *out = AM__Q_FP4;
    else if (!strcmp(s, "nf4")) *out = AM__Q_NF4;
    else return am__error(AM_ERR_INVALID_ARGUMENT, "bnb_4bit_quant_type must be \"fp4\" or \"nf4\" (got \"%s\")", s);
    return AM_OK;
}

static am_status compute_dtype(am_dtype d, am_dtype *out) {
    if (d != AM_F32 && d != AM_BF16 && d != AM_F16)
        return am__error(AM_ERR_INVALID_ARGUMENT, "bnb_4bit_compute_dtype must be float32, bfloat16 or float16 (got %s)", am_dtype_name(d));
    *out = d;
    return AM_OK;
}

/* BitsAndBytesConfig.from_dict: the keys of to_dict(); anything else is refused */
static am_status from_json(const char *text, am__qconfig *q) {
    cJSON *o = NULL;
    am_status s = am__json_parse(text, strlen(text), "quantization_config", &o);
    if (s != AM_OK) return s;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return am__error(AM_ERR_INVALID_ARGUMENT, "quantization_config: expected a JSON object");
    }
    bool in8 = false, in4 = false;
    const char *qt = NULL;
    for (const cJSON *it = o->child; it && s == AM_OK; it = it->next) {
        const char *k = it->string;
        bool isb = cJSON_IsBool(it), t = cJSON_IsTrue(it);
#define BAD(what) am__error(AM_ERR_INVALID_ARGUMENT, "quantization_config: \"%s\" must be %s", k, what)
        if (!strcmp(k, "quant_method")) {
            if (!cJSON_IsString(it) || strcmp(it->valuestring, "bitsandbytes"))
                s = am__error(AM_ERR_UNSUPPORTED, "quantization_config: quant_method \"%s\" is not supported (only \"bitsandbytes\")",
                              cJSON_IsString(it) ? it->valuestring : "?");
        } else if (!strcmp(k, "load_in_8bit")) s = isb ? (in8 = t, AM_OK) : BAD("a boolean");
        else if (!strcmp(k, "load_in_4bit")) s = isb ? (in4 = t, AM_OK) : BAD("a boolean");
        else if (!strcmp(k, "llm_int8_threshold")) s = cJSON_IsNumber(it) ? (q->threshold = (float)it->valuedouble, AM_OK) : BAD("a number");
        else if (!strcmp(k, "llm_int8_skip_modules")) {
            if (cJSON_IsNull(it)) continue;
            if (!cJSON_IsArray(it)) s = BAD("a list of module names or null");
            q->skip_set = true;
            for (const cJSON *e = it->child; e && s == AM_OK; e = e->next) s = cJSON_IsString(e) ? skip_add(q, e->valuestring) : BAD("a list of module names or null");
        } else if (!strcmp(k, "llm_int8_enable_fp32_cpu_offload") || !strcmp(k, "llm_int8_has_fp16_weight")) {
            if (!isb) s = BAD("a boolean");
            else if (t)
                s = am__error(AM_ERR_UNSUPPORTED, "quantization_config: %s=true is not supported (%s)", k,
                              k[9] == 'e' ? "modules offloaded in float32 belong to device_map" : "int8 training with float16 master weights");
        } else if (!strcmp(k, "bnb_4bit_quant_type")) s = cJSON_IsString(it) ? quant_type(qt = it->valuestring, &q->q4) : BAD("\"fp4\" or \"nf4\"");
        else if (!strcmp(k, "bnb_4bit_compute_dtype")) {
            am_dtype d = AM_F32;
            if (cJSON_IsNull(it)) continue;
            if (!cJSON_IsString(it) || am_dtype_parse(it->valuestring, &d) != AM_OK) s = BAD("float32, bfloat16 or float16");
            else s = compute_dtype(d, &q->compute);
        } else if (!strcmp(k, "bnb_4bit_use_double_quant")) s = isb ? (q->dq = t, AM_OK) : BAD("a boolean");
        else if (!strcmp(k, "_load_in_8bit") || !strcmp(k, "_load_in_4bit")) /* transformers >= 4.36's to_dict() */
            s = isb ? ((k[9] == '8' ? (in8 |= t) : (in4 |= t)), AM_OK) : BAD("a boolean");
        else if (!strcmp(k, "bnb_4bit_quant_storage")) /* transformers >= 4.39 */
            s = cJSON_IsString(it) && !strcmp(it->valuestring, "uint8") ? AM_OK : BAD("\"uint8\" (the only storage supported)");
        else s = am__error(AM_ERR_INVALID_ARGUMENT, "quantization_config: unknown key \"%s\" (BitsAndBytesConfig's keys only)", k);
#undef BAD
    }
    cJSON_Delete(o);
    q->bits = in8 && in4 ? -1 : in8 ? 8 : in4 ? 4 : 0;
    (void)qt;
    return s;
}

am_status am__qconfig_from_options(const am_load_options *o, am__qconfig *q) {
    memset(q, 0, sizeof *q);
    q->threshold = 6.0f, q->q4 = AM__Q_FP4, q->compute = AM_F32;
    am_status s = AM_OK;
    if (o->quantization_config) {
        if (o->load_in_8bit || o->load_in_4bit)
            s = am__error(AM_ERR_INVALID_ARGUMENT, "You can't pass `load_in_8bit` or `load_in_4bit` as a kwarg when passing `quantization_config` argument at the same time.");
        else s = from_json(o->quantization_config, q);
    } else {
        q->bits = o->load_in_8bit && o->load_in_4bit ? -1 : o->load_in_8bit ? 8 : o->load_in_4bit ? 4 : 0;
        q->threshold = o->llm_int8_threshold;
        q->dq = o->bnb_4bit_use_double_quant;
        s = quant_type(o->bnb_4bit_quant_type, &q->q4);
        if (s == AM_OK) s = compute_dtype(o->bnb_4bit_compute_dtype, &q->compute);
        if (o->llm_int8_skip_modules) q->skip_set = true;
        for (size_t i = 0; s == AM_OK && o->llm_int8_skip_modules && i < o->n_llm_int8_skip_modules; i++)
            s = o->llm_int8_skip_modules[i] ? skip_add(q, o->llm_int8_skip_modules[i])
                                            : am__error(AM_ERR_INVALID_ARGUMENT, "llm_int8_skip_modules[%zu] is NULL", i);
    }
    if (s == AM_OK && q->bits < 0)
        s = am__error(AM_ERR_INVALID_ARGUMENT, "load_in_4bit and load_in_8bit are both True, but only one can be used at the same time");
    if (s == AM_OK && !(isfinite(q->threshold) && q->threshold >= 0))
        s = am__error(AM_ERR_INVALID_ARGUMENT, "llm_int8_threshold must be a finite number >= 0 (got %g)", (double)q->threshold);
    if (s != AM_OK) am__qconfig_free(q);
    return s;
}

am_status am__qconfig_resolve(const am_config *cfg, const am_load_options *o, am__qconfig *q, bool *pre) {
    *pre = false;
    const cJSON *qc = am__config_value(cfg, "quantization_config");
    if (!qc || cJSON_IsNull(qc)) return am__qconfig_from_options(o, q);
    /* a checkpoint saved quantized: its own config wins, as in transformers */
    if (o->load_in_8bit || o->load_in_4bit || o->quantization_config)
        am__log(AM_LOG_WARNING, "You passed `quantization_config` or equivalent parameters to `from_pretrained` but the model you're loading already has a "
                                "`quantization_config` attribute. The `quantization_config` from the model will be used.");
    char *text = cJSON_PrintUnformatted(qc);
    if (!text) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    am_load_options po = am_load_options_default();
    po.quantization_config = text;
    am_status s = am__qconfig_from_options(&po, q);
    free(text);
    if (s == AM_OK && !q->bits) am__log(AM_LOG_WARNING, "config.json: quantization_config loads neither 8-bit nor 4-bit weights; loading unquantized");
    *pre = s == AM_OK && q->bits;
    return s;
}

/* BitsAndBytesConfig.to_dict() as config.json stores it */
static char *to_json(const am__qconfig *q) {
    cJSON *o = cJSON_CreateObject(), *sk = NULL;
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "quant_method", "bitsandbytes");
    cJSON_AddBoolToObject(o, "load_in_8bit", q->bits == 8);
    cJSON_AddBoolToObject(o, "load_in_4bit", q->bits == 4);
    cJSON_AddNumberToObject(o, "llm_int8_threshold", q->threshold);
    if (q->skip_set) {
        sk = cJSON_AddArrayToObject(o, "llm_int8_skip_modules");
        for (size_t i = 0; sk && i < q->n_skip; i++) cJSON_AddItemToArray(sk, cJSON_CreateString(q->skip[i]));
    } else cJSON_AddNullToObject(o, "llm_int8_skip_modules");
    cJSON_AddBoolToObject(o, "llm_int8_enable_fp32_cpu_offload", false);
    cJSON_AddBoolToObject(o, "llm_int8_has_fp16_weight", false);
    cJSON_AddStringToObject(o, "bnb_4bit_quant_type", q->q4 == AM__Q_NF4 ? "nf4" : "fp4");
    cJSON_AddBoolToObject(o, "bnb_4bit_use_double_quant", q->dq);
    cJSON_AddStringToObject(o, "bnb_4bit_compute_dtype", am_dtype_name(q->compute));
    char *r = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return r;
}

static bool is_alias(const am_model *m, const char *name) {
    for (size_t k = 0; k < m->n_ties; k++)
        if (!strcmp(m->tie_alias[k], name)) return true;
    return false;
}

/* name with every ".weight" / ".bias" removed (transformers' str.replace) */
static char *strip_suffixes(const char *name) {
    char *r = am__strdup(name);
    if (!r) return NULL;
    static const char *const rm[] = {".weight", ".bias"};
    for (int j = 0; j < 2; j++) {
        char *p;
        size_t l = strlen(rm[j]);
        while ((p = strstr(r, rm[j]))) memmove(p, p + l, strlen(p + l) + 1);
    }
    return r;
}

/* transformers 4.32 get_keys_to_not_convert: tied parameters and the last parameter's module,
 * nothing for a base model without ties */
static am_status keys_to_not_convert(const am_model *m, const am__named_param *np, size_t n, am__qconfig *q) {
    const char *prefix = am__model_type_spec(m)->base_model_prefix;
    bool is_base = !prefix || !*prefix || !am__module_child(m->root, prefix);
    if (!m->n_ties && is_base) return AM_OK;
    am_status s = AM_OK;
    for (size_t k = 0; k < m->n_ties && s == AM_OK; k++) {
        char *a = strip_suffixes(m->tie_alias[k]), *t = strip_suffixes(m->tie_target[k]);
        s = a && t ? skip_add(q, a) : am__error(AM_ERR_NO_MEMORY, "out of memory");
        if (s == AM_OK) s = skip_add(q, t);
        free(a), free(t);
    }
    for (size_t i = n; i-- > 0 && s == AM_OK;)
        if (!np[i].p->is_buffer && !is_alias(m, np[i].name)) {
            char *l = strip_suffixes(np[i].name);
            s = l ? skip_add(q, l) : am__error(AM_ERR_NO_MEMORY, "out of memory");
            free(l);
            break;
        }
    return s;
}

static bool skipped(const am__qconfig *q, const char *module_name, const char *local) {
    for (size_t i = 0; i < q->n_skip; i++)
        if (!strcmp(local, q->skip[i]) || strstr(module_name, q->skip[i])) return true;
    return false;
}

am_status am__qplan(const am_model *m, const am__qconfig *qin, am__qconfig *q) {
    *q = *qin;
    q->skip = NULL, q->n_skip = 0;
    am_status s = AM_OK;
    for (size_t i = 0; i < qin->n_skip && s == AM_OK; i++) s = skip_add(q, qin->skip[i]);
    am__named_param *np = NULL;
    size_t n = 0;
    if (s == AM_OK && !q->skip_set && (s = am__named_params(m->root, &np, &n)) == AM_OK) {
        s = keys_to_not_convert(m, np, n, q);
        am__named_params_free(np, n);
    }
    for (const char *const *k = m->spec->keep_in_fp32_modules; s == AM_OK && k && *k; k++) s = skip_add(q, *k);
    if (s != AM_OK) am__qconfig_free(q);
    return s;
}

int am__qplan_wants(const am_model *m, const am__qconfig *q, const am__named_param *e, const am_tensor *cur, bool *kn, int64_t *N, int64_t *K) {
    const am__param *p = e->p;
    const am__module *own = e->owner;
    bool lin = own->is_linear || (own->type && !strcmp(own->type, "Conv1D"));
    if (!q->bits || !lin || p->is_buffer || strcmp(p->name, "weight") || p->ndim != 2 || is_alias(m, e->name)) return 0;
    if (!am__qweight_of(cur)) { /* a weight stored quantized stays so */
        size_t nl = strlen(e->name) - strlen(".weight");
        char *mname = strndup(e->name, nl);
        if (!mname) return am__error(AM_ERR_NO_MEMORY, "out of memory"), -1;
        bool skip = skipped(q, mname, own->name);
        free(mname);
        if (skip) return 0;
    }
    *kn = !own->is_linear; /* Conv1D: [in, out] */
    *N = *kn ? p->shape[1] : p->shape[0], *K = *kn ? p->shape[0] : p->shape[1];
    return 1;
}

uint64_t am__qplan_bytes(const am__qconfig *q, int64_t N, int64_t K) {
    uint64_t nk = (uint64_t)N * (uint64_t)K, nb = (nk + 63) / 64;
    if (q->bits == 8) return nk + 8 * (uint64_t)N; /* CB, SCB, the row sums */
    return (nk + 1) / 2 + nb * (q->dq ? 5 : 4);    /* codes, absmax (+ its nested codes) */
}

size_t am__qplan_arena_bytes(const am__qconfig *q, int64_t N, int64_t K) {
    size_t nk = (size_t)N * (size_t)K;
    return am__arena_bytes(q->bits == 8 ? nk : (nk + 1) / 2);
}

am_tensor *am__qplan_quantize(const am__qconfig *q, const am_tensor *src, am_dtype round_to, bool kn, int64_t N, int64_t K, am__arena *arena) {
    const float *wf = src->dtype == AM_F32 && round_to == AM_F32 && (uintptr_t)src->data % sizeof(float) == 0 ? src->data : NULL;
    /* otherwise a float32 copy, rounded through round_to: its own pages (mmap), returned to the
     * system when done, so that one weight's scratch at a time is ever resident (heap blocks of
     * this size would raise malloc's mmap threshold and stay in the process) */
    size_t bytes = (size_t)(N * K > 0 ? N * K : 1) * sizeof(float);
    float *tmp = NULL;
    if (!wf && am__dtype_is_float(src->dtype)) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        tmp = p == MAP_FAILED ? NULL : p;
    }
    if (tmp) {
        am__to_f32(src->data, src->dtype, N * K, tmp);
        if (round_to == AM_F16 || round_to == AM_BF16) { /* param.to(dtype): round to nearest even */
            uint16_t h[1024];
            for (int64_t i = 0; i < N * K; i += 1024) {
                int64_t c = N * K - i < 1024 ? N * K - i : 1024;
                for (int64_t j = 0; j < c; j++) h[j] = round_to == AM_F16 ? am__f32_to_f16(tmp[i + j]) : am__f32_to_bf16(tmp[i + j]);
                am__to_f32(h, round_to, c, tmp + i);
            }
        }
        wf = tmp;
    }
    am_tensor *qt = !wf ? NULL : q->bits == 8 ? am__quantize_int8(wf, kn, N, K, q->threshold, arena)
                                      : am__quantize_4bit(wf, kn, N, K, q->q4, q->dq, q->compute, arena);
    if (tmp) munmap(tmp, bytes);
    return qt;
}

am_status am__model_quantize(am_model *m, const am__qconfig *qin) {
    if (qin->bits == 0) return AM_OK;
    am__qconfig q;
    am_status s = am__qplan(m, qin, &q);
    if (s != AM_OK) return s;
    am__named_param *np = NULL;
    size_t n = 0;
    s = am__named_params(m->root, &np, &n);
    size_t done = 0, arena_bytes = 0;
    for (size_t i = 0; i < n && s == AM_OK; i++) { /* what this pass quantizes, for one arena */
        bool kn = false;
        int64_t N = 0, K = 0;
        int w = np[i].p->t ? am__qplan_wants(m, &q, &np[i], np[i].p->t, &kn, &N, &K) : 0;
        if (w < 0) s = AM_ERR_NO_MEMORY;
        if (w > 0 && !am__qweight_of(np[i].p->t)) arena_bytes += am__qplan_arena_bytes(&q, N, K);
    }
    am__arena arena;
    am__arena_init(&arena, arena_bytes);
    for (size_t i = 0; i < n && s == AM_OK; i++) {
        am__param *p = np[i].p;
        am__module *own = np[i].owner;
        bool kn = false;
        int64_t N = 0, K = 0;
        if (!p->t) continue;
        int w = am__qplan_wants(m, &q, &np[i], p->t, &kn, &N, &K);
        if (w < 0) s = AM_ERR_NO_MEMORY;
        if (w <= 0) continue;
        const am__qweight *pq = am__qweight_of(p->t);
        if (pq && (pq->type == AM__Q_INT8) != (q.bits == 8)) {
            s = am__error(AM_ERR_FORMAT, "'%s' is stored %s but quantization_config says load_in_%dbit", np[i].name, pq->type == AM__Q_INT8 ? "8-bit" : "4-bit",
                          q.bits);
            break;
        }
        /* quantized as it was loaded (am__qplan in load_weights), stored quantized, or here */
        am_tensor *qt = pq ? am_tensor_retain(p->t) : am__qplan_quantize(&q, p->t, p->t->dtype, kn, N, K, &arena);
        if (!qt) {
            s = am__error(AM_ERR_NO_MEMORY, "out of memory quantizing '%s'", np[i].name);
            break;
        }
        if (!pq) am__tensor_drop_pages(p->t); /* a mapped source: its pages leave the resident set */
        am_tensor_free(p->t);
        p->t = qt;
        p->trainable = false;
        char *ty = am__strdup(q.bits == 8 ? "Linear8bitLt" : "Linear4bit");
        if (!ty) {
            s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            break;
        }
        free(own->type);
        own->type = ty;
        if (kn) am__module_set_extra(own, "in_features=%lld, out_features=%lld, bias=%s", (long long)K, (long long)N,
                                     am__module_find_param(own, "bias") ? "True" : "False");
        done++;
    }
    am__arena_release(&arena);
    am__named_params_free(np, n);
    if (s == AM_OK) {
        char *js = to_json(qin);
        s = js ? am_config_set_json(m->config, "quantization_config", js) : am__error(AM_ERR_NO_MEMORY, "out of memory");
        free(js);
    }
    if (s == AM_OK) {
        m->quant_bits = q.bits;
        if (!done)
            am__log(AM_LOG_WARNING, "You are loading your model in 8bit or 4bit but no linear modules were found in your model. Please double check your model "
                                    "architecture, or submit an issue on github if you think this is a bug.");
        else am__log(AM_LOG_INFO, "quantized %zu linear weights to %d bits", done, q.bits);
    }
    am__qconfig_free(&q);
    return s;
}

/* ---- checkpoints saved quantized (bitsandbytes' serialization) ---- */

static size_t find_name(char *const *names, size_t n, const char *x) {
    for (size_t i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], x)) return i;
    return SIZE_MAX;
}

/* a float32 copy of a float tensor's elements (absmax / SCB / quant maps), n elements expected */
static float *floats_of(const am_tensor *t, int64_t n) {
    if (!am__dtype_is_float(t->dtype) || am_tensor_numel(t) != n) return NULL;
    float *f = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (f) am__to_f32(t->data, t->dtype, n, f);
    return f;
}

static am_status fmt_err(const char *file, const char *key, const char *what) {
    return am__error(AM_ERR_FORMAT, "%s: quantized weight '%s': %s", file, key, what);
}

/* The quant state JSON of Params4bit (QuantState.as_dict(packed=True)'s non-tensor part). */
static am_status qs_json(const am_tensor *t, const char *file, const char *key, cJSON **out) {
    *out = NULL;
    if (t->dtype != AM_U8 || t->ndim != 1) return fmt_err(file, key, "the quant_state tensor must be uint8 [n] (JSON bytes)");
    am_status s = am__json_parse(t->data, (size_t)t->shape[0], key, out);
    if (s == AM_OK && !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        s = fmt_err(file, key, "the quant_state is not a JSON object");
    }
    return s;
}

static am_status take_4bit(char **names, am_tensor **t, size_t n, size_t qi, size_t wi, const char *file, am_dtype compute, bool *used) {
    const char *wkey = names[wi];
    cJSON *js = NULL;
    am_status s = qs_json(t[qi], file, names[qi], &js);
    if (s != AM_OK) return s;
    const char *qt = cJSON_GetStringValue(cJSON_GetObjectItem(js, "quant_type"));
    const cJSON *bs = cJSON_GetObjectItem(js, "blocksize"), *sh = cJSON_GetObjectItem(js, "shape");
    am__qtype ty = qt && !strcmp(qt, "nf4") ? AM__Q_NF4 : AM__Q_FP4;
    int64_t N = 0, K = 0;
    if (!qt || (strcmp(qt, "nf4") && strcmp(qt, "fp4"))) s = fmt_err(file, wkey, "quant_type must be \"nf4\" or \"fp4\"");
    else if (!cJSON_IsNumber(bs) || bs->valuedouble != 64)
        s = fmt_err(file, wkey, "only blocksize 64 (transformers' default) is supported");
    else if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) != 2 || !cJSON_IsNumber(sh->child) || !cJSON_IsNumber(sh->child->next) ||
             sh->child->valuedouble < 1 || sh->child->next->valuedouble < 1 || sh->child->valuedouble > 1e9 || sh->child->next->valuedouble > 1e9)
        s = fmt_err(file, wkey, "the quant_state shape must be [out_features, in_features]");
    if (s == AM_OK) N = (int64_t)sh->child->valuedouble, K = (int64_t)sh->child->next->valuedouble;
    int64_t nel = N * K, nb = (nel + 63) / 64, nnb = (nb + 255) / 256;
    const am_tensor *w = t[wi];
    if (s == AM_OK && (w->dtype != AM_U8 || am_tensor_numel(w) != (nel + 1) / 2))
        s = fmt_err(file, wkey, "expected uint8 codes, (out_features * in_features + 1) / 2 bytes");
    char k[1200];
    size_t ai = SIZE_MAX, mi = SIZE_MAX, nai = SIZE_MAX, nmi = SIZE_MAX;
    if (s == AM_OK) {
        snprintf(k, sizeof k, "%s.absmax", wkey), ai = find_name(names, n, k);
        snprintf(k, sizeof k, "%s.quant_map", wkey), mi = find_name(names, n, k);
        snprintf(k, sizeof k, "%s.nested_absmax", wkey), nai = find_name(names, n, k);
        snprintf(k, sizeof k, "%s.nested_quant_map", wkey), nmi = find_name(names, n, k);
        if (ai == SIZE_MAX || mi == SIZE_MAX) s = fmt_err(file, wkey, "weight.absmax or weight.quant_map is missing");
        else if ((nai == SIZE_MAX) != (nmi == SIZE_MAX)) s = fmt_err(file, wkey, "nested_absmax and nested_quant_map go together");
    }
    bool nested = s == AM_OK && nai != SIZE_MAX;
    float *code = NULL, *absmax = NULL, *nabs = NULL, *ncode = NULL;
    const cJSON *off = cJSON_GetObjectItem(js, "nested_offset"), *nbs = cJSON_GetObjectItem(js, "nested_blocksize");
    if (s == AM_OK && !(code = floats_of(t[mi], 16))) s = fmt_err(file, wkey, "quant_map must hold 16 floats");
    if (s == AM_OK && !nested && !(absmax = floats_of(t[ai], nb))) s = fmt_err(file, wkey, "absmax must hold one float per block of 64");
    if (s == AM_OK && nested) {
        if (t[ai]->dtype != AM_U8 || am_tensor_numel(t[ai]) != nb) s = fmt_err(file, wkey, "a double-quantized absmax must be uint8, one per block of 64");
        else if (!cJSON_IsNumber(off) || !cJSON_IsNumber(nbs) || nbs->valuedouble != 256)
            s = fmt_err(file, wkey, "nested_offset and nested_blocksize 256 are required with double quantization");
        else if (!(nabs = floats_of(t[nai], nnb)) || !(ncode = floats_of(t[nmi], 256)))
            s = fmt_err(file, wkey, "nested_absmax (one float per 256 blocks) and nested_quant_map (256 floats) are required");
    }
    am_tensor *copy = NULL;
    if (s == AM_OK && !(copy = am__tensor_convert(w, AM_U8))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (s == AM_OK && !am__qweight_4bit_from(copy, ty, N, K, absmax, nested ? t[ai]->data : NULL, nabs, ncode, nested ? (float)off->valuedouble : 0.0f,
                                             code, compute)) {
        am_tensor_free(copy);
        copy = NULL;
        s = AM_ERR_NO_MEMORY;
    }
    if (s == AM_OK) {
        am_tensor_free(t[wi]);
        t[wi] = copy;
        used[qi] = used[ai] = used[mi] = true;
        if (nested) used[nai] = used[nmi] = true;
    }
    free(code), free(absmax), free(nabs), free(ncode);
    cJSON_Delete(js);
    return s;
}

am_status am__quant_ckpt(char **names, am_tensor **t, size_t *np, const char *file, const am__qconfig *q) {
    size_t n = *np;
    bool *used = calloc(n ? n : 1, 1);
    if (!used) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    am_status s = AM_OK;
    char k[1200];
    for (size_t i = 0; i < n && s == AM_OK; i++) {
        const char *nm = names[i], *dot = strrchr(nm, '.');
        size_t l = strlen(nm);
        if (l > 4 && !strcmp(nm + l - 4, ".SCB")) { /* 8-bit: <module>.weight int8 + <module>.SCB */
            snprintf(k, sizeof k, "%.*s.weight", (int)(l - 4), nm);
            size_t wi = find_name(names, n, k);
            float *scb = NULL;
            am_tensor *copy = NULL;
            if (wi == SIZE_MAX) s = fmt_err(file, nm, "no int8 weight next to this SCB");
            else if (t[wi]->dtype != AM_I8 || t[wi]->ndim != 2) s = fmt_err(file, k, "an 8-bit weight must be int8 [out_features, in_features]");
            else if (!(scb = floats_of(t[i], t[wi]->shape[0]))) s = fmt_err(file, nm, "SCB must hold one float per output row");
            else if (!(copy = am__tensor_convert(t[wi], AM_I8))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            else if (!am__qweight_int8_from(copy, scb, q->threshold)) {
                am_tensor_free(copy);
                s = AM_ERR_NO_MEMORY;
            } else {
                am_tensor_free(t[wi]);
                t[wi] = copy;
                used[i] = true;
            }
            free(scb);
        } else if (l > 14 && !strcmp(nm + l - 14, ".weight_format")) {
            /* bitsandbytes >= 0.42: the layout of the int8 weight; 0 ("row") is the only one stored */
            if (t[i]->dtype != AM_U8 || am_tensor_numel(t[i]) != 1 || ((const uint8_t *)t[i]->data)[0] != 0)
                s = fmt_err(file, nm, "only weight_format 0 (row-major int8) is supported");
            used[i] = true;
        } else if (dot && !strncmp(dot, ".bitsandbytes__", 15) && l > 34 && strstr(nm, ".weight.quant_state.bitsandbytes__")) {
            const char *qs = strstr(nm, ".quant_state.bitsandbytes__");
            snprintf(k, sizeof k, "%.*s", (int)(qs - nm), nm);
            size_t wi = find_name(names, n, k);
            if (wi == SIZE_MAX) s = fmt_err(file, nm, "no packed 4-bit weight next to this quant_state");
            else s = take_4bit(names, t, n, i, wi, file, q->compute, used);
        }
    }
    if (s == AM_OK) { /* the state tensors are not parameters: drop them from the key list */
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            if (used[i]) {
                free(names[i]);
                am_tensor_free(t[i]);
                continue;
            }
            names[j] = names[i], t[j] = t[i], j++;
        }
        *np = j;
    }
    free(used);
    return s;
}

/* new tensor holding a copy of n elements */
static am_tensor *tensor_of(am_dtype dt, int ndim, const int64_t *shape, const void *data) {
    am_tensor *t = am__tensor_empty(dt, ndim, shape);
    if (t && am_tensor_nbytes(t)) memcpy(t->data, data, am_tensor_nbytes(t));
    return t;
}

static am_status put(char **names, am_tensor **ts, size_t *k, const char *wname, const char *suffix, am_tensor *t) {
    char *nm = am__strfmt("%s%s", wname, suffix);
    if (!nm || !t) {
        free(nm);
        am_tensor_free(t);
        return am__error(AM_ERR_NO_MEMORY, "save_pretrained: out of memory");
    }
    names[*k] = nm, ts[(*k)++] = t;
    return AM_OK;
}

am_status am__quant_state_tensors(const char *wname, const am_tensor *w, am_dtype wdtype, char **names, am_tensor **ts, size_t *k) {
    const am__qweight *q = am__qweight_of(w);
    if (!q) return AM_OK;
    if (q->type == AM__Q_INT8) { /* Linear8bitLt._save_to_state_dict: <module>.SCB */
        size_t l = strlen(wname);
        char *mod = l > 7 ? strndup(wname, l - 7) : NULL; /* drop ".weight" */
        am_status s = mod ? put(names, ts, k, mod, ".SCB", tensor_of(AM_F32, 1, &q->N, q->scb)) : am__error(AM_ERR_NO_MEMORY, "out of memory");
        free(mod);
        return s;
    }
    /* Params4bit: QuantState.as_dict(packed=True) under <weight>. */
    int64_t nb = q->n_blocks, nnb = (nb + 255) / 256, sixteen = 16, n256 = 256;
    am_status s = put(names, ts, k, wname, ".absmax", q->nested ? tensor_of(AM_U8, 1, &nb, q->absmax_q) : tensor_of(AM_F32, 1, &nb, q->absmax));
    if (s == AM_OK) s = put(names, ts, k, wname, ".quant_map", tensor_of(AM_F32, 1, &sixteen, q->code));
    if (s == AM_OK && q->nested) s = put(names, ts, k, wname, ".nested_absmax", tensor_of(AM_F32, 1, &nnb, q->nested_absmax));
    if (s == AM_OK && q->nested) s = put(names, ts, k, wname, ".nested_quant_map", tensor_of(AM_F32, 1, &n256, q->nested_code));
    if (s != AM_OK) return s;
    /* json.dumps of the non-tensor entries, in as_dict's order, as uint8 bytes */
    const char *qt = q->type == AM__Q_NF4 ? "nf4" : "fp4";
    char off[40], js[512];
    am__format_py_float(q->offset, off, sizeof off);
    if (q->nested)
        snprintf(js, sizeof js,
                 "{\"quant_type\": \"%s\", \"blocksize\": 64, \"dtype\": \"%s\", \"shape\": [%lld, %lld], \"nested_blocksize\": 256, "
                 "\"nested_dtype\": \"float32\", \"nested_offset\": %s}",
                 qt, am_dtype_name(wdtype), (long long)q->N, (long long)q->K, off);
    else
        snprintf(js, sizeof js, "{\"quant_type\": \"%s\", \"blocksize\": 64, \"dtype\": \"%s\", \"shape\": [%lld, %lld]}", qt, am_dtype_name(wdtype),
                 (long long)q->N, (long long)q->K);
    int64_t jl = (int64_t)strlen(js);
    char suffix[64];
    snprintf(suffix, sizeof suffix, ".quant_state.bitsandbytes__%s", qt);
    return put(names, ts, k, wname, suffix, tensor_of(AM_U8, 1, &jl, js));
}
