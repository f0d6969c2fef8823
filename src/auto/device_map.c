/* auto/device_map.c — from_pretrained's device_map, max_memory and offload_folder, with
 * transformers 4.32 / accelerate semantics on the devices this build has ("cpu" and "disk").
 *
 * 1. Checked before anything loads (am__device_map_check): "auto", "balanced", "balanced_low_0",
 *    "sequential", "cpu", or a JSON object {module prefix: "cpu" | "disk" | GPU}; max_memory as a
 *    JSON object or "cpu=2GiB,disk=..." with accelerate's size strings. A GPU (an index, "cuda:0",
 *    "mps", ...) is refused: this build has no GPU backend.
 * 2. Planned after the weights are assigned (am__device_map_apply), as accelerate's
 *    infer_auto_device_map does: the model's direct children placed in order on "cpu" (its budget
 *    less the largest no-split layer, the room offloaded layers are brought into) and then "disk";
 *    a module that does not fit is split into its children unless its class is a no-split layer;
 *    tied parameters kept on one device; the result cleaned as clean_device_map does. With no GPU,
 *    get_balanced_memory returns max_memory unchanged, so "balanced"/"balanced_low_0"/"auto" plan
 *    as "sequential" does (as they do in transformers on a CPU-only machine).
 * 3. "disk" modules: their weights stay views of the mapped checkpoint; a weight that is not one
 *    (converted dtype, misaligned copy, re-initialised) is written to offload_folder as accelerate
 *    writes it (<name>.dat + index.json) and mapped from there. Every such tensor is marked
 *    `offloaded`: its pages are dropped from the resident set now, prefetched when its layer starts
 *    and dropped when its layer ends (nn/stack.c), dropped after each product (am__dense: heads),
 *    and after every forward / generate call (am__offload_release_all), so the resident weights
 *    are the "cpu" ones plus the layer or head running.
 *    kernels/linear.c makes no permanent per-weight cache (packed bf16, float32 copy) for an
 *    offloaded weight: it builds what it needs per call and frees it. */
#include "auto/auto.h"
#include "core/error.h"
#include "core/log.h"
#include "core/json.h"
#include "core/util.h"
#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *k_strategies[] = {"auto", "balanced", "balanced_low_0", "sequential"};

/* torch.device's names: a type, optionally ":index" */
static bool device_name(const char *s) {
    static const char *types[] = {"cpu", "cuda", "mps", "xpu", "meta", "hpu", "npu", "xla", "ipu", "mkldnn", "opengl",
                                  "opencl", "ideep", "hip", "ve", "fpga", "ort", "vulkan", "lazy", "mtia", "privateuseone"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen(types[i]);
        if (strncmp(s, types[i], n)) continue;
        if (!s[n]) return true;
        if (s[n] != ':' || !s[n + 1]) continue;
        const char *d = s + n + 1;
        while (isdigit((unsigned char)*d)) d++;
        if (!*d) return true;
    }
    return false;
}

static bool all_digits(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return false;
    return true;
}

static am_status no_gpu(const char *what, const char *dev) {
    return am__error(AM_ERR_UNSUPPORTED,
                     "%s: device %s: this build of automodel has no GPU backend (it runs on the CPU only); place modules "
                     "on \"cpu\" or \"disk\"",
                     what, dev);
}

/* one device of a device_map value: "cpu" or "disk" (1 / 2); a GPU is refused, anything else invalid */
static am_status map_device(const cJSON *e, const char *what, int *dev) {
    if (cJSON_IsString(e) && !strcmp(e->valuestring, "cpu")) *dev = 1;
    else if (cJSON_IsString(e) && !strcmp(e->valuestring, "disk")) *dev = 2;
    else if (cJSON_IsString(e) && (device_name(e->valuestring) || all_digits(e->valuestring))) return no_gpu(what, e->valuestring);
    else if (cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble == floor(e->valuedouble)) {
        char b[32];
        snprintf(b, sizeof b, "%.0f", e->valuedouble);
        return no_gpu(what, b);
    } else
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: the device of '%s' must be \"cpu\", \"disk\" or a GPU index", what,
                         e->string ? e->string : "");
    return AM_OK;
}

/* accelerate's convert_file_size_to_int: an integer (bytes) or a number with GIB/MIB/KIB (powers of
 * 2) or GB/MB/KB (powers of 10; a lowercase final "b" means bits: / 8), case-insensitive */
static am_status parse_size(const char *what, const char *s, uint64_t *out) {
    size_t n = strlen(s);
    static const struct {
        const char *u;
        double mul;
    } units[] = {{"GIB", 1073741824.0}, {"MIB", 1048576.0}, {"KIB", 1024.0}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}};
    double mul = 1;
    size_t cut = n;
    bool bits = false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t ul = strlen(units[i].u);
        if (n > ul && !strcasecmp(s + n - ul, units[i].u)) {
            mul = units[i].mul;
            cut = n - ul;
            bits = ul == 2 && s[n - 1] == 'b';
            break;
        }
    }
    char num[64];
    bool ok = cut > 0 && cut < sizeof num;
    double v = 0;
    if (ok) {
        memcpy(num, s, cut);
        num[cut] = 0;
        char *end;
        errno = 0;
        if (mul == 1) { /* a bare integer: bytes */
            ok = all_digits(num);
            unsigned long long x = ok ? strtoull(num, &end, 10) : 0;
            ok = ok && !errno && x <= (1ull << 62);
            v = (double)x;
        } else {
            v = strtod(num, &end);
            ok = !*end && !errno && isfinite(v) && v >= 0;
        }
    }
    if (ok) v = floor(v * mul);
    if (ok && bits) v = floor(v / 8);
    if (!ok || !(v >= 0 && v <= 4611686018427387904.0))
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "%s: `size` %s is not in a valid format. Use an integer for bytes, or a string with an unit (like '5.0GB').", what, s);
    *out = (uint64_t)v;
    return AM_OK;
}

typedef struct dm_budget {
    bool has_cpu, has_disk, given;
    uint64_t cpu, disk;
} dm_budget;

/* one max_memory entry; devices in accelerate's get_max_memory: GPU integers, "mps", "cpu", "disk" */
static am_status budget_entry(dm_budget *b, const char *key, const char *val_str, const cJSON *val_num) {
    const char *what = am__opt_name("max_memory", "--max-memory");
    char vb[64];
    if (!val_str) {
        if (!cJSON_IsNumber(val_num) || val_num->valuedouble < 0 || val_num->valuedouble != floor(val_num->valuedouble) ||
            val_num->valuedouble > 4.6e18)
            return am__error(AM_ERR_INVALID_ARGUMENT, "%s: the value of \"%s\" must be a size string (\"2GiB\") or a number of bytes", what, key);
        snprintf(vb, sizeof vb, "%.0f", val_num->valuedouble);
        val_str = vb;
    }
    if (!strcmp(key, "cpu") || !strcmp(key, "disk")) {
        bool cpu = !strcmp(key, "cpu");
        am_status s = parse_size(what, val_str, cpu ? &b->cpu : &b->disk);
        if (s == AM_OK) *(cpu ? &b->has_cpu : &b->has_disk) = true;
        return s;
    }
    if (all_digits(key) || device_name(key) || !strcmp(key, "cuda")) return no_gpu(what, key);
    return am__error(AM_ERR_INVALID_ARGUMENT, "%s: Device %s is not recognized, available devices are integers(for GPU/XPU), 'mps', 'cpu' and 'disk'",
                     what, key);
}

static am_status parse_budget(const char *mm, dm_budget *b) {
    memset(b, 0, sizeof *b);
    if (!mm || !*mm) return AM_OK;
    b->given = true;
    const char *what = am__opt_name("max_memory", "--max-memory");
    const char *p = mm + strspn(mm, " \t\n");
    if (*p == '{') {
        cJSON *j = NULL;
        if (am__json_parse(mm, strlen(mm), what, &j) != AM_OK) return AM_ERR_INVALID_ARGUMENT;
        am_status s = cJSON_IsObject(j) ? AM_OK : am__error(AM_ERR_INVALID_ARGUMENT, "%s: expected a JSON object of devices to sizes", what);
        for (const cJSON *e = j ? j->child : NULL; e && s == AM_OK; e = e->next)
            s = budget_entry(b, e->string, cJSON_IsString(e) ? e->valuestring : NULL, e);
        cJSON_Delete(j);
        return s;
    }
    /* DEVICE=SIZE[,DEVICE=SIZE...]: every comma separates two entries (no empty ones) */
    char *copy = am__strdup(mm);
    if (!copy) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    am_status s = AM_OK;
    for (char *tok = copy; tok && s == AM_OK;) {
        char *comma = strchr(tok, ','), *next = comma ? comma + 1 : NULL;
        if (comma) *comma = 0;
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            s = am__error(AM_ERR_INVALID_ARGUMENT, "%s: '%s' is not DEVICE=SIZE (e.g. cpu=2GiB)", what, tok);
            break;
        }
        *eq = 0;
        s = budget_entry(b, tok, eq + 1, NULL);
        tok = next;
    }
    free(copy);
    return s;
}

static am_status refuse_strategy_value(const char *dm) {
    return am__error(AM_ERR_INVALID_ARGUMENT,
                     "When passing %s as a string, the value needs to be a device name (e.g. cpu, cuda:0) or 'auto', "
                     "'balanced', 'balanced_low_0', 'sequential' (or a JSON object of module names to devices) but found %s.",
                     am__opt_name("device_map", "--device-map"), dm);
}

/* parse device_map: *strategy (true for the four strategies and "cpu"), or *map (a JSON object) */
static am_status parse_map(const char *dm, bool *strategy, cJSON **map) {
    *strategy = false;
    *map = NULL;
    const char *what = am__opt_name("device_map", "--device-map");
    for (size_t i = 0; i < sizeof k_strategies / sizeof k_strategies[0]; i++)
        if (!strcmp(dm, k_strategies[i])) {
            *strategy = true;
            return AM_OK;
        }
    if (!strcmp(dm, "cpu")) return AM_OK; /* {"": "cpu"} */
    if (!strcmp(dm, "disk")) return refuse_strategy_value(dm);
    const char *p = dm + strspn(dm, " \t\n");
    if (device_name(dm) || all_digits(p)) return no_gpu(what, dm);
    if (*p != '{') return refuse_strategy_value(dm);
    cJSON *j = NULL;
    if (am__json_parse(dm, strlen(dm), what, &j) != AM_OK) return AM_ERR_INVALID_ARGUMENT;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return refuse_strategy_value(dm);
    }
    am_status s = AM_OK;
    for (const cJSON *e = j->child; e && s == AM_OK; e = e->next) {
        int dev;
        s = map_device(e, what, &dev);
    }
    if (s != AM_OK) cJSON_Delete(j);
    else *map = j;
    return s;
}

am_status am__device_map_check(const am_load_options *o) {
    dm_budget b;
    if (parse_budget(o->max_memory, &b) != AM_OK) return AM_ERR_INVALID_ARGUMENT;
    if (o->offload_folder && !*o->offload_folder)
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: an empty folder name", am__opt_name("offload_folder", "--offload-folder"));
    if (!o->device_map || !*o->device_map) {
        if (b.given) /* transformers passes max_memory on only with a device_map */
            am__log(AM_LOG_WARNING, "%s is used only with %s; ignoring it", am__opt_name("max_memory", "--max-memory"),
                    am__opt_name("device_map", "--device-map"));
        return AM_OK;
    }
    bool strategy;
    cJSON *map;
    am_status s = parse_map(o->device_map, &strategy, &map);
    cJSON_Delete(map);
    return s;
}

/* ---- planning ---- */

typedef struct dm_entry { /* a named parameter with the bytes it counts for (0: a tied duplicate) */
    const char *name;
    am__param *p;
    uint64_t bytes;
} dm_entry;

typedef struct dm_plan {
    am_model *m;
    am__named_param *np;
    size_t n;
    uint64_t *bytes; /* per np entry: 0 for a later occurrence of the same tensor (named_parameters dedups) */
    const char *const *no_split;
    size_t (*ties)[2]; /* pairs of np entries sharing one tensor (tied weights) */
    size_t n_ties;
} dm_plan;

typedef struct dm_ptr {
    const void *t;
    size_t i;
} dm_ptr;
static int ptr_cmp(const void *a, const void *b) {
    const dm_ptr *x = a, *y = b;
    if (x->t != y->t) return (uintptr_t)x->t < (uintptr_t)y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* bytes per entry (named_parameters' dedup: a tensor counts at its first name) and the tied pairs,
 * in n log n */
static am_status plan_sizes(dm_plan *pl) {
    dm_ptr *v = malloc((pl->n ? pl->n : 1) * sizeof *v);
    pl->bytes = calloc(pl->n ? pl->n : 1, sizeof *pl->bytes);
    if (!v || !pl->bytes) {
        free(v);
        return am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < pl->n; i++)
        if (pl->np[i].p->t) v[m++] = (dm_ptr){pl->np[i].p->t, i};
    qsort(v, m, sizeof *v, ptr_cmp);
    am_status s = AM_OK;
    for (size_t a = 0; a < m && s == AM_OK;) {
        size_t b = a + 1;
        while (b < m && v[b].t == v[a].t) b++;
        pl->bytes[v[a].i] = am_tensor_nbytes(pl->np[v[a].i].p->t);
        for (size_t c = a + 1; c < b && s == AM_OK; c++) { /* each later name is tied to the first */
            size_t (*g)[2] = realloc(pl->ties, (pl->n_ties + 1) * sizeof *g);
            if (!g) s = am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
            else {
                pl->ties = g;
                pl->ties[pl->n_ties][0] = v[a].i;
                pl->ties[pl->n_ties++][1] = v[c].i;
            }
        }
        a = b;
    }
    free(v);
    return s;
}

/* transformers' _no_split_modules by model type (the layer classes) */
static const char *const *no_split_classes(const char *model_type) {
    static const char *const bert[] = {"BertEmbeddings", "BertLayer", NULL};
    static const char *const distilbert[] = {"TransformerBlock", NULL};
    static const char *const gpt2[] = {"GPT2Block", NULL};
    static const char *const llama[] = {"LlamaDecoderLayer", NULL};
    static const char *const t5[] = {"T5Block", NULL};
    static const char *const bart[] = {"BartEncoderLayer", "BartDecoderLayer", NULL};
    static const char *const vit[] = {"ViTEmbeddings", "ViTLayer", NULL};
    static const char *const yolos[] = {"YolosEmbeddings", "YolosLayer", NULL};
    static const char *const segformer[] = {"SegformerLayer", NULL};
    static const char *const ved[] = {"ViTLayer", "GPT2Block", NULL};
    /* WhisperPreTrainedModel._no_split_modules; Wav2Vec2PreTrainedModel has none in 4.32, so
     * "auto" and the other strategies refuse it as transformers does ("... does not support
     * `device_map='auto'` yet.") */
    static const char *const whisper[] = {"WhisperEncoderLayer", "WhisperDecoderLayer", NULL};
    static const struct {
        const char *t;
        const char *const *c;
    } k[] = {{"bert", bert}, {"distilbert", distilbert}, {"gpt2", gpt2}, {"llama", llama}, {"t5", t5}, {"bart", bart},
             {"vit", vit},   {"yolos", yolos},           {"segformer", segformer}, {"vision-encoder-decoder", ved},
             {"whisper", whisper}};
    for (size_t i = 0; model_type && i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(model_type, k[i].t)) return k[i].c;
    return NULL;
}

static bool is_no_split(const dm_plan *pl, const am__module *mod) {
    for (const char *const *c = pl->no_split; c && *c; c++)
        if (!strcmp(mod->type, *c)) return true;
    return false;
}

static bool has_prefix(const char *name, const char *prefix) {
    size_t n = strlen(prefix);
    return !n || (!strncmp(name, prefix, n) && (name[n] == 0 || name[n] == '.'));
}

/* compute_module_sizes()[name] */
static uint64_t size_of(const dm_plan *pl, const char *name) {
    uint64_t s = 0;
    for (size_t i = 0; i < pl->n; i++)
        if (has_prefix(pl->np[i].name, name)) s += pl->bytes[i];
    return s;
}

typedef struct dm_item {
    char *name;
    const am__module *mod; /* NULL: a parameter */
    uint64_t size;
} dm_item;

typedef struct dm_list {
    dm_item *v;
    size_t n, cap;
} dm_list;

static bool list_insert(dm_list *l, size_t at, const char *name, const am__module *mod, uint64_t size) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        dm_item *v = realloc(l->v, cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    char *nm = am__strdup(name);
    if (!nm) return false;
    memmove(l->v + at + 1, l->v + at, (l->n - at) * sizeof *l->v);
    l->v[at] = (dm_item){nm, mod, size};
    l->n++;
    return true;
}

static void list_remove(dm_list *l, size_t at, bool free_name) {
    if (free_name) free(l->v[at].name);
    memmove(l->v + at, l->v + at + 1, (l->n - at - 1) * sizeof *l->v);
    l->n--;
}

static void list_free(dm_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].name);
    free(l->v);
}

/* the direct parameters (and buffers) of mod, then its children, as items at position `at` */
static bool expand(const dm_plan *pl, dm_list *l, size_t at, const char *name, const am__module *mod) {
    char buf[1024];
    size_t k = at;
    for (size_t i = 0; i < mod->n_params; i++) { /* parameters (named_parameters(recurse=False)) */
        if (mod->params[i].is_buffer) continue;
        snprintf(buf, sizeof buf, "%s%s%s", name, *name ? "." : "", mod->params[i].name);
        if (!list_insert(l, k++, buf, NULL, size_of(pl, buf))) return false;
    }
    for (size_t i = 0; i < mod->n_children; i++) {
        snprintf(buf, sizeof buf, "%s%s%s", name, *name ? "." : "", mod->children[i]->name);
        if (!list_insert(l, k++, buf, mod->children[i], size_of(pl, buf))) return false;
    }
    for (size_t i = 0; !*name && i < mod->n_params; i++) { /* the model's own buffers come last */
        if (!mod->params[i].is_buffer) continue;
        snprintf(buf, sizeof buf, "%s", mod->params[i].name);
        if (!list_insert(l, k++, buf, NULL, size_of(pl, buf))) return false;
    }
    return true;
}

/* get_max_layer_size over the items (params count as leaves when `with_params`) */
static uint64_t max_layer(const dm_plan *pl, const dm_list *l, bool with_params, char ***names, size_t *n_names) {
    uint64_t best = 0;
    *n_names = 0;
    /* depth-first over the items: a stack of (name, module) */
    size_t cap = 64, sp = 0;
    struct fr {
        char name[1024];
        const am__module *mod;
        uint64_t size;
    } *st = malloc(cap * sizeof *st);
    char **out = NULL;
    size_t on = 0, ocap = 0;
    if (!st) return 0;
    for (size_t i = l->n; i-- > 0;) {
        if (!l->v[i].mod && !with_params) continue;
        if (sp == cap) {
            struct fr *g = realloc(st, 2 * cap * sizeof *st);
            if (!g) break;
            st = g;
            cap *= 2;
        }
        snprintf(st[sp].name, sizeof st[sp].name, "%s", l->v[i].name);
        st[sp].mod = l->v[i].mod;
        st[sp++].size = l->v[i].size;
    }
    while (sp > 0) {
        struct fr f = st[--sp];
        if (!f.mod || !f.mod->n_children || is_no_split(pl, f.mod)) {
            if (f.size > best) {
                best = f.size;
                for (size_t i = 0; i < on; i++) free(out[i]);
                on = 0;
            }
            if (f.size == best) {
                if (on == ocap) {
                    size_t nc = ocap ? 2 * ocap : 8;
                    char **g = realloc(out, nc * sizeof *g);
                    if (!g) continue;
                    out = g;
                    ocap = nc;
                }
                if ((out[on] = am__strdup(f.name))) on++;
            }
            continue;
        }
        for (size_t c = f.mod->n_children; c-- > 0;) {
            if (sp == cap) {
                struct fr *g = realloc(st, 2 * cap * sizeof *st);
                if (!g) break;
                st = g;
                cap *= 2;
            }
            if (snprintf(st[sp].name, sizeof st[sp].name, "%s.%s", f.name, f.mod->children[c]->name) >= (int)sizeof st[sp].name) continue;
            st[sp].mod = f.mod->children[c];
            st[sp].size = size_of(pl, st[sp].name);
            sp++;
        }
    }
    free(st);
    *names = out;
    *n_names = on;
    return best;
}

static void names_free(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* the map being built: name -> device (1 cpu, 2 disk), in placement order */
typedef struct dm_map {
    char **name;
    int *dev;
    size_t n, cap;
} dm_map;

static bool map_put(dm_map *mp, const char *name, int dev) {
    if (mp->n == mp->cap) {
        size_t cap = mp->cap ? 2 * mp->cap : 16;
        char **nv = realloc(mp->name, cap * sizeof *nv);
        if (!nv) return false;
        mp->name = nv;
        int *dv = realloc(mp->dev, cap * sizeof *dv);
        if (!dv) return false;
        mp->dev = dv;
        mp->cap = cap;
    }
    if (!(mp->name[mp->n] = am__strdup(name))) return false;
    mp->dev[mp->n++] = dev;
    return true;
}

static void map_free(dm_map *mp) {
    for (size_t i = 0; i < mp->n; i++) free(mp->name[i]);
    free(mp->name);
    free(mp->dev);
}

/* the tied partners (other names sharing the tensor) of parameters inside `name` but outside it */
static size_t tied_outside(const dm_plan *pl, const char *name, const char **out, size_t max) {
    size_t k = 0;
    for (size_t q = 0; q < pl->n_ties && k < max; q++) {
        size_t i = pl->ties[q][0], j = pl->ties[q][1];
        bool in_i = has_prefix(pl->np[i].name, name), in_j = has_prefix(pl->np[j].name, name);
        if (in_i && !in_j) out[k++] = pl->np[j].name;
        else if (in_j && !in_i) out[k++] = pl->np[i].name;
    }
    return k;
}

/* infer_auto_device_map with devices ["cpu", "disk"] (or only "disk" when max_memory has no "cpu") */
static am_status infer(const dm_plan *pl, const dm_budget *b, dm_map *mp) {
    int devices[2], n_dev = 0;
    if (!b->given || b->has_cpu) devices[n_dev++] = 1;
    devices[n_dev++] = 2;
    uint64_t cpu_max = b->given ? b->cpu : am__mem_available(NULL);
    dm_list l = {0};
    if (!expand(pl, &l, 0, "", pl->m->root)) {
        list_free(&l);
        return am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
    }
    char **ml_names = NULL;
    size_t n_ml = 0;
    uint64_t ml = max_layer(pl, &l, true, &ml_names, &n_ml);
    int cur = 0;
    uint64_t used = 0;
    am_status s = AM_OK;
    while (l.n > 0 && s == AM_OK) {
        dm_item it = l.v[0];
        list_remove(&l, 0, false);
        /* the largest layer may have been taken: recompute over the modules left */
        size_t w = 0;
        for (size_t i = 0; i < n_ml; i++) {
            if (has_prefix(ml_names[i], it.name)) free(ml_names[i]);
            else ml_names[w++] = ml_names[i];
        }
        n_ml = w;
        if (!n_ml) {
            names_free(ml_names, n_ml);
            ml = max_layer(pl, &l, false, &ml_names, &n_ml);
        }
        int dev = devices[cur];
        bool limited = dev == 1;
        uint64_t cmax = cpu_max > ml ? cpu_max - ml : 0; /* the main device keeps room for the largest layer */
        const char *ties[64];
        size_t nt = tied_outside(pl, it.name, ties, 64);
        /* the items the ties live in */
        size_t tied_items[64], nti = 0;
        uint64_t with_ties = it.size;
        for (size_t t = 0; t < nt; t++)
            for (size_t i = 0; i < l.n; i++)
                if (has_prefix(ties[t], l.v[i].name)) {
                    bool dup = false;
                    for (size_t q = 0; q < nti; q++) dup = dup || tied_items[q] == i;
                    if (!dup && nti < 64) {
                        tied_items[nti++] = i;
                        with_ties += l.v[i].size;
                    }
                    break;
                }
        if (limited && used + it.size > cmax) {
            if (!it.mod || !it.mod->n_children || is_no_split(pl, it.mod)) { /* no split: the next device */
                cur++;
                used = 0;
                if (!list_insert(&l, 0, it.name, it.mod, it.size)) s = am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
            } else {
                if (!expand(pl, &l, 0, it.name, it.mod)) s = am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
                names_free(ml_names, n_ml);
                ml = max_layer(pl, &l, true, &ml_names, &n_ml);
            }
        } else if (nti > 0 && limited && used + with_ties > cmax) { /* fits, but not with its tied partners */
            cur++;
            used = 0;
            if (!list_insert(&l, 0, it.name, it.mod, it.size)) s = am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
        } else {
            used += nti ? with_ties : it.size;
            if (!map_put(mp, it.name, dev)) s = am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
            /* the tied modules go with it (highest index first, so the others stay valid) */
            for (size_t a = 0; a < nti; a++)
                for (size_t c = a + 1; c < nti; c++)
                    if (tied_items[c] > tied_items[a]) {
                        size_t t = tied_items[a];
                        tied_items[a] = tied_items[c];
                        tied_items[c] = t;
                    }
            for (size_t q = 0; q < nti && s == AM_OK; q++) {
                if (!map_put(mp, l.v[tied_items[q]].name, dev)) s = am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
                list_remove(&l, tied_items[q], true);
            }
        }
        free(it.name);
        if (cur >= n_dev) cur = n_dev - 1; /* disk takes everything */
    }
    names_free(ml_names, n_ml);
    list_free(&l);
    return s;
}

/* clean_device_map: a prefix whose entries all share one device becomes one entry */
static bool clean(dm_map *mp, const char *module) {
    int v = -1;
    size_t count = 0;
    bool same = true;
    for (size_t i = 0; i < mp->n; i++)
        if (has_prefix(mp->name[i], module)) {
            if (v < 0) v = mp->dev[i];
            same = same && mp->dev[i] == v;
            count++;
        }
    if (same && count > 1) { /* the entries go, the merged one comes last (Python's del + insert) */
        size_t w = 0;
        for (size_t i = 0; i < mp->n; i++) {
            if (has_prefix(mp->name[i], module)) {
                free(mp->name[i]);
                continue;
            }
            mp->name[w] = mp->name[i];
            mp->dev[w++] = mp->dev[i];
        }
        mp->n = w;
        if (!map_put(mp, module, v)) return false;
    }
    /* children: the next name component under module */
    size_t ml = strlen(module);
    for (size_t i = 0; i < mp->n; i++) {
        const char *nm = mp->name[i];
        if (!has_prefix(nm, module) || strlen(nm) <= ml) continue;
        const char *rest = nm + (ml ? ml + 1 : 0);
        const char *dot = strchr(rest, '.');
        size_t cl = (size_t)(dot ? dot - nm : (ptrdiff_t)strlen(nm));
        char child[1024];
        if (cl >= sizeof child) continue;
        memcpy(child, nm, cl);
        child[cl] = 0;
        if (!strcmp(child, nm)) continue; /* a leaf entry */
        bool seen = false; /* each child once: only at its first entry */
        for (size_t j = 0; j < i && !seen; j++) seen = has_prefix(mp->name[j], child);
        if (!seen && !clean(mp, child)) return false;
    }
    return true;
}

/* ---- applying ---- */

/* the device of a full parameter name under the map (the last matching entry wins, as
 * accelerate's expand_device_map); 0 when none */
static int device_of(const dm_map *mp, const char *name) {
    int d = 0;
    for (size_t i = 0; i < mp->n; i++)
        if (has_prefix(name, mp->name[i])) d = mp->dev[i];
    return d;
}

static char *map_json(const dm_map *mp) {
    cJSON *j = cJSON_CreateObject();
    for (size_t i = 0; j && i < mp->n; i++)
        if (!cJSON_AddStringToObject(j, mp->name[i], mp->dev[i] == 2 ? "disk" : "cpu")) {
            cJSON_Delete(j);
            j = NULL;
        }
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return s;
}

/* accelerate's offload_weight + save_offload_index: <folder>/<name>.dat (raw little-endian
 * elements, bfloat16 as int16) and index.json {name: {"dtype": ..., "shape": [...]}} */
static am_status offload_write(const char *folder, const char *name, const am_tensor *t, char **path_out) {
    char *path = NULL;
    am__buf pb = {0};
    am__buf_printf(&pb, "%s/%s.dat", folder, name);
    if (pb.failed || !(path = am__buf_take(&pb))) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        am_status s = am__error(AM_ERR_IO, "%s: cannot create the offloaded weight: %s", path, strerror(errno));
        free(path);
        return s;
    }
    const char *p = t->data;
    size_t left = am_tensor_nbytes(t);
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            am_status s = am__error(AM_ERR_IO, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no space");
            close(fd);
            unlink(path);
            free(path);
            return s;
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd) != 0) {
        am_status s = am__error(AM_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        unlink(path);
        free(path);
        return s;
    }
    *path_out = path;
    return AM_OK;
}

static void release_list_add(am_model *m, am_tensor *t) {
    for (size_t i = 0; i < m->n_offloaded; i++)
        if (m->offloaded[i] == t) return;
    am_tensor **g = realloc(m->offloaded, (m->n_offloaded + 1) * sizeof *g);
    if (!g) return; /* only the end-of-call release of this tensor is lost; its layer still releases it */
    m->offloaded = g;
    m->offloaded[m->n_offloaded++] = am_tensor_retain(t); /* held: am_model_parameter_mut may rebind the parameter */
}

void am__offload_release_all(const am_model *m) {
    for (size_t i = 0; m && i < m->n_offloaded; i++) am__tensor_drop_pages(m->offloaded[i]);
}

am_status am__device_map_apply(am_model *m, const am_load_options *o, bool safetensors) {
    if (!o->device_map || !*o->device_map) return AM_OK;
    bool strategy;
    cJSON *user = NULL;
    dm_budget b;
    am_status s = parse_map(o->device_map, &strategy, &user);
    if (s == AM_OK) s = parse_budget(o->max_memory, &b);
    if (s != AM_OK) return s;
    dm_plan pl = {.m = m, .no_split = no_split_classes(am_config_model_type(m->config))};
    dm_map mp = {0};
    if (am__named_params(m->root, &pl.np, &pl.n) != AM_OK) {
        cJSON_Delete(user);
        return AM_ERR_NO_MEMORY;
    }
    s = plan_sizes(&pl);
    if (s == AM_OK && strategy) {
        if (!pl.no_split)
            s = am__error(AM_ERR_UNSUPPORTED, "%s does not support `device_map='%s'` yet.", am_model_class_name(m), o->device_map);
        else s = infer(&pl, &b, &mp);
        if (s == AM_OK && !clean(&mp, "")) s = am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
    } else if (s == AM_OK && user) {
        for (const cJSON *e = user->child; e && s == AM_OK; e = e->next) {
            int dev = 1;
            s = map_device(e, "device_map", &dev);
            if (s == AM_OK && !map_put(&mp, e->string, dev)) s = am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
        }
        /* accelerate's check_device_map: every parameter gets a device */
        am__buf miss = {0};
        size_t n_miss = 0;
        for (size_t i = 0; s == AM_OK && i < pl.n; i++)
            if (pl.bytes[i] && !device_of(&mp, pl.np[i].name)) am__buf_printf(&miss, "%s'%s'", n_miss++ ? ", " : "", pl.np[i].name);
        if (s == AM_OK && n_miss)
            s = am__error(AM_ERR_INVALID_ARGUMENT, "The device_map provided does not give any device for the following parameters: %s",
                          miss.data ? miss.data : "");
        am__buf_free(&miss);
    } else if (s == AM_OK && !map_put(&mp, "", 1))
        s = am__error(AM_ERR_NO_MEMORY, "device_map: out of memory");
    cJSON_Delete(user);
    bool any_disk = false; /* a weight (its first name, for tied ones) placed on "disk" */
    for (size_t i = 0; s == AM_OK && i < pl.n; i++) any_disk = any_disk || (pl.bytes[i] && device_of(&mp, pl.np[i].name) == 2);
    /* weights quantized as they were loaded are in memory: refused before anything is written
     * (load.c refuses the same for the float weights of a quantized model) */
    for (size_t i = 0; s == AM_OK && any_disk && i < pl.n; i++) {
        const am__qweight *q = am__qweight_of(pl.np[i].p->t);
        if (q && pl.bytes[i] && device_of(&mp, pl.np[i].name) == 2)
            s = am__error(AM_ERR_UNSUPPORTED, "%s: load_in_%dbit with device_map \"disk\" placement is not supported: quantized weights are kept in memory; "
                                              "raise max_memory or drop the quantization",
                          m->name_or_path ? m->name_or_path : "model", q->type == AM__Q_INT8 ? 8 : 4);
    }
    /* transformers: disk without a folder is fine only for safetensors weights (read in place) */
    bool needs_write = false;
    for (size_t i = 0; s == AM_OK && any_disk && i < pl.n; i++) {
        const am_tensor *t = pl.np[i].p->t;
        if (!t || !pl.bytes[i] || device_of(&mp, pl.np[i].name) != 2) continue;
        if (!am__tensor_is_mapped(t)) needs_write = true;
    }
    if (s == AM_OK && any_disk && !o->offload_folder && !safetensors)
        s = am__error(AM_ERR_INVALID_ARGUMENT,
                      "The current `device_map` had weights offloaded to the disk. Please provide an `offload_folder` for them. "
                      "Alternatively, make sure you have `safetensors` installed if the model you are using offers the weights in this format.");
    /* the folder: offload_folder, or (safetensors weights needing conversion) a private temporary
     * one whose files are unlinked once mapped */
    char *folder = NULL;
    bool temp = false;
    if (s == AM_OK && needs_write) {
        if (o->offload_folder) {
            if (am__mkdirs(o->offload_folder) != AM_OK) s = AM_ERR_IO;
            else if (!(folder = am__strdup(o->offload_folder))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        } else {
            const char *tmp = getenv("TMPDIR");
            am__buf tb = {0};
            am__buf_printf(&tb, "%s/automodel-offload-XXXXXX", tmp && *tmp ? tmp : "/tmp");
            folder = am__buf_take(&tb);
            if (!folder) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            else if (!mkdtemp(folder)) {
                s = am__error(AM_ERR_IO, "%s: cannot create a temporary offload folder: %s", folder, strerror(errno));
                free(folder);
                folder = NULL;
            }
            temp = true;
        }
    }
    cJSON *index = needs_write && s == AM_OK ? cJSON_CreateObject() : NULL;
    if (needs_write && s == AM_OK && !index) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; s == AM_OK && any_disk && i < pl.n; i++) {
        am_tensor *t = pl.np[i].p->t;
        if (!t || !pl.bytes[i] || device_of(&mp, pl.np[i].name) != 2) continue;
        if (!am__tensor_is_mapped(t)) {
            char *path = NULL;
            s = offload_write(folder, pl.np[i].name, t, &path);
            am__mapping *map = s == AM_OK ? am__mapping_open(path) : NULL;
            if (s == AM_OK && !map) s = AM_ERR_IO;
            am_tensor *nt = map ? am__tensor_view_mapping(map, map->addr, t->dtype, t->ndim, t->shape) : NULL;
            if (map) am__mapping_release(map);
            if (s == AM_OK && !nt) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
            if (temp && path) unlink(path);
            free(path);
            if (s == AM_OK) {
                cJSON *e = cJSON_AddObjectToObject(index, pl.np[i].name), *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
                if (e) cJSON_AddStringToObject(e, "dtype", am_dtype_name(t->dtype));
                for (int d = 0; shape && d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
                for (size_t j = 0; j < pl.n; j++) /* the parameter and its tied aliases */
                    if (pl.np[j].p->t == t && j != i) {
                        am_tensor_free(pl.np[j].p->t);
                        pl.np[j].p->t = am_tensor_retain(nt);
                    }
                am_tensor_free(t);
                pl.np[i].p->t = t = nt;
            }
        }
        if (s == AM_OK) {
            t->offloaded = true;
            am__tensor_drop_pages(t);
            release_list_add(m, t);
        }
    }
    if (s == AM_OK && index && !temp) {
        char *text = cJSON_Print(index), *ipath = am__path_join(folder, "index.json");
        FILE *f = text && ipath ? fopen(ipath, "w") : NULL;
        if (!text || !ipath) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
        else if (!f || fputs(text, f) < 0) s = am__error(AM_ERR_IO, "%s: cannot write the offload index: %s", ipath, strerror(errno));
        if (f && fclose(f) != 0 && s == AM_OK) s = am__error(AM_ERR_IO, "%s: cannot write the offload index: %s", ipath, strerror(errno));
        free(text);
        free(ipath);
    }
    if (temp && folder) rmdir(folder);
    cJSON_Delete(index);
    free(folder);
    if (s == AM_OK && !(m->hf_device_map = map_json(&mp))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    map_free(&mp);
    free(pl.bytes);
    free(pl.ties);
    am__named_params_free(pl.np, pl.n);
    return s;
}

char *am_model_hf_device_map(const am_model *m) { return m && m->hf_device_map ? am__strdup(m->hf_device_map) : NULL; }
