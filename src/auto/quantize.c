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

am_status am__model_quantize(am_model *m, const am__qconfig *qin) {
    if (qin->bits == 0) return AM_OK;
    am__qconfig q = *qin;
    q.skip = NULL, q.n_skip = 0;
    am_status s = AM_OK;
    for (size_t i = 0; i < qin->n_skip && s == AM_OK; i++) s = skip_add(&q, qin->skip[i]);
    am__named_param *np = NULL;
    size_t n = 0;
    if (s == AM_OK) s = am__named_params(m->root, &np, &n);
    if (s == AM_OK && !q.skip_set) s = keys_to_not_convert(m, np, n, &q);
    for (const char *const *k = m->spec->keep_in_fp32_modules; s == AM_OK && k && *k; k++) s = skip_add(&q, *k);
    size_t done = 0;
    for (size_t i = 0; i < n && s == AM_OK; i++) {
        am__param *p = np[i].p;
        am__module *own = np[i].owner;
        bool lin = own->is_linear || (own->type && !strcmp(own->type, "Conv1D"));
        if (!lin || p->is_buffer || strcmp(p->name, "weight") || !p->t || p->ndim != 2 || is_alias(m, np[i].name)) continue;
        size_t nl = strlen(np[i].name) - strlen(".weight");
        char *mname = strndup(np[i].name, nl);
        if (!mname) {
            s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            break;
        }
        bool skip = skipped(&q, mname, own->name);
        free(mname);
        if (skip) continue;
        bool kn = !own->is_linear; /* Conv1D: [in, out] */
        int64_t N = kn ? p->shape[1] : p->shape[0], K = kn ? p->shape[0] : p->shape[1];
        float *tmp = NULL;
        const float *wf = p->t->dtype == AM_F32 ? p->t->data : NULL;
        if (!wf && (tmp = am__aligned_alloc((size_t)(N * K > 0 ? N * K : 1) * sizeof(float)))) am__to_f32(p->t->data, p->t->dtype, N * K, tmp), wf = tmp;
        am_tensor *qt = !wf ? NULL
                        : q.bits == 8 ? am__quantize_int8(wf, kn, N, K, q.threshold)
                                      : am__quantize_4bit(wf, kn, N, K, q.q4, q.dq, q.compute);
        free(tmp);
        if (!qt) {
            s = am__error(AM_ERR_NO_MEMORY, "out of memory quantizing '%s'", np[i].name);
            break;
        }
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
