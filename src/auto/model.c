/* auto/model.c — the public model object: introspection through the module tree (counts,
 * footprint, repr, train/eval, state dict), forward dispatch, and save_pretrained. */
#include "auto/auto.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "formats/safetensors.h"
#include "formats/shard_index.h"
#include "formats/torch_bin.h"
#include "hub/hub.h"
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *am_model_class_name(const am_model *m) { return m->spec->class_name; }
am_task am_model_task(const am_model *m) { return m->spec->task; }
const am_config *am_model_config(const am_model *m) { return m->config; }

/* model.dtype: the dtype of the first floating parameter */
am_attn_impl am_model_attn_implementation(const am_model *m) { return m->attn; }

am_dtype am_model_dtype(const am_model *m) {
    am__named_param *np;
    size_t n;
    am__named_params(m->root, &np, &n); /* out of memory: an empty list */
    am_dtype d = m->dtype;
    for (size_t i = 0; i < n; i++)
        if (!np[i].p->is_buffer && np[i].p->t && am__dtype_is_float(np[i].p->t->dtype)) {
            d = np[i].p->t->dtype;
            break;
        }
    am__named_params_free(np, n);
    return d;
}

static bool seen_before(am__named_param *np, size_t i) {
    for (size_t j = 0; j < i; j++)
        if (np[j].p->t && np[j].p->t == np[i].p->t) return true;
    return false;
}

int64_t am_model_num_parameters(const am_model *m, bool only_trainable, bool exclude_embeddings) {
    am__named_param *np;
    size_t n;
    am__named_params(m->root, &np, &n); /* out of memory: an empty list */
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        am__param *p = np[i].p;
        if (p->is_buffer || seen_before(np, i)) continue;
        if (only_trainable && !p->trainable) continue;
        if (exclude_embeddings && np[i].owner->is_embedding && !strcmp(p->name, "weight")) continue;
        total += am__shape_numel(p->ndim, p->shape);
    }
    am__named_params_free(np, n);
    return total;
}

int64_t am_model_memory_footprint(const am_model *m, bool return_buffers) {
    am__named_param *np;
    size_t n;
    am__named_params(m->root, &np, &n); /* out of memory: an empty list */
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        am__param *p = np[i].p;
        if (!p->t) continue;
        if (p->is_buffer) {
            if (return_buffers) total += (int64_t)am_tensor_nbytes(p->t);
        } else if (!seen_before(np, i)) total += (int64_t)am_tensor_nbytes(p->t);
    }
    am__named_params_free(np, n);
    return total;
}

int am_model_quantization_bits(const am_model *m) { return m->quant_bits; }

void am_model_train(am_model *m, bool training) { am__module_train(m->root, training); }
bool am_model_is_training(const am_model *m) { return m->root->training; }

char *am_model_repr(const am_model *m) {
    am__buf b = {0};
    am__module_repr(m->root, &b, 0);
    return am__buf_take(&b);
}

am_status am_model_print(const am_model *m, FILE *out) {
    char *r = am_model_repr(m);
    if (!r) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    fprintf(out, "%s\n", r);
    free(r);
    return AM_OK;
}

/* state_dict(): parameters and persistent buffers, tied aliases included */
typedef struct sd_view {
    am__named_param *np;
    size_t n;
} sd_view;

/* Out of memory: an empty list, and *st (when given) AM_ERR_NO_MEMORY. */
static size_t state_dict_st(const am_model *m, am__named_param **out, am_status *st) {
    am__named_param *np;
    size_t n, k = 0;
    am_status s = am__named_params(m->root, &np, &n);
    if (st) *st = s;
    for (size_t i = 0; i < n; i++) {
        if (np[i].p->is_buffer && !np[i].p->persistent) {
            free(np[i].name);
            continue;
        }
        np[k++] = np[i];
    }
    *out = np;
    return k;
}
static size_t state_dict(const am_model *m, am__named_param **out) { return state_dict_st(m, out, NULL); }

/* The quantized weights' state tensors, made once (the model is otherwise read-only here, and
 * several threads may list its state dict). */
static pthread_mutex_t g_qs_mu = PTHREAD_MUTEX_INITIALIZER;
static void quant_state_build(const am_model *cm) {
    am_model *m = (am_model *)cm;
    pthread_mutex_lock(&g_qs_mu);
    if (!m->qs_built && m->quant_bits) {
        am__named_param *np = NULL;
        size_t n = 0, k = 0, cap = 0;
        am_status s = am__named_params(m->root, &np, &n);
        for (size_t i = 0; i < n && s == AM_OK; i++) {
            if (!am__qweight_of(np[i].p->t)) continue;
            if (k + 5 > cap) {
                size_t nc = cap ? 2 * cap : 64;
                char **nn = realloc(m->qs_name, nc * sizeof *nn);
                if (nn) m->qs_name = nn;
                am_tensor **nt = nn ? realloc(m->qs_t, nc * sizeof *nt) : NULL;
                if (nt) m->qs_t = nt, cap = nc;
                if (!nt) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            }
            if (s == AM_OK) s = am__quant_state_tensors(np[i].name, np[i].p->t, m->dtype, m->qs_name, m->qs_t, &k);
        }
        am__named_params_free(np, n);
        m->n_qs = k; /* out of memory: the entries made so far (the list is then incomplete) */
        m->qs_built = true;
    }
    pthread_mutex_unlock(&g_qs_mu);
}

/* transformers' state_dict() of the model: parameters and persistent buffers (tied aliases
 * included) and, for a model in 8 or 4 bits, each quantized module's bitsandbytes state after its
 * own entries, as Linear8bitLt / Linear4bit._save_to_state_dict add it after weight and bias: 8-bit
 * `SCB`, 4-bit `weight.absmax`, `weight.quant_map` (+ `weight.nested_absmax`,
 * `weight.nested_quant_map`) and `weight.quant_state.bitsandbytes__nf4|fp4`: the keys
 * save_pretrained writes. */
typedef struct sd_item {
    const char *name;
    const am_tensor *t;
} sd_item;

/* a state tensor of quantized weight w: "<w>.absmax" ... (4-bit) or "<module>.SCB" (8-bit) */
static bool qs_of(const char *qs, const char *w) {
    size_t wl = strlen(w);
    if (!strncmp(qs, w, wl) && qs[wl] == '.') return true;
    return wl > 7 && !strcmp(w + wl - 7, ".weight") && !strncmp(qs, w, wl - 7) && !strcmp(qs + wl - 7, ".SCB");
}

static size_t sd_items(const am_model *m, am__named_param **np, size_t *n_np, sd_item **out) {
    if (m->quant_bits) quant_state_build(m);
    size_t n = state_dict(m, np);
    *n_np = n;
    sd_item *v = malloc((n + m->n_qs + 1) * sizeof *v);
    if (!v) {
        *out = NULL;
        return 0;
    }
    am__named_param *e = *np;
    size_t k = 0, q = 0;
    for (size_t i = 0; i < n; i++) {
        v[k++] = (sd_item){e[i].name, e[i].p->t};
        if (q >= m->n_qs || (i + 1 < n && e[i + 1].owner == e[i].owner)) continue;
        /* the module's last entry: the state of its quantized weight (made in this order) */
        size_t j0 = i;
        while (j0 > 0 && e[j0 - 1].owner == e[i].owner) j0--;
        for (size_t j = j0; j <= i; j++)
            while (q < m->n_qs && am__qweight_of(e[j].p->t) && qs_of(m->qs_name[q], e[j].name)) v[k++] = (sd_item){m->qs_name[q], m->qs_t[q]}, q++;
    }
    *out = v;
    return k;
}

size_t am_model_state_dict_count(const am_model *m) {
    am__named_param *np;
    size_t n_np;
    sd_item *v;
    size_t n = sd_items(m, &np, &n_np, &v);
    free(v);
    am__named_params_free(np, n_np);
    return n;
}

const char *am_model_state_dict_name(const am_model *m, size_t i) {
    /* names live in the tree only as parts; keep a per-thread copy */
    static _Thread_local char buf[1024];
    am__named_param *np;
    size_t n_np;
    sd_item *v;
    size_t n = sd_items(m, &np, &n_np, &v);
    const char *r = NULL;
    if (i < n) {
        snprintf(buf, sizeof buf, "%s", v[i].name);
        r = buf;
    }
    free(v);
    am__named_params_free(np, n_np);
    return r;
}

const am_tensor *am_model_state_dict_tensor(const am_model *m, size_t i) {
    am__named_param *np;
    size_t n_np;
    sd_item *v;
    size_t n = sd_items(m, &np, &n_np, &v);
    const am_tensor *r = i < n ? v[i].t : NULL;
    free(v);
    am__named_params_free(np, n_np);
    return r;
}

const am_tensor *am_model_get_parameter(const am_model *m, const char *name) {
    am__param *p = am__module_lookup(m->root, name, NULL);
    return p ? p->t : NULL;
}

/* Outputs transformers 4.32 casts to float32 whatever the model dtype (`logits = logits.float()`). */
static const struct {
    const char *class_name, *output;
} k_float32_outputs[] = {{"LlamaForCausalLM", "logits"}};

/* transformers' dtype semantics: a bfloat16/float16 model returns its hidden states, logits and
 * other float outputs in that dtype (the kernels compute in float32 activations, so the values are
 * rounded once, at the end) */
static am_status outputs_to_model_dtype(const am_model *m, am_tensors *out) {
    if (m->dtype != AM_BF16 && m->dtype != AM_F16) return AM_OK;
    for (size_t i = 0; i < am_tensors_count(out); i++) {
        am_tensor *t = am_tensors_at(out, i);
        const char *name = am_tensors_name(out, i);
        if (t->dtype != AM_F32) continue;
        bool keep = false;
        for (size_t k = 0; k < sizeof k_float32_outputs / sizeof k_float32_outputs[0]; k++)
            if (!strcmp(m->spec->class_name, k_float32_outputs[k].class_name) && !strcmp(name, k_float32_outputs[k].output)) keep = true;
        if (keep) continue;
        am_tensor *c = am__tensor_convert(t, m->dtype);
        if (!c) return am__error(AM_ERR_NO_MEMORY, "out of memory converting output '%s' to %s", name, am_dtype_name(m->dtype));
        am_status s = am_tensors_set(out, name, c);
        am_tensor_free(c);
        if (s != AM_OK) return s;
    }
    return AM_OK;
}

am_tensor *am_model_parameter_mut(am_model *m, const char *name) {
    if (!m || !name) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_model_parameter_mut: NULL argument");
        return NULL;
    }
    am__param *p = am__module_lookup(m->root, name, NULL);
    if (!p || !p->t) {
        am__error(AM_ERR_NOT_FOUND, "%s has no parameter or buffer named '%s'", m->spec->class_name, name);
        return NULL;
    }
    if (am__qweight_of(p->t)) { /* bitsandbytes' Int8Params / Params4bit: not a plain tensor to edit */
        am__error(AM_ERR_UNSUPPORTED, "'%s' is an %d-bit quantized weight; editing it in place is not supported", name, m->quant_bits);
        return NULL;
    }
    am_tensor *old = p->t;
    if (old->packed && old->packed_free) { /* a kernel's packed copy would not see the edits */
        old->packed_free(old->packed);
        old->packed = NULL;
    }
    if (!am__tensor_is_mapped(old)) return old;
    am_tensor *copy = am__tensor_convert(old, old->dtype);
    if (!copy) return NULL;
    am__named_param *np;
    size_t n;
    if (am__named_params(m->root, &np, &n)) {
        am_tensor_free(copy);
        return NULL;
    }
    /* rebind the parameter and every alias sharing its tensor (tied weights stay tied) */
    am_tensor_retain(old);
    for (size_t i = 0; i < n; i++)
        if (np[i].p->t == old) {
            am_tensor_free(np[i].p->t);
            np[i].p->t = am_tensor_retain(copy);
        }
    am_tensor_free(old);
    am__named_params_free(np, n);
    am_tensor_free(copy);
    am__log(AM_LOG_DEBUG, "%s: copied from the mapped file into owned memory to be written (%zu bytes)", name, am_tensor_nbytes(p->t));
    return p->t;
}

am_tensors *am_model_forward(am_model *m, const am_tensors *inputs, const am_forward_options *opts) {
    if (!m || !inputs) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_model_forward: NULL argument");
        return NULL;
    }
    am_forward_options o = am_forward_options_default();
    if (AM__OPTS_IN(o, opts, "am_forward_options")) return NULL;
    if (am__check_inputs(m, inputs) != AM_OK) return NULL;
    am_tensors *out = am_tensors_new();
    if (!out) {
        am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
        return NULL;
    }
    am__call call; /* per-call state: the model stays read-only */
    am__call_begin(&call, m, o.dropout_seed);
    unsigned long oom = am__oom_events();
    am_status s = o.output_attentions ? am__attn_record_begin(&call) : AM_OK;
    if (s == AM_OK) s = m->forward(m, inputs, &o, out);
    if (s == AM_OK && am__oom_events() != oom) s = am__error(AM_ERR_NO_MEMORY, "forward: out of memory");
    am_status sa = am__attn_record_end(&call, out, s == AM_OK);
    if (s == AM_OK) s = sa;
    if (s == AM_OK) s = outputs_to_model_dtype(m, out);
    am__call_end(&call);
    if (s != AM_OK) {
        am_tensors_free(out);
        return NULL;
    }
    /* hidden_states.last mirrors transformers' hidden_states[-1] */
    return out;
}

/* ---- save_pretrained ---- */

am_save_options am_save_options_default(void) {
    am_save_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.format = AM_SAVE_SAFETENSORS;
    o.dtype = AM_DTYPE_AUTO;
    return o;
}

static int cmp_np_name(const void *a, const void *b) { return strcmp(((const am__named_param *)a)->name, ((const am__named_param *)b)->name); }

/* transformers' rule for shared tensors in safetensors: within each group of names sharing one
 * tensor, drop the ones matching _tied_weights_keys (in sorted order, keeping at least one), then
 * keep only the first remaining name. */
static am_status dedupe_shared(const am_model *m, am__named_param *np, size_t n, bool *keep) {
    for (size_t i = 0; i < n; i++) keep[i] = true;
    for (size_t i = 0; i < n; i++) {
        if (!np[i].p->t) continue;
        size_t group[64], g = 0;
        for (size_t j = 0; j < n && g < 64; j++)
            if (np[j].p->t == np[i].p->t) group[g++] = j;
        if (g < 2 || group[0] != i) continue;
        if (m->spec->tied_weights_keys) {
            am__named_param sorted[64];
            for (size_t k = 0; k < g; k++) sorted[k] = np[group[k]];
            qsort(sorted, g, sizeof *sorted, cmp_np_name);
            size_t found = 0;
            for (size_t k = 0; k < g; k++) {
                bool match;
                am_status st = am__name_pattern_search(m->spec->tied_weights_keys, sorted[k].name, m->spec->class_name, &match);
                if (st) return st;
                if (!match) continue;
                for (size_t q = 0; q < g; q++)
                    if (!strcmp(np[group[q]].name, sorted[k].name) && keep[group[q]]) {
                        found++;
                        if (found < g) keep[group[q]] = false;
                    }
            }
        }
        size_t found = 0;
        for (size_t k = 0; k < g; k++)
            if (keep[group[k]] && ++found > 1) keep[group[k]] = false;
    }
    return AM_OK;
}

static char *generation_config_json(const am_model *m) {
    static const char *const keys[] = {"max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
                                       "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty",
                                       "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids",
                                       "num_return_sequences", "output_scores", "return_dict_in_generate", "forced_bos_token_id",
                                       "forced_eos_token_id", "remove_invalid_values", "exponential_decay_length_penalty",
                                       "suppress_tokens", "begin_suppress_tokens", "pad_token_id", "bos_token_id", "eos_token_id",
                                       "decoder_start_token_id", "forced_decoder_ids", NULL};
    /* a checkpoint's own generation_config.json is what from_pretrained loaded and save_pretrained
     * writes back (Whisper's lang_to_id, task_to_id, no_timestamps_token_id ... included) */
    am_config *gen = am__config_new(m->generation_config ? cJSON_Duplicate(m->generation_config, true) : cJSON_CreateObject(), NULL, "GenerationConfig");
    if (!gen) return NULL;
    if (m->generation_config) {
        cJSON_DeleteItemFromObjectCaseSensitive(gen->values, "transformers_version");
        cJSON_AddStringToObject(gen->values, "transformers_version", am__config_str(m->config, "transformers_version", "4.32.0.dev0"));
        am__buf b = {0};
        am__json_dump_py(&b, gen->values, 0, m->config, NULL);
        am__buf_puts(&b, "\n");
        am_config_free(gen);
        return am__buf_take(&b);
    }
    cJSON_AddTrueToObject(gen->values, "_from_model_config");
    am_config base = {.values = NULL, .defaults = NULL, .class_name = ""};
    base.values = cJSON_CreateObject();
    /* from_model_config: a composite config's decoder supplies what the top level leaves at the default */
    const cJSON *dec = am__config_value(m->config, "decoder");
    for (const char *const *k = keys; *k; k++) {
        const cJSON *v = am__config_value(m->config, *k);
        const cJSON *d = am__config_value(&base, *k);
        if (v && !(d ? cJSON_Compare(v, d, true) : cJSON_IsNull(v))) cJSON_AddItemToObject(gen->values, *k, cJSON_Duplicate(v, true));
        else if (cJSON_IsObject(dec) && (v = cJSON_GetObjectItemCaseSensitive(dec, *k)) && !(d ? cJSON_Compare(v, d, true) : cJSON_IsNull(v)))
            cJSON_AddItemToObject(gen->values, *k, cJSON_Duplicate(v, true));
    }
    cJSON_Delete(base.values);
    const char *tv = am__config_str(m->config, "transformers_version", "4.32.0.dev0");
    cJSON_AddStringToObject(gen->values, "transformers_version", tv);
    am__buf b = {0};
    am__json_dump_py(&b, gen->values, 0, m->config, NULL);
    am__buf_puts(&b, "\n");
    am_config_free(gen);
    return am__buf_take(&b);
}

/* config.json (architectures and torch_dtype as save_pretrained sets them) and, for a model that
 * can generate, generation_config.json, into dir (which exists). dt: the saved weights' dtype
 * (AM_DTYPE_AUTO: the model's). Used by save_pretrained and the ONNX export. */
am_status am__model_save_configs(const am_model *m, const char *dir, am_dtype dt) {
    am_status s;
    char *p;
    /* config.json: architectures and torch_dtype as save_pretrained sets them */
    am_config *cfg = am_config_copy(m->config);
    if (!cfg) return am__error(AM_ERR_NO_MEMORY, "save_pretrained: out of memory");
    cJSON *arch = cJSON_CreateArray();
    cJSON_AddItemToArray(arch, cJSON_CreateString(m->spec->class_name));
    if (cJSON_GetObjectItemCaseSensitive(cfg->values, "architectures")) cJSON_ReplaceItemInObjectCaseSensitive(cfg->values, "architectures", arch);
    else cJSON_AddItemToObject(cfg->values, "architectures", arch);
    s = am_config_set_string(cfg, "torch_dtype", am_dtype_name(dt != AM_DTYPE_AUTO ? dt : am_model_dtype(m)));
    char *cj = s ? NULL : am_config_to_json_string(cfg);
    am_config_free(cfg);
    p = am__path_join(dir, "config.json");
    if (!s) s = cj ? am__write_file_atomic(p, cj, strlen(cj)) : am__error(AM_ERR_NO_MEMORY, "out of memory");
    free(p);
    free(cj);
    if (s == AM_OK && m->spec->can_generate) {
        char *gj = generation_config_json(m);
        p = am__path_join(dir, "generation_config.json");
        s = gj ? am__write_file_atomic(p, gj, strlen(gj)) : am__error(AM_ERR_NO_MEMORY, "out of memory");
        free(p);
        free(gj);
    }
    return s;
}

am_status am_model_save_pretrained(const am_model *m, const char *dir, const am_save_options *opts) {
    am_save_options o = am_save_options_default();
    am_status ost = AM__OPTS_IN(o, opts, "am_save_options");
    if (ost) return ost;
    if (!m || !dir) return am__error(AM_ERR_INVALID_ARGUMENT, "save_pretrained: NULL argument");
    if (o.format != AM_SAVE_SAFETENSORS && o.format != AM_SAVE_BIN) return am__error(AM_ERR_INVALID_ARGUMENT, "save_pretrained: unknown format");
    if (o.dtype != AM_DTYPE_AUTO && !am__dtype_is_float(o.dtype))
        return am__error(AM_ERR_INVALID_ARGUMENT, "save_pretrained: dtype must be float32, float16 or bfloat16");
    if (am__is_file(dir)) return am__error(AM_ERR_IO, "%s: provided path should be a directory, not a file", dir);
    am_status s = am__mkdirs(dir);
    if (s != AM_OK) return s;
    s = am__model_save_configs(m, dir, o.dtype);
    char *p;
    if (s != AM_OK) return s;
    am__named_param *np;
    size_t n = state_dict_st(m, &np, &s);
    bool *keep = calloc(n + 1, sizeof *keep);
    bool st = o.format == AM_SAVE_SAFETENSORS;
    const char **names = calloc(n + 1, sizeof *names);
    am_tensor **ts = calloc(n + 1, sizeof *ts);
    if (s == AM_OK && (!keep || !names || !ts)) s = am__error(AM_ERR_NO_MEMORY, "save_pretrained: out of memory");
    /* safetensors stores one name per shared tensor; .bin stores every alias on one storage */
    if (s == AM_OK && st) s = dedupe_shared(m, np, n, keep);
    else if (s == AM_OK)
        for (size_t i = 0; i < n; i++) keep[i] = true;
    size_t j = 0;
    for (size_t i = 0; s == AM_OK && i < n; i++)
        if (keep[i]) {
            if (!np[i].p->t) s = am__error(AM_ERR_INTERNAL, "save_pretrained: parameter %s has no value", np[i].name);
            names[j] = np[i].name;
            ts[j++] = np[i].p->t ? am_tensor_retain(np[i].p->t) : NULL;
        }
    /* an explicit dtype converts floating tensors, keeping shared ones shared */
    if (s == AM_OK && o.dtype != AM_DTYPE_AUTO)
        for (size_t i = 0; i < j && s == AM_OK; i++) {
            if (!am__dtype_is_float(ts[i]->dtype) || ts[i]->dtype == o.dtype) continue;
            am_tensor *old = ts[i], *cv = am__tensor_convert(old, o.dtype);
            if (!cv) {
                s = am__error(AM_ERR_NO_MEMORY, "save_pretrained: out of memory converting to %s", am_dtype_name(o.dtype));
                break;
            }
            for (size_t k = i; k < j; k++)
                if (ts[k] == old) {
                    am_tensor_free(ts[k]);
                    ts[k] = am_tensor_retain(cv);
                }
            am_tensor_free(cv);
        }
    /* quantized weights: bitsandbytes' state tensors after each (transformers >= 4.36's layout) */
    char **qnames = NULL;
    size_t nq = 0;
    if (s == AM_OK && m->quant_bits) {
        const char **n2 = calloc(6 * j + 1, sizeof *n2);
        am_tensor **t2 = calloc(6 * j + 1, sizeof *t2);
        qnames = calloc(5 * j + 1, sizeof *qnames);
        am_tensor **qt = calloc(5 * j + 1, sizeof *qt);
        size_t k = 0;
        if (!n2 || !t2 || !qnames || !qt) s = am__error(AM_ERR_NO_MEMORY, "save_pretrained: out of memory");
        for (size_t i = 0; s == AM_OK && i < j; i++) {
            n2[k] = names[i], t2[k++] = ts[i];
            size_t q0 = nq;
            s = am__quant_state_tensors(names[i], ts[i], m->dtype, qnames, qt, &nq);
            for (size_t e = q0; e < nq; e++) n2[k] = qnames[e], t2[k++] = qt[e];
        }
        if (s == AM_OK) {
            free(names), free(ts);
            names = n2, ts = t2, j = k;
        } else {
            for (size_t e = 0; e < nq; e++) am_tensor_free(qt[e]);
            free(n2), free(t2);
        }
        free(qt);
    }
    const char *wname = st ? "model.safetensors" : "pytorch_model.bin";
    uint64_t max_bytes = 0;
    if (s == AM_OK && o.max_shard_size) s = am__parse_shard_size(o.max_shard_size, &max_bytes);
    am__shard_plan plan = {0};
    if (s == AM_OK && max_bytes) {
        uint64_t *sizes = calloc(j + 1, sizeof *sizes);
        const void **ids = calloc(j + 1, sizeof *ids);
        for (size_t i = 0; sizes && ids && i < j; i++) {
            sizes[i] = am_tensor_nbytes(ts[i]);
            ids[i] = ts[i]->storage;
        }
        s = sizes && ids ? am__plan_shards(j, sizes, ids, max_bytes, &plan) : am__error(AM_ERR_NO_MEMORY, "save_pretrained: out of memory");
        free(sizes);
        free(ids);
    }
    size_t nshards = plan.n_shards ? plan.n_shards : 1;
    char **written = calloc(nshards + 2, sizeof *written);
    size_t n_written = 0;
    if (s == AM_OK && !written) s = am__error(AM_ERR_NO_MEMORY, "save_pretrained: out of memory");
    for (size_t sh = 0; s == AM_OK && sh < nshards; sh++) {
        char *fname = nshards > 1 ? am__shard_file_name(wname, sh, nshards) : am__strdup(wname);
        const char **sn = calloc(j + 1, sizeof *sn);
        am_tensor **stt = calloc(j + 1, sizeof *stt);
        size_t k = 0;
        am_tensors *group = st ? NULL : am_tensors_new();
        p = fname ? am__path_join(dir, fname) : NULL;
        if (!p || !sn || !stt || (!st && !group)) s = am__error(AM_ERR_NO_MEMORY, "save_pretrained: out of memory");
        for (size_t i = 0; s == AM_OK && i < j; i++)
            if (nshards == 1 || plan.shard_of[i] == sh) {
                sn[k] = names[i];
                stt[k++] = ts[i];
                if (group) s = am_tensors_set(group, names[i], ts[i]);
            }
        if (s == AM_OK) s = st ? am__st_write(p, k, sn, stt) : am__torch_bin_save(group, p);
        if (s == AM_OK) written[n_written++] = p;
        else free(p);
        am_tensors_free(group);
        free(sn);
        free(stt);
        free(fname);
    }
    if (s == AM_OK && nshards > 1) {
        const char **files = calloc(j + 1, sizeof *files);
        char **fn = calloc(nshards, sizeof *fn);
        bool ok = files && fn;
        for (size_t sh = 0; ok && sh < nshards; sh++) ok = (fn[sh] = am__shard_file_name(wname, sh, nshards)) != NULL;
        for (size_t i = 0; ok && i < j; i++) files[i] = fn[plan.shard_of[i]];
        char *ij = ok ? am__shard_index_json(plan.total_size, j, names, files) : NULL;
        char iname[64];
        snprintf(iname, sizeof iname, "%s.index.json", wname);
        p = am__path_join(dir, iname);
        s = ij ? am__write_file_atomic(p, ij, strlen(ij)) : am__error(AM_ERR_NO_MEMORY, "out of memory");
        free(p);
        free(ij);
        for (size_t sh = 0; fn && sh < nshards; sh++) free(fn[sh]);
        free(fn);
        free(files);
    }
    if (s != AM_OK) /* nothing half-written: remove the weight files this call wrote */
        for (size_t i = 0; i < n_written; i++) unlink(written[i]);
    for (size_t i = 0; i < n_written; i++) free(written[i]);
    free(written);
    am__shard_plan_free(&plan);
    for (size_t i = 0; ts && i < j; i++) am_tensor_free(ts[i]);
    for (size_t i = 0; i < nq; i++) free(qnames[i]);
    free(qnames);
    free(names);
    free(ts);
    free(keep);
    am__named_params_free(np, n);
    return s;
}

/* push_to_hub: save_pretrained into a temporary folder, upload it as one commit, remove it. */
am_status am_model_push_to_hub(const am_model *m, const char *repo_id, const am_push_options *opts) {
    if (!m || !repo_id) return am__error(AM_ERR_INVALID_ARGUMENT, "push_to_hub: NULL argument");
    char tmpl[] = "/tmp/automodel-push-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) return am__error(AM_ERR_IO, "push_to_hub: cannot create a temporary folder");
    am_status s = am_model_save_pretrained(m, dir, NULL);
    if (s == AM_OK) s = am_hub_upload_folder(dir, repo_id, opts);
    /* remove everything save_pretrained wrote */
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        char *p = am__path_join(dir, e->d_name);
        if (p) unlink(p);
        free(p);
    }
    if (d) closedir(d);
    rmdir(dir);
    return s;
}
