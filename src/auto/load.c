/* auto/load.c — from_pretrained and from_config: resolve files, read the config, build the module
 * tree, match checkpoint keys as transformers does (prefix handling, gamma/beta renames, tied
 * groups, ignore patterns, size mismatches), initialise what is missing, and report. */
#include "auto/auto.h"
#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/util.h"
#include "formats/safetensors.h"
#include "formats/shard_index.h"
#include "formats/torch_bin.h"
#include "hub/hub.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

am_load_options am_load_options_default(void) {
    am_load_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.dtype = AM_DTYPE_DEFAULT;
    o.use_safetensors = true;
    o.llm_int8_threshold = 6.0f;
    o.bnb_4bit_compute_dtype = AM_F32;
    return o;
}

am_forward_options am_forward_options_default(void) {
    am_forward_options o;
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    return o;
}

/* ---- string lists ---- */

typedef struct strv {
    char **v;
    size_t n, cap;
    bool failed; /* an allocation failed: the list is incomplete (sticky, checked once by the user) */
} strv;

static void strv_push(strv *s, const char *x) {
    if (s->failed) return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, cap * sizeof *s->v);
        if (!v) {
            s->failed = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    char *d = am__strdup(x);
    if (!d) s->failed = true;
    else s->v[s->n++] = d;
}
static bool strv_has(const strv *s, const char *x) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], x)) return true;
    return false;
}
static void strv_free(strv *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A name lookup over a string list: (name, index) pairs sorted by name, so matching a
 * checkpoint of n keys against a model costs n log n, not n^2 strcmp (a 100k-tensor file). */
typedef struct name_ix {
    const char *name;
    size_t i;
} name_ix;
typedef struct strv_index {
    name_ix *v;
    size_t n;
} strv_index;
static int cmp_name_ix(const void *a, const void *b) {
    const name_ix *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->i > y->i) - (x->i < y->i); /* the first of equal names first */
}
static bool strv_index_make(strv_index *ix, const strv *s) {
    ix->n = s->n;
    ix->v = malloc((s->n ? s->n : 1) * sizeof *ix->v);
    if (!ix->v) return false;
    for (size_t i = 0; i < s->n; i++) ix->v[i] = (name_ix){s->v[i], i};
    qsort(ix->v, ix->n, sizeof *ix->v, cmp_name_ix);
    return true;
}
/* The list index of the first occurrence of x, or SIZE_MAX. */
static size_t strv_index_find(const strv_index *ix, const char *x) {
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ix->v[mid].name, x) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo < ix->n && !strcmp(ix->v[lo].name, x) ? ix->v[lo].i : SIZE_MAX;
}

/* ---- checkpoint: names and tensor views of every weight file ---- */

typedef struct ckpt {
    strv names; /* after gamma/beta renames */
    am_tensor **t;
    size_t t_cap;
    char *file; /* the weight file or index used (for messages) */
} ckpt;

static void ckpt_free(ckpt *c) {
    for (size_t i = 0; i < c->names.n; i++) am_tensor_free(c->t[i]);
    free(c->t);
    strv_free(&c->names);
    free(c->file);
}

static char *rename_legacy(const char *k) {
    /* transformers replaces every "gamma" by "weight" and "beta" by "bias" */
    am__buf b = {0};
    for (const char *p = k; *p;) {
        if (!strncmp(p, "gamma", 5)) {
            am__buf_puts(&b, "weight");
            p += 5;
        } else if (!strncmp(p, "beta", 4)) {
            am__buf_puts(&b, "bias");
            p += 4;
        } else am__buf_put(&b, p++, 1);
    }
    return am__buf_take(&b);
}

static am_status ckpt_add(ckpt *c, const char *name, am_tensor *t) {
    char *nn = rename_legacy(name);
    if (!nn) {
        am_tensor_free(t); /* ckpt_add takes t */
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    am_tensor **v = c->t;
    if (c->names.n == c->t_cap) { /* geometric growth: 100k tensors must not mean 100k copies */
        size_t cap = c->t_cap ? 2 * c->t_cap : 16;
        v = realloc(c->t, cap * sizeof *c->t);
        if (v) c->t = v, c->t_cap = cap;
    }
    size_t n = c->names.n;
    if (v) strv_push(&c->names, nn);
    free(nn);
    if (!v || c->names.n == n) {
        am_tensor_free(t);
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    c->t[n] = t;
    return AM_OK;
}

/* Adds every tensor of one weight file; `names`/`n` (optional) receive the file's raw names. */
static am_status ckpt_add_file(ckpt *c, const char *path, bool safetensors, strv *names) {
    am_status s = AM_OK;
    if (safetensors) {
        am__st_file *f = am__st_open(path);
        if (!f) return AM_ERR_FORMAT;
        s = am__st_check_format(f);
        for (size_t i = 0; s == AM_OK && i < f->n; i++) {
            am_tensor *t = am__st_tensor(f, i);
            if (!t) s = AM_ERR_NO_MEMORY;
            else s = ckpt_add(c, f->entries[i].name, t);
            if (s == AM_OK && names) strv_push(names, f->entries[i].name);
        }
        am__st_close(f);
        if (s == AM_OK && names && names->failed) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        return s;
    }
    am_tensors *ts = NULL;
    s = am__torch_bin_load(path, &ts);
    for (size_t i = 0; s == AM_OK && i < am_tensors_count(ts); i++) {
        s = ckpt_add(c, am_tensors_name(ts, i), am_tensor_retain(am_tensors_at(ts, i)));
        if (s == AM_OK && names) strv_push(names, am_tensors_name(ts, i));
    }
    am_tensors_free(ts);
    if (s == AM_OK && names && names->failed) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    return s;
}

/* A sharded checkpoint: every shard listed by the index must exist and hold exactly the tensors
 * the index assigns to it. */
static am_status ckpt_add_sharded(ckpt *c, const char *dir, const char *index_path, bool safetensors) {
    am__shard_index *idx = NULL;
    am_status s = am__shard_index_load(index_path, &idx);
    for (size_t i = 0; s == AM_OK && i < idx->n_shards; i++) {
        char *p = am__shard_index_path(idx, i);
        strv names = {0};
        s = !p ? am__error(AM_ERR_NO_MEMORY, "out of memory") : am__check_confined(p, dir);
        if (s == AM_OK) s = ckpt_add_file(c, p, safetensors, &names);
        if (s == AM_OK) s = am__shard_index_check_shard(idx, i, (const char *const *)names.v, names.n, index_path);
        strv_free(&names);
        free(p);
    }
    am__shard_index_free(idx);
    return s;
}

/* File choice as transformers makes it for a local folder. */
static am_status ckpt_open(ckpt *c, const char *dir, bool use_safetensors) {
    static const char *const order[] = {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"};
    for (size_t i = use_safetensors ? 0 : 2; i < 4; i++) {
        char *p = am__path_join(dir, order[i]);
        if (!p) return AM_ERR_NO_MEMORY;
        if (!am__is_file(p)) {
            free(p);
            continue;
        }
        c->file = p;
        am_status s = am__check_confined(p, dir); /* a link out of the model folder is refused */
        if (s != AM_OK) return s;
        if (i == 0 || i == 2) return ckpt_add_file(c, p, i == 0, NULL);
        return ckpt_add_sharded(c, dir, p, i == 1);
    }
    return am__error(AM_ERR_NOT_FOUND,
                     "%s: no file named model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json found%s",
                     dir, use_safetensors ? "" : am__opt_name(" (use_safetensors=False)", " (--no-safetensors)"));
}

/* ---- initialisation ---- */

/* transformers' _init_weights: Linear/Embedding weight ~ N(0, initializer_range), biases 0, norm
 * weights 1, the Embedding padding row 0. `torch_default` gives nn.Linear's own reset_parameters
 * (U(-1/sqrt(fan_in), 1/sqrt(fan_in))), which mismatched keys keep. */
/* The dtype a parameter or buffer holds in a model of dtype m->dtype: floating parameters and
 * floating buffers follow the model, except those kept in float32. */
static am_dtype param_dtype(const am_model *m, const am__param *p) {
    if (p->is_buffer) return am__dtype_is_float(p->dtype) && !p->keep_fp32 ? m->dtype : p->dtype;
    return p->keep_fp32 ? AM_F32 : m->dtype;
}

/* An allocation failure names the config (`origin`), the parameter and the bytes. */
static am_status alloc_error(const char *origin, const char *name, int ndim, const int64_t *shape, am_dtype dt, const char *why) {
    uint64_t bytes = (uint64_t)am__shape_numel(ndim, shape) * am_dtype_size(dt);
    return am__error(AM_ERR_NO_MEMORY, "%s: cannot allocate %llu bytes for '%s'%s", origin, (unsigned long long)bytes, name, why);
}

static am_status init_param(am_model *m, am__module *owner, am__param *p, const char *name, const char *origin, am__rng *rng,
                            bool torch_default) {
    am_tensor *t = am_tensor_new(p->is_buffer ? p->dtype : AM_F32, p->ndim, p->shape);
    if (!t) return alloc_error(origin, name, p->ndim, p->shape, p->is_buffer ? p->dtype : AM_F32, "");
    int64_t n = am_tensor_numel(t);
    double std = am__config_float(m->config, "initializer_range", 0.02);
    if (!am__config_value(m->config, "initializer_range")) std = am__config_float(m->config, "init_std", std);
    float *f = t->dtype == AM_F32 ? t->data : NULL;
    if (p->fill) p->fill(t, p->fill_arg);
    else if (p->init == AM_INIT_ARANGE && t->dtype == AM_I64) {
        int64_t last = p->ndim ? p->shape[p->ndim - 1] : 1;
        for (int64_t i = 0; i < n; i++) ((int64_t *)t->data)[i] = i % last;
    } else if (f && torch_default && owner->is_linear) {
        am__param *w = am__module_find_param(owner, "weight");
        double bound = 1.0 / sqrt((double)w->shape[1]);
        for (int64_t i = 0; i < n; i++) f[i] = (float)((2.0 * am__rng_uniform(rng) - 1.0) * bound);
    } else if (f && p->init == AM_INIT_NORMAL) {
        for (int64_t i = 0; i < n; i++) f[i] = (float)(am__rng_normal(rng) * std);
        if (owner->is_embedding && owner->padding_idx >= 0 && owner->padding_idx < p->shape[0])
            memset(f + owner->padding_idx * p->shape[1], 0, (size_t)p->shape[1] * sizeof(float));
    } else if (f && p->init == AM_INIT_ONES) {
        for (int64_t i = 0; i < n; i++) f[i] = 1.0f;
    } else if (f && p->init == AM_INIT_UNIFORM) {
        for (int64_t i = 0; i < n; i++) f[i] = (float)(p->init_a + (p->init_b - p->init_a) * am__rng_uniform(rng));
    } else if (f && p->init == AM_INIT_NORMAL_STD) {
        for (int64_t i = 0; i < n; i++) f[i] = (float)(am__rng_normal(rng) * p->init_a);
    }
    am_dtype want = param_dtype(m, p);
    if (t->dtype != want) {
        am_tensor *c = am__tensor_convert(t, want);
        am_tensor_free(t);
        if (!c) return alloc_error(origin, name, p->ndim, p->shape, want, " (its initial value converted to the model dtype)");
        t = c;
    }
    am_tensor_free(p->t);
    p->t = t;
    return AM_OK;
}

/* Bytes a parameter or buffer will take when allocated (initialised in float32, then converted). */
static uint64_t param_alloc_bytes(const am_model *m, const am__param *p) {
    uint64_t numel = (uint64_t)am__shape_numel(p->ndim, p->shape);
    size_t es = am_dtype_size(param_dtype(m, p));
    size_t init = p->is_buffer ? am_dtype_size(p->dtype) : 4;
    return numel * (es > init ? es : init);
}

static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

static bool is_tie_alias(const am_model *m, const char *name) {
    for (size_t k = 0; k < m->n_ties; k++)
        if (!strcmp(m->tie_alias[k], name)) return true;
    return false;
}

/* The up-front memory check: `need` bytes are about to be allocated (parameters and buffers
 * that are not mapped from a checkpoint); refused before the first of them when the machine
 * does not have them. There is no offloading to fall back on. */
static am_status check_memory(const char *origin, uint64_t need, size_t n_alloc, uint64_t mapped) {
    const char *src = NULL;
    uint64_t avail = am__mem_available(&src);
    if (!avail || need <= avail) return AM_OK;
    char mapped_note[96] = "";
    if (mapped) snprintf(mapped_note, sizeof mapped_note, "; %llu more bytes are mapped from the checkpoint", (unsigned long long)mapped);
    return am__error(AM_ERR_NO_MEMORY,
                     "%s: the model needs %llu bytes (%.2f GiB) for the %zu parameters and buffers it must allocate%s, but only %llu bytes "
                     "(%.2f GiB) are available (%s); refused before allocating (offloading weights is not implemented)",
                     origin, (unsigned long long)need, (double)need / (1u << 30), n_alloc, mapped_note, (unsigned long long)avail,
                     (double)avail / (1u << 30), src);
}

/* _keep_in_fp32_modules: a parameter stays float32 when one of its dotted name parts is listed
 * (transformers applies it to float16 loads). */
static am_status mark_keep_fp32(am_model *m) {
    if (!m->spec->keep_in_fp32_modules || m->dtype != AM_F16) return AM_OK;
    am__named_param *np;
    size_t n;
    am_status st = am__named_params(m->root, &np, &n);
    if (st) return st;
    for (size_t i = 0; i < n; i++)
        for (const char *const *k = m->spec->keep_in_fp32_modules; *k; k++) {
            size_t kl = strlen(*k);
            for (const char *s = np[i].name; s; s = strchr(s, '.') ? strchr(s, '.') + 1 : NULL)
                if (!strncmp(s, *k, kl) && (s[kl] == '.' || s[kl] == 0)) np[i].p->keep_fp32 = true;
        }
    am__named_params_free(np, n);
    return AM_OK;
}

am_status am_model_to_dtype(am_model *m, am_dtype dt) {
    if (m->quant_bits)
        return am__error(AM_ERR_UNSUPPORTED, "`.to` is not supported for `4-bit` or `8-bit` models. Please use the model as it is, since the model has "
                                             "already been set to the correct devices and casted to the correct `dtype`.");
    if (!m) return am__error(AM_ERR_INVALID_ARGUMENT, "am_model_to_dtype: NULL model");
    if (dt != AM_F32 && dt != AM_F16 && dt != AM_BF16)
        return am__error(AM_ERR_INVALID_ARGUMENT, "am_model_to_dtype: %s is not a floating dtype for a model", am_dtype_name(dt));
    m->dtype = dt;
    am__named_param *np;
    size_t n;
    am_status s = mark_keep_fp32(m);
    if (!s) s = am__named_params(m->root, &np, &n);
    if (s) return s;
    /* convert each distinct tensor once, so tied parameters stay one tensor */
    for (size_t i = 0; i < n && s == AM_OK; i++) {
        am__param *p = np[i].p;
        am_tensor *old = p->t;
        am_dtype want = param_dtype(m, p);
        if (!old || old->dtype == want) continue;
        am_tensor *c = am__tensor_convert(old, want);
        if (!c) {
            s = AM_ERR_NO_MEMORY;
            break;
        }
        am_tensor_retain(old);
        for (size_t k = i; k < n; k++)
            if (np[k].p->t == old) {
                am_tensor_free(np[k].p->t);
                np[k].p->t = am_tensor_retain(c);
            }
        am_tensor_free(old);
        am_tensor_free(c);
    }
    am__named_params_free(np, n);
    if (s == AM_OK) s = am__model_apply_matmul_prec(m);
    return s;
}

am_status am__model_apply_matmul_prec(am_model *m) {
    if (m->matmul_prec == AM__PREC_DEFAULT) return AM_OK;
    am__named_param *np;
    size_t n;
    am_status s = am__named_params(m->root, &np, &n);
    if (s != AM_OK) return s;
    for (size_t i = 0; i < n && s == AM_OK; i++) {
        am_tensor *t = np[i].p->t;
        if (t && !np[i].p->is_buffer && t->dtype == AM_F32 && t->ndim == 2 && !am__linear_set_precision(t, m->matmul_prec))
            s = am__error(AM_ERR_NO_MEMORY, "float32_matmul_precision: out of memory");
    }
    am__named_params_free(np, n);
    return s;
}

/* ---- model construction ---- */

/* transformers' _autoset_attn_implementation: the requested implementation (the load option, else
 * the config's _attn_implementation), checked; sdpa by default (it matches eager on every fixture
 * case within its tolerance). The choice is recorded in the config as _attn_implementation. */
static am_status attn_resolve(am_config *cfg, am_attn_impl req, am_attn_impl *out) {
    if ((unsigned)req > AM_ATTN_FLASH) return am__error(AM_ERR_INVALID_ARGUMENT, "from_pretrained: attn_implementation %d is not an am_attn_impl", (int)req);
    const char *in_cfg = NULL;
    if (req == AM_ATTN_DEFAULT && am_config_has(cfg, "_attn_implementation") && !am__config_is_null(cfg, "_attn_implementation")) {
        if (am_config_get_string(cfg, "_attn_implementation", &in_cfg) != AM_OK) return AM_ERR_INVALID_ARGUMENT;
        if (am_attn_impl_parse(in_cfg, &req) != AM_OK) return AM_ERR_INVALID_ARGUMENT;
    }
    *out = req == AM_ATTN_DEFAULT ? AM_ATTN_SDPA : req;
    if (*out == AM_ATTN_FLASH)
        am__log(AM_LOG_INFO, "attn_implementation=\"flash_attention_2\": there is no flash-attn on CPU; running the fused attention kernel "
                             "(online softmax over key blocks, as sdpa)");
    return am_config_set_string(cfg, "_attn_implementation", am_attn_impl_name(*out));
}

static am_model *model_build(const am__head_spec *spec, am_config *cfg, am_attn_impl attn) {
    am_attn_impl impl = AM_ATTN_SDPA;
    if (!cfg) {
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    if (attn_resolve(cfg, attn, &impl) != AM_OK) {
        am_config_free(cfg);
        return NULL;
    }
    am_model *m = calloc(1, sizeof *m);
    if (!m) {
        am_config_free(cfg);
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    m->spec = spec;
    m->config = cfg;
    m->dtype = AM_F32;
    m->attn = impl;
    am__module_build_begin();
    m->root = am__module_new(NULL, "", spec->class_name);
    if (!m->root || spec->build(m) != AM_OK || am__module_build_failed()) {
        if (!m->root || am__module_build_failed()) am__error(AM_ERR_NO_MEMORY, "out of memory building %s", spec->class_name);
        am_model_free(m);
        return NULL;
    }
    return m;
}

static const am__head_spec *choose_head(const am_config *cfg, am_task task, const char *origin) {
    const char *mt = am_config_model_type(cfg);
    if (task == AM_TASK_AUTO) {
        const cJSON *arch = am__config_value(cfg, "architectures");
        const cJSON *a0 = cJSON_IsArray(arch) ? cJSON_GetArrayItem(arch, 0) : NULL;
        const am__head_spec *h = cJSON_IsString(a0) ? am__head_by_class(a0->valuestring) : NULL;
        if (h && !strcmp(h->model_type, mt)) return h;
        if (cJSON_IsString(a0))
            am__log(AM_LOG_WARNING, "%s: architecture %s is not supported; loading the base model %s", origin, a0->valuestring, mt);
        task = AM_TASK_BASE;
    }
    const am__head_spec *h = am__head_lookup(mt, task);
    /* "image-segmentation" as the pipeline of that name loads it: AutoModelForImageSegmentation,
     * else AutoModelForSemanticSegmentation (SegFormer has only the latter) */
    if (!h && task == AM_TASK_IMAGE_SEGMENTATION) h = am__head_lookup(mt, AM_TASK_SEMANTIC_SEGMENTATION);
    if (!h) {
        const am__type_spec *ts = am__type_lookup(mt);
        am__error(AM_ERR_UNSUPPORTED, "%s: Unrecognized configuration class %s for this kind of AutoModel: %s (no %s head for model_type \"%s\")", origin,
                  ts ? ts->config_class : "?", am__auto_class_name(task), am_task_name(task), mt);
    }
    return h;
}

am_model *am_model_from_config(am_task task, const am_config *cfg_in, uint64_t seed) {
    if (!cfg_in) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_model_from_config: NULL config");
        return NULL;
    }
    if (am__config_validate(cfg_in, "config") != AM_OK) return NULL;
    const am__head_spec *spec = choose_head(cfg_in, task, "config");
    if (!spec) return NULL;
    am_model *m = model_build(spec, am_config_copy(cfg_in), AM_ATTN_DEFAULT);
    if (!m) return NULL;
    am__rng rng;
    am__rng_seed(&rng, seed);
    am__named_param *np = NULL;
    size_t n = 0;
    am_status s = am__named_params(m->root, &np, &n);
    uint64_t need = 0;
    size_t n_alloc = 0;
    for (size_t i = 0; i < n && s == AM_OK; i++)
        if (!is_tie_alias(m, np[i].name)) need = add_sat(need, param_alloc_bytes(m, np[i].p)), n_alloc++;
    if (s == AM_OK) s = check_memory("config", need, n_alloc, 0);
    for (size_t i = 0; i < n && s == AM_OK; i++)
        if (!is_tie_alias(m, np[i].name)) s = init_param(m, np[i].owner, np[i].p, np[i].name, "config", &rng, false);
    am__named_params_free(np, n);
    if (s != AM_OK) {
        am_model_free(m);
        return NULL;
    }
    am__model_apply_ties(m);
    am__module_train(m->root, true);
    return m;
}

/* ---- the loading report ---- */

/* Takes `msg`; false when out of memory (msg NULL included). */
static bool add_log(am_model *m, am_log_level lvl, char *msg) {
    am_log_level *lv = msg ? realloc(m->log_levels, (m->n_log + 1) * sizeof *m->log_levels) : NULL;
    if (lv) m->log_levels = lv;
    char **ms = lv ? realloc(m->log_msgs, (m->n_log + 1) * sizeof *m->log_msgs) : NULL;
    if (ms) m->log_msgs = ms;
    if (!ms) {
        free(msg);
        return false;
    }
    m->log_levels[m->n_log] = lvl;
    m->log_msgs[m->n_log] = msg;
    m->n_log++;
    am__log(lvl, "%s", msg);
    return true;
}

static void py_list(am__buf *b, char **v, size_t n) {
    am__buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) am__buf_printf(b, "%s'%s'", i ? ", " : "", v[i]);
    am__buf_puts(b, "]");
}

static void torch_size(am__buf *b, int ndim, const int64_t *shape) {
    am__buf_puts(b, "torch.Size([");
    for (int i = 0; i < ndim; i++) am__buf_printf(b, "%s%lld", i ? ", " : "", (long long)shape[i]);
    am__buf_puts(b, "])");
}

static void finish_info(am_model *m) {
    am_loading_info *I = &m->info;
    I->n_missing = m->n_missing;
    I->missing_keys = (const char *const *)m->missing;
    I->n_unexpected = m->n_unexpected;
    I->unexpected_keys = (const char *const *)m->unexpected;
    I->n_mismatched = m->n_mismatched;
    I->mismatched_keys = (const char *const *)m->mismatched;
    I->mismatched_ckpt_shapes = (const char *const *)m->mm_ckpt;
    I->mismatched_model_shapes = (const char *const *)m->mm_model;
    I->n_log = m->n_log;
    I->log_levels = m->log_levels;
    I->log_messages = (const char *const *)m->log_msgs;
}

const am_loading_info *am_model_loading_info(const am_model *m) { return &m->info; }

/* ---- from_pretrained ---- */

typedef struct mm_item {
    char *key;
    int cnd, mnd;
    int64_t cs[AM_MAX_DIMS], ms[AM_MAX_DIMS];
} mm_item;

static int cmp_mm(const void *a, const void *b) { return strcmp(((const mm_item *)a)->key, ((const mm_item *)b)->key); }

/* a weight stored quantized fits a Linear [N,K] or a Conv1D [K,N] of the same logical shape */
static bool qweight_fits(const am_tensor *src, const am__module *owner, const am__param *p) {
    const am__qweight *q = am__qweight_of(src);
    if (!q || strcmp(p->name, "weight") || p->ndim != 2) return false;
    if (owner->is_linear) return p->shape[0] == q->N && p->shape[1] == q->K;
    return owner->type && !strcmp(owner->type, "Conv1D") && p->shape[0] == q->K && p->shape[1] == q->N;
}

/* a name on either side of a tie: such weights are quantized after loading (am__model_quantize),
 * where the tie's other name keeps what it had */
static bool is_tied(const am_model *m, const char *name) {
    for (size_t k = 0; k < m->n_ties; k++)
        if (!strcmp(m->tie_alias[k], name) || !strcmp(m->tie_target[k], name)) return true;
    return false;
}

/* `plan` (NULL: none): quantization at load, applied to each weight as it is read from the
 * checkpoint, so that the float weights are never all resident at once */
static am_status load_weights(am_model *m, const char *dir, const char *name_or_path, const char *origin, const am_load_options *o,
                              const am__qconfig *pre, const am__qconfig *plan) {
    ckpt ck = {0};
    am_status s = ckpt_open(&ck, dir, o->use_safetensors);
    if (s == AM_OK && pre) s = am__quant_ckpt(ck.names.v, ck.t, &ck.names.n, ck.file, pre);
    if (s != AM_OK) {
        ckpt_free(&ck);
        return s;
    }
    /* torch_dtype: float32 unless asked; "auto" = config.torch_dtype, else the first floating
     * weight. Not given (None) with 8-bit or 4-bit weights: float16 for the modules left
     * unquantized, as transformers 4.32's from_pretrained overrides it (for load_in_8bit /
     * load_in_4bit and for a checkpoint saved in 8-bit; 4-bit checkpoints, loadable from 4.36, the
     * same through update_torch_dtype) */
    m->dtype = o->dtype == AM_DTYPE_AUTO || o->dtype == AM_DTYPE_DEFAULT ? AM_F32 : o->dtype;
    if (o->dtype == AM_DTYPE_DEFAULT && ((pre && pre->bits) || (plan && plan->bits))) {
        am__log(AM_LOG_INFO, "Overriding torch_dtype=None with `torch_dtype=torch.float16` due to requirements of `bitsandbytes` to enable model "
                             "loading in 8-bit or 4-bit. Pass your own torch_dtype to specify the dtype of the remaining non-linear layers or pass "
                             "torch_dtype=torch.float16 to remove this warning.");
        m->dtype = AM_F16;
    }
    if (o->dtype == AM_DTYPE_AUTO) {
        am_dtype d;
        const char *cd = am__config_str(m->config, "torch_dtype", NULL);
        if (cd && am_dtype_parse(cd, &d) == AM_OK && am__dtype_is_float(d) && d != AM_F64) m->dtype = d;
        else
            for (size_t i = 0; i < ck.names.n; i++)
                if (am__dtype_is_float(ck.t[i]->dtype) && ck.t[i]->dtype != AM_F64) {
                    m->dtype = ck.t[i]->dtype;
                    break;
                }
    }
    if (m->dtype != AM_F32 && m->dtype != AM_F16 && m->dtype != AM_BF16) {
        ckpt_free(&ck);
        return am__error(AM_ERR_INVALID_ARGUMENT, "torch_dtype %s is not supported for a model (float32, float16, bfloat16)", am_dtype_name(m->dtype));
    }
    am_status kst = mark_keep_fp32(m);
    if (kst) {
        ckpt_free(&ck);
        return kst;
    }
    const char *cls = m->spec->class_name;
    const am__type_spec *ts = am__model_type_spec(m);
    const char *prefix = ts->base_model_prefix;
    size_t plen = strlen(prefix);
    am__named_param *np;
    size_t n;
    if ((kst = am__named_params(m->root, &np, &n))) {
        ckpt_free(&ck);
        return kst;
    }
    /* expected keys: the state dict (parameters and persistent buffers, tied aliases included) */
    strv expected = {0}, buffers = {0};
    for (size_t i = 0; i < n; i++) {
        if (!np[i].p->is_buffer || np[i].p->persistent) strv_push(&expected, np[i].name);
        if (np[i].p->is_buffer) strv_push(&buffers, np[i].name);
    }
    bool has_prefix_module = false, expects_prefix_module = false;
    for (size_t i = 0; plen && i < ck.names.n; i++)
        if (!strncmp(ck.names.v[i], prefix, plen)) has_prefix_module = true;
    for (size_t i = 0; plen && i < expected.n; i++)
        if (!strncmp(expected.v[i], prefix, plen)) expects_prefix_module = true;
    bool remove_prefix_from_model = !has_prefix_module && expects_prefix_module;
    bool add_prefix_to_model = has_prefix_module && !expects_prefix_module;
    char *pd = malloc(plen + 2);
    if (!pd) {
        strv_free(&expected);
        strv_free(&buffers);
        am__named_params_free(np, n);
        ckpt_free(&ck);
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    sprintf(pd, "%s.", prefix);
    /* model key -> checkpoint key space */
#define TO_CKPT(name, out)                                                                                                             \
    do {                                                                                                                               \
        if (remove_prefix_from_model && !strncmp(name, pd, plen + 1)) snprintf(out, sizeof out, "%s", name + plen + 1);                \
        else if (add_prefix_to_model) snprintf(out, sizeof out, "%s%s", pd, name);                                                     \
        else snprintf(out, sizeof out, "%s", name);                                                                                    \
    } while (0)
    strv exp_ck = {0};
    for (size_t i = 0; i < expected.n; i++) {
        char k[1024];
        TO_CKPT(expected.v[i], k);
        strv_push(&exp_ck, k);
    }
    strv missing = {0}, unexpected = {0};
    strv buf_ck = {0};
    for (size_t i = 0; i < buffers.n; i++) {
        char k[1024];
        TO_CKPT(buffers.v[i], k);
        strv_push(&buf_ck, k);
    }
    strv_index ck_ix = {0}, exp_ix = {0}, buf_ix = {0};
    if (!strv_index_make(&ck_ix, &ck.names) || !strv_index_make(&exp_ix, &exp_ck) || !strv_index_make(&buf_ix, &buf_ck))
        s = am__error(AM_ERR_NO_MEMORY, "out of memory matching the checkpoint's keys");
    /* each name once: the first of equal names in sorted order */
    for (size_t j = 0; s == AM_OK && j < exp_ix.n; j++) {
        const char *k = exp_ix.v[j].name;
        if ((j == 0 || strcmp(exp_ix.v[j - 1].name, k)) && strv_index_find(&ck_ix, k) == SIZE_MAX) strv_push(&missing, k);
    }
    for (size_t j = 0; s == AM_OK && j < ck_ix.n; j++) {
        const char *k = ck_ix.v[j].name;
        if ((j == 0 || strcmp(ck_ix.v[j - 1].name, k)) && strv_index_find(&exp_ix, k) == SIZE_MAX && strv_index_find(&buf_ix, k) == SIZE_MAX)
            strv_push(&unexpected, k);
    }
    /* a missing key whose tied partner is present is not missing */
    for (size_t t = 0; t < m->n_ties; t++) {
        char a[1024], b[1024];
        TO_CKPT(m->tie_alias[t], a);
        TO_CKPT(m->tie_target[t], b);
        bool ma = strv_has(&missing, a), mb = strv_has(&missing, b);
        if (ma != mb) {
            strv keep = {0};
            for (size_t i = 0; i < missing.n; i++)
                if (strcmp(missing.v[i], a) && strcmp(missing.v[i], b)) strv_push(&keep, missing.v[i]);
            strv_free(&missing);
            missing = keep;
        }
    }
    if (m->spec->ignore_missing) {
        strv keep = {0};
        for (size_t i = 0; s == AM_OK && i < missing.n; i++) {
            bool ignore;
            s = am__name_pattern_search(m->spec->ignore_missing, missing.v[i], cls, &ignore);
            if (s == AM_OK && !ignore) strv_push(&keep, missing.v[i]);
        }
        strv_free(&missing);
        missing = keep;
    }
    if (m->spec->ignore_unexpected) {
        strv keep = {0};
        for (size_t i = 0; s == AM_OK && i < unexpected.n; i++) {
            bool ignore;
            s = am__name_pattern_search(m->spec->ignore_unexpected, unexpected.v[i], cls, &ignore);
            if (s == AM_OK && !ignore) strv_push(&keep, unexpected.v[i]);
        }
        strv_free(&unexpected);
        unexpected = keep;
    }
    if (expected.failed || buffers.failed || exp_ck.failed || missing.failed || unexpected.failed || buf_ck.failed)
        s = am__error(AM_ERR_NO_MEMORY, "out of memory matching the checkpoint's keys");
    /* assign: every model parameter whose checkpoint key is present */
    mm_item *mms = NULL;
    size_t n_mm = 0;
    am__buf err = {0};
    am__rng rng;
    am__rng_seed(&rng, 0x5eed);
    /* before the first allocation: what the assignment and the initialisation below will
     * allocate (everything not served as a view of the mapped file), against available memory */
    uint64_t need = 0, mapped = 0;
    size_t n_alloc = 0, arena_bytes = 0;
    for (size_t i = 0; s == AM_OK && i < n; i++) {
        am__param *p = np[i].p;
        if (is_tie_alias(m, np[i].name)) continue;
        uint64_t bytes = param_alloc_bytes(m, p);
        size_t ci = SIZE_MAX;
        if (!(p->is_buffer && !p->persistent) && !(remove_prefix_from_model && strncmp(np[i].name, pd, plen + 1))) {
            char k[1024];
            TO_CKPT(np[i].name, k);
            ci = strv_index_find(&ck_ix, k);
        }
        if (ci != SIZE_MAX && qweight_fits(ck.t[ci], np[i].owner, p)) continue; /* already in memory */
        if (ci != SIZE_MAX) {
            const am_tensor *src = ck.t[ci];
            bool same = src->ndim == p->ndim;
            for (int d = 0; same && d < p->ndim; d++) same = src->shape[d] == p->shape[d];
            if (!same && !o->ignore_mismatched_sizes) continue; /* an error below */
            bool kn;
            int64_t qn, qk;
            if (same && plan && am__dtype_is_float(src->dtype) && !is_tied(m, np[i].name) && am__qplan_wants(m, plan, &np[i], NULL, &kn, &qn, &qk) == 1) {
                need = add_sat(need, am__qplan_bytes(plan, qn, qk)); /* quantized as it is read */
                arena_bytes += am__qplan_arena_bytes(plan, qn, qk);
                n_alloc++;
                continue;
            }
            if (same && src->dtype == param_dtype(m, p) && am__tensor_is_mapped(src) && (uintptr_t)src->data % am_dtype_size(src->dtype) == 0) {
                mapped = add_sat(mapped, bytes);
                continue;
            }
        }
        need = add_sat(need, bytes);
        n_alloc++;
    }
    if (s == AM_OK) s = check_memory(origin, need, n_alloc, mapped);
    am__arena arena = {0}; /* the quantized weights' codes, in one block of huge pages */
    if (s == AM_OK) am__arena_init(&arena, arena_bytes);
    for (size_t i = 0; s == AM_OK && i < n; i++) {
        am__param *p = np[i].p;
        if (p->is_buffer && !p->persistent) continue;
        char k[1024];
        TO_CKPT(np[i].name, k);
        if (remove_prefix_from_model && strncmp(np[i].name, pd, plen + 1)) continue; /* head params: not in a base checkpoint */
        size_t ci = strv_index_find(&ck_ix, k);
        if (ci == SIZE_MAX) continue;
        am_tensor *src = ck.t[ci];
        if (am__qweight_of(src)) { /* stored quantized (am__quant_ckpt) */
            if (!qweight_fits(src, np[i].owner, p)) {
                s = am__error(AM_ERR_FORMAT, "%s: quantized tensor '%s' does not fit %s (a %s weight of shape [%lld, %lld])", ck.file, k, np[i].name,
                              np[i].owner->type ? np[i].owner->type : "?", (long long)p->shape[0], (long long)(p->ndim > 1 ? p->shape[1] : 0));
                break;
            }
            am_tensor_free(p->t);
            p->t = am_tensor_retain(src);
            continue;
        }
        bool same = src->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = src->shape[d] == p->shape[d];
        if (!same) {
            mm_item *grown = realloc(mms, (n_mm + 1) * sizeof *mms);
            char *key = grown ? am__strdup(k) : NULL;
            if (grown) mms = grown;
            if (!key) {
                s = am__error(AM_ERR_NO_MEMORY, "out of memory");
                break;
            }
            mm_item *it = &mms[n_mm++];
            it->key = key;
            it->cnd = src->ndim;
            it->mnd = p->ndim;
            memcpy(it->cs, src->shape, sizeof it->cs);
            memcpy(it->ms, p->shape, sizeof it->ms);
            if (!o->ignore_mismatched_sizes) {
                am__buf_printf(&err, "\n\tsize mismatch for %s: copying a param with shape ", np[i].name + (add_prefix_to_model ? 0 : 0));
                torch_size(&err, src->ndim, src->shape);
                am__buf_puts(&err, " from checkpoint, the shape in current model is ");
                torch_size(&err, p->ndim, p->shape);
                am__buf_puts(&err, ".");
            } else s = init_param(m, np[i].owner, p, np[i].name, origin, &rng, true);
            continue;
        }
        bool qkn = false;
        int64_t qn = 0, qk = 0;
        int qw = plan && am__dtype_is_float(src->dtype) && !is_tied(m, np[i].name) ? am__qplan_wants(m, plan, &np[i], NULL, &qkn, &qn, &qk) : 0;
        if (qw < 0) {
            s = AM_ERR_NO_MEMORY;
            break;
        }
        if (qw) {
            /* quantized from the checkpoint's tensor, whose mapped pages then leave the resident
             * set; rounded to the model's dtype first, as transformers casts (param.to(dtype))
             * before set_module_quantized_tensor_to_device */
            am_tensor *qt = am__qplan_quantize(plan, src, param_dtype(m, p), qkn, qn, qk, &arena);
            if (!qt) {
                char *why = am__strfmt(" (tensor '%s' of %s quantized to %d bits)", k, ck.file, plan->bits);
                s = alloc_error(origin, np[i].name, p->ndim, p->shape, AM_F32, why ? why : "");
                free(why);
                break;
            }
            am__tensor_drop_pages(src);
            am_tensor_free(p->t);
            p->t = qt;
            continue;
        }
        am_tensor *t = NULL;
        am_dtype want = param_dtype(m, p);
        if (src->dtype == want && am__tensor_is_mapped(src) && (uintptr_t)src->data % am_dtype_size(src->dtype)) {
            /* safetensors only guarantees byte alignment; the kernels read elements through typed
             * pointers, which must be aligned to the element size: one aligned copy, which the
             * model owns (and counts in its footprint like any parameter) */
            t = am__tensor_convert(src, want);
            if (t)
                am__log(AM_LOG_DEBUG, "%s: tensor '%s' sits at a misaligned offset in the file: copied into aligned memory (%zu bytes)",
                        ck.file, k, am_tensor_nbytes(t));
        } else if (src->dtype == want) t = am_tensor_retain(src); /* zero copy: a view into the mapped file */
        else if (am__dtype_is_float(src->dtype) && am__dtype_is_float(want)) t = am__tensor_convert(src, want);
        else if (!am__dtype_is_float(src->dtype) && !am__dtype_is_float(want) && src->dtype != AM_BOOL) t = am__tensor_convert(src, want);
        else {
            s = am__error(AM_ERR_FORMAT, "%s: tensor '%s' has dtype %s, expected %s", ck.file, k, am_dtype_st_name(src->dtype), am_dtype_st_name(want));
            break;
        }
        if (!t) {
            char *why = am__strfmt(" (tensor '%s' of %s converted from %s to %s)", k, ck.file, am_dtype_name(src->dtype), am_dtype_name(want));
            s = alloc_error(origin, np[i].name, p->ndim, p->shape, want, why ? why : "");
            free(why);
            break;
        }
        if (t != src) am__tensor_drop_pages(src); /* converted: keep one copy resident, not two */
        am_tensor_free(p->t);
        p->t = t;
    }
    if (s == AM_OK && err.failed) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (s == AM_OK && err.len) {
        s = am__error(AM_ERR_SHAPE, "%s: Error(s) in loading state_dict for %s:%s\n\tYou may consider adding %s.",
                      ck.file, cls, err.data,
                      am__opt_name("`ignore_mismatched_sizes=True` in the model `from_pretrained` method",
                                   "`--ignore-mismatched-sizes` to the command"));
    }
    am__buf_free(&err);
    /* what is still empty gets _init_weights (missing keys, non-persistent buffers) */
    am__model_apply_ties(m);
    for (size_t i = 0; s == AM_OK && i < n; i++) {
        if (np[i].p->t) continue;
        s = init_param(m, np[i].owner, np[i].p, np[i].name, origin, &rng, false);
        am__model_apply_ties(m);
    }
    if (s == AM_OK) {
        if (missing.n) qsort(missing.v, missing.n, sizeof *missing.v, cmp_str);
        if (unexpected.n) qsort(unexpected.v, unexpected.n, sizeof *unexpected.v, cmp_str);
        m->missing = missing.v;
        m->n_missing = missing.n;
        m->unexpected = unexpected.v;
        m->n_unexpected = unexpected.n;
        missing = (strv){0};
        unexpected = (strv){0};
        if (n_mm) qsort(mms, n_mm, sizeof *mms, cmp_mm); /* checkpoint (name) order, as _find_mismatched_keys walks it */
        m->mismatched = calloc(n_mm + 1, sizeof(char *));
        m->mm_ckpt = calloc(n_mm + 1, sizeof(char *));
        m->mm_model = calloc(n_mm + 1, sizeof(char *));
        bool ok = m->mismatched && m->mm_ckpt && m->mm_model;
        for (size_t i = 0; ok && i < n_mm; i++) {
            char a[128], b[128];
            m->mismatched[i] = am__strdup(mms[i].key);
            m->mm_ckpt[i] = am__strdup(am__shape_str(mms[i].cnd, mms[i].cs, a, sizeof a));
            m->mm_model[i] = am__strdup(am__shape_str(mms[i].mnd, mms[i].ms, b, sizeof b));
            ok = m->mismatched[i] && m->mm_ckpt[i] && m->mm_model[i];
        }
        m->n_mismatched = ok ? n_mm : 0;
        if (!ok) /* the entries made so far (the rest are NULL) */
            for (size_t i = 0; i < n_mm && m->mismatched && m->mm_ckpt && m->mm_model; i++)
                free(m->mismatched[i]), free(m->mm_ckpt[i]), free(m->mm_model[i]), m->mismatched[i] = m->mm_ckpt[i] = m->mm_model[i] = NULL;
        /* transformers' log messages, in its order */
        am__buf b = {0};
        if (m->n_unexpected) {
            const cJSON *arch = am__config_value(m->config, "architectures");
            bool in_arch = false;
            for (const cJSON *a = cJSON_IsArray(arch) ? arch->child : NULL; a; a = a->next)
                if (cJSON_IsString(a) && !strcmp(a->valuestring, cls)) in_arch = true;
            am__buf_printf(&b, "Some weights of the model checkpoint at %s were not used when initializing %s: ", name_or_path, cls);
            py_list(&b, m->unexpected, m->n_unexpected);
            am__buf_printf(&b,
                           "\n- This IS expected if you are initializing %s from the checkpoint of a model trained on another task or with another "
                           "architecture (e.g. initializing a BertForSequenceClassification model from a BertForPreTraining model).\n- This IS NOT "
                           "expected if you are initializing %s from the checkpoint of a model that you expect to be exactly identical (initializing a "
                           "BertForSequenceClassification model from a BertForSequenceClassification model).",
                           cls, cls);
            ok = ok && add_log(m, in_arch ? AM_LOG_WARNING : AM_LOG_INFO, am__buf_take(&b));
        } else {
            am__buf_printf(&b, "All model checkpoint weights were used when initializing %s.\n", cls);
            ok = ok && add_log(m, AM_LOG_INFO, am__buf_take(&b));
        }
        if (m->n_missing) {
            am__buf_printf(&b, "Some weights of %s were not initialized from the model checkpoint at %s and are newly initialized: ", cls, name_or_path);
            py_list(&b, m->missing, m->n_missing);
            am__buf_puts(&b, "\nYou should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.");
            ok = ok && add_log(m, AM_LOG_WARNING, am__buf_take(&b));
        } else if (!n_mm) {
            am__buf_printf(&b,
                           "All the weights of %s were initialized from the model checkpoint at %s.\nIf your task is similar to the task the model of "
                           "the checkpoint was trained on, you can already use %s for predictions without further training.",
                           cls, name_or_path, cls);
            ok = ok && add_log(m, AM_LOG_INFO, am__buf_take(&b));
        }
        if (n_mm) {
            am__buf_printf(&b, "Some weights of %s were not initialized from the model checkpoint at %s and are newly initialized because the shapes did not match:\n",
                           cls, name_or_path);
            for (size_t i = 0; i < n_mm; i++) {
                am__buf_printf(&b, "- %s: found shape ", mms[i].key);
                torch_size(&b, mms[i].cnd, mms[i].cs);
                am__buf_puts(&b, " in the checkpoint and ");
                torch_size(&b, mms[i].mnd, mms[i].ms);
                am__buf_puts(&b, " in the model instantiated\n");
            }
            am__buf_puts(&b, "You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.");
            ok = ok && add_log(m, AM_LOG_WARNING, am__buf_take(&b));
        }
        am__buf_free(&b);
        finish_info(m);
        if (!ok) s = am__error(AM_ERR_NO_MEMORY, "out of memory writing the loading report");
    }
    am__arena_release(&arena);
    for (size_t i = 0; i < n_mm; i++) free(mms[i].key);
    free(mms);
    free(pd);
    strv_free(&missing);
    strv_free(&unexpected);
    strv_free(&expected);
    strv_free(&buffers);
    strv_free(&exp_ck);
    strv_free(&buf_ck);
    free(ck_ix.v);
    free(exp_ix.v);
    free(buf_ix.v);
    am__named_params_free(np, n);
    ckpt_free(&ck);
    return s;
#undef TO_CKPT
}

static am_model *load_local(am_task task, const char *path, const char *name_or_path, const am_load_options *op);

/* The option values checked before anything is resolved, downloaded or loaded. */
static am_status check_values(const am_load_options *o, am__matmul_prec *prec) {
    if (o->dtype != AM_F32 && o->dtype != AM_F16 && o->dtype != AM_BF16 && o->dtype != AM_DTYPE_AUTO && o->dtype != AM_DTYPE_DEFAULT)
        return am__error(AM_ERR_INVALID_ARGUMENT, "from_pretrained: %s must be float32, float16, bfloat16 or auto (got %s)",
                         am__opt_name("torch_dtype", "--dtype"), am_dtype_name(o->dtype));
    *prec = AM__PREC_DEFAULT;
    if (o->float32_matmul_precision && !am__matmul_prec_parse(o->float32_matmul_precision, prec))
        return am__error(AM_ERR_INVALID_ARGUMENT, "from_pretrained: %s must be \"highest\", \"high\" or \"medium\" (got \"%s\")",
                         am__opt_name("float32_matmul_precision", "--float32-matmul-precision"), o->float32_matmul_precision);
    return AM_OK;
}

am_model *am_model_from_pretrained(am_task task, const char *path, const am_load_options *opts) {
    am_load_options o = am_load_options_default();
    if (AM__OPTS_IN(o, opts, "am_load_options")) return NULL;
    if (!path || !*path) {
        am__error(AM_ERR_INVALID_ARGUMENT, "from_pretrained: empty model path");
        return NULL;
    }
    am__matmul_prec prec;
    if (am__device_map_check(&o) != AM_OK || check_values(&o, &prec) != AM_OK) return NULL;
    am__qconfig qc; /* checked before anything is resolved or downloaded */
    if (am__qconfig_from_options(&o, &qc) != AM_OK) return NULL;
    am__qconfig_free(&qc);
    /* a local folder, or a hub id resolved into the cache (config, weights, generation config) */
    am__hub_opts ho = am__hub_opts_default();
    ho.revision = o.revision;
    ho.subfolder = o.subfolder;
    ho.cache_dir = o.cache_dir;
    ho.token = o.token;
    ho.local_files_only = o.local_files_only;
    ho.force_download = o.force_download;
    ho.use_safetensors = o.use_safetensors;
    char *dir = NULL;
    unsigned flags = AM__HUB_WEIGHTS | AM__HUB_GENERATION_CONFIG | (o.config ? 0 : AM__HUB_CONFIG);
    if (am__hub_resolve(path, &ho, flags, NULL, NULL, &dir) != AM_OK) return NULL;
    am_model *m = load_local(task, dir, path, &o);
    if (m && !am__is_dir(path)) { /* {cache}/models--org--name/snapshots/{commit}[/{subfolder}] */
        size_t n = strlen(dir), sl = o.subfolder && *o.subfolder ? strlen(o.subfolder) + 1 : 0;
        if (n > sl) dir[n - sl] = 0;
        const char *c = strrchr(dir, '/');
        m->hub_commit = am__strdup(c ? c + 1 : dir);
        m->hub_cache_dir = o.cache_dir ? am__strdup(o.cache_dir) : NULL;
        m->hub_subfolder = sl ? am__strdup(o.subfolder) : NULL;
        if (!m->hub_commit || (o.cache_dir && !m->hub_cache_dir) || (sl && !m->hub_subfolder)) {
            am__error(AM_ERR_NO_MEMORY, "from_pretrained: out of memory");
            am_model_free(m);
            m = NULL;
        }
    }
    free(dir);
    return m;
}

static am_model *load_local(am_task task, const char *path, const char *name_or_path, const am_load_options *op) {
    am_load_options o = *op;
    am__matmul_prec prec = AM__PREC_DEFAULT;
    if (check_values(&o, &prec) != AM_OK) return NULL;
    char *cfg_path = am__path_join(path, "config.json");
    am_config *cfg = !cfg_path ? NULL : o.config ? am_config_copy(o.config) : am_config_from_pretrained(path);
    /* the config named in errors: the file, or "config" for one handed in */
    char *cfg_origin = cfg && cfg_path ? am__strdup(o.config ? "config" : cfg_path) : NULL;
    am_status cs = !cfg ? AM_ERR_FORMAT : !cfg_origin ? am__error(AM_ERR_NO_MEMORY, "out of memory") : AM_OK;
    if (cs == AM_OK && o.num_labels > 0 && am_config_num_labels(cfg) != o.num_labels) cs = am_config_set_num_labels(cfg, o.num_labels);
    if (cs == AM_OK) cs = am__config_validate(cfg, cfg_origin);
    const am__head_spec *spec = NULL;
    if (cs == AM_OK && am_config_set_string(cfg, "_name_or_path", name_or_path) == AM_OK) spec = choose_head(cfg, task, cfg_path);
    free(cfg_path);
    if (!spec) {
        am_config_free(cfg);
        free(cfg_origin);
        return NULL;
    }
    am_model *m = model_build(spec, cfg, o.attn);
    if (!m) {
        free(cfg_origin);
        return NULL;
    }
    m->name_or_path = am__strdup(name_or_path);
    am__qconfig qc;
    bool pre = false;
    if (am__qconfig_resolve(m->config, &o, &qc, &pre) != AM_OK) {
        free(cfg_origin);
        am_model_free(m);
        return NULL;
    }
    am__qconfig plan = {0};
    if ((qc.bits && !pre && am__qplan(m, &qc, &plan) != AM_OK) || load_weights(m, path, name_or_path, cfg_origin, &o, pre ? &qc : NULL, plan.bits ? &plan : NULL) != AM_OK) {
        am__qconfig_free(&plan);
        am__qconfig_free(&qc);
        free(cfg_origin);
        am_model_free(m);
        return NULL;
    }
    am__qconfig_free(&plan);
    free(cfg_origin);
    /* device_map: placement, disk offload, hf_device_map; the weights were safetensors when
     * load_weights found them first (use_safetensors and a model.safetensors(.index.json)) */
    char *st1 = am__path_join(path, "model.safetensors"), *st2 = am__path_join(path, "model.safetensors.index.json");
    bool safetensors = o.use_safetensors && st1 && st2 && (am__is_file(st1) || am__is_file(st2));
    free(st1);
    free(st2);
    if (am__device_map_apply(m, &o, safetensors) != AM_OK) {
        am__qconfig_free(&qc);
        am_model_free(m);
        return NULL;
    }
    if (qc.bits && m->n_offloaded) {
        /* quantizing a "disk" weight would make a resident copy of it: the two are not combined yet */
        am__error(AM_ERR_UNSUPPORTED, "%s: load_in_%dbit with device_map \"disk\" placement is not supported: "
                                      "quantized weights are kept in memory; raise max_memory or drop the quantization",
                  path, qc.bits);
        am__qconfig_free(&qc);
        am_model_free(m);
        return NULL;
    }
    am__module_train(m->root, false);
    m->matmul_prec = prec;
    am_status qs = am__model_apply_matmul_prec(m);
    if (qs == AM_OK) qs = am__model_quantize(m, &qc);
    am__qconfig_free(&qc);
    if (qs != AM_OK) {
        am_model_free(m);
        return NULL;
    }
    /* GenerationConfig.from_pretrained: kept for generate(); a broken file is ignored as transformers does */
    char *gc_path = am__path_join(path, "generation_config.json"), *gc_text = NULL;
    if (!gc_path) {
        am_model_free(m);
        return NULL;
    }
    size_t gc_len = 0;
    am_status gs = m->spec->can_generate && am__is_file(gc_path) ? am__check_confined(gc_path, path) : AM_ERR_NOT_FOUND;
    if (gs == AM_OK) gs = am__read_file(gc_path, &gc_text, &gc_len);
    if (gs == AM_ERR_NO_MEMORY) { /* unlike a broken file, not something to ignore */
        free(gc_path);
        am_model_free(m);
        return NULL;
    }
    if (gs != AM_OK && gs != AM_ERR_NOT_FOUND) am__log(AM_LOG_WARNING, "%s; using the model config", am_last_error());
    if (gs == AM_OK) {
        if (am__json_parse(gc_text, gc_len, gc_path, &m->generation_config) != AM_OK)
            am__log(AM_LOG_WARNING, "%s", am_last_error());
        if (m->generation_config && !cJSON_IsObject(m->generation_config)) {
            cJSON_Delete(m->generation_config);
            m->generation_config = NULL;
        }
        if (!m->generation_config) am__log(AM_LOG_WARNING, "%s: not a valid generation config; using the model config", gc_path);
    }
    am__error_clear();
    free(gc_text);
    free(gc_path);
    return m;
}

void am_model_free(am_model *m) {
    if (!m) return;
    cJSON_Delete(m->generation_config);
    am__module_free(m->root);
    am_config_free(m->config);
    if (m->impl_free) m->impl_free(m->impl);
    for (size_t i = 0; i < m->n_ties; i++) {
        free(m->tie_alias[i]);
        free(m->tie_target[i]);
    }
    free(m->tie_alias);
    free(m->tie_target);
    for (size_t i = 0; i < m->n_missing; i++) free(m->missing[i]);
    for (size_t i = 0; i < m->n_unexpected; i++) free(m->unexpected[i]);
    for (size_t i = 0; i < m->n_mismatched; i++) {
        free(m->mismatched[i]);
        free(m->mm_ckpt[i]);
        free(m->mm_model[i]);
    }
    free(m->missing);
    free(m->unexpected);
    free(m->mismatched);
    free(m->mm_ckpt);
    free(m->mm_model);
    for (size_t i = 0; i < m->n_log; i++) free(m->log_msgs[i]);
    free(m->log_msgs);
    free(m->log_levels);
    free(m->name_or_path);
    free(m->hub_commit);
    free(m->hub_cache_dir);
    free(m->hub_subfolder);
    free(m->hf_device_map);
    for (size_t i = 0; i < m->n_offloaded; i++) am_tensor_free(m->offloaded[i]);
    free(m->offloaded);
    for (size_t i = 0; i < m->n_qs; i++) free(m->qs_name[i]), am_tensor_free(m->qs_t[i]);
    free(m->qs_name);
    free(m->qs_t);
    free(m);
}
