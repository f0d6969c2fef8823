/* formats/pickle.c — the restricted unpickler behind pytorch_model.bin (see pickle.h) and the few
 * protocol-2 writing helpers torch_bin.c uses. Values live in one arena owned by the am__pickle,
 * so cycles built through the memo are harmless and freeing is one walk over the blocks. */
#include "formats/pickle.h"
#include "core/error.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define GLOBAL_LINE_MAX 256

typedef struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} block;

struct am__pickle {
    block *blocks;
    size_t allocated;
    am__pickle_limits lim;
    const char *origin;
    const uint8_t *start, *p, *end;
    size_t op_pos;
    am__pv **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    am__pv **memo;
    size_t memo_cap, memo_count;
    bool oom;
};

am__pickle_limits am__pickle_limits_default(size_t pickle_len) {
    am__pickle_limits l;
    l.max_depth = 64;
    l.max_container = (size_t)1 << 24;
    l.max_stack = (size_t)1 << 22;
    /* Every memo slot is set by an opcode of at least 2 bytes, so a real pickle's indices stay
     * below its length. */
    l.max_memo = pickle_len + 16 < ((size_t)1 << 26) ? pickle_len + 16 : ((size_t)1 << 26);
    size_t scaled = pickle_len > ((size_t)1 << 40) ? ((size_t)1 << 44) : pickle_len * 16;
    l.max_alloc = ((size_t)256 << 20) + scaled;
    return l;
}

const char *am__pv_kind_name(am__pv_kind k) {
    static const char *const n[] = {"None", "bool",   "int",          "float",    "str",      "bytes", "tuple",
                                    "list", "set",    "dict",         "global",   "storage",  "tensor"};
    return (unsigned)k < sizeof n / sizeof n[0] ? n[k] : "?";
}

static am_status perr(am__pickle *P, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static am_status perr(am__pickle *P, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return am__error(AM_ERR_FORMAT, "%s: pickle: %s (at byte %zu)", P->origin, msg, P->op_pos);
}

static void *arena(am__pickle *P, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n > P->lim.max_alloc || P->allocated > P->lim.max_alloc - n) {
        perr(P, "allocation limit of %zu bytes exceeded", P->lim.max_alloc);
        return NULL;
    }
    block *b = P->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) {
            P->oom = true;
            am__error(AM_ERR_NO_MEMORY, "%s: pickle: out of memory", P->origin);
            return NULL;
        }
        b->cap = cap;
        b->used = 0;
        b->next = P->blocks;
        P->blocks = b;
        P->allocated += sizeof *b; /* the unused tail of the previous block is not counted: bounded by 64 KiB each */
    }
    void *r = b->data + b->used;
    b->used += n;
    P->allocated += n;
    memset(r, 0, n);
    return r;
}

static am__pv *newv(am__pickle *P, am__pv_kind k) {
    am__pv *v = arena(P, sizeof *v);
    if (v) v->kind = k;
    return v;
}

void am__pickle_free(am__pickle *P) {
    if (!P) return;
    for (block *b = P->blocks, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(P->stack);
    free(P->marks);
    free(P->memo);
    free(P);
}

/* ---- input ---- */

static bool need(am__pickle *P, uint64_t n) {
    if ((uint64_t)(P->end - P->p) < n) {
        perr(P, "truncated: opcode needs %llu more bytes, %zu left", (unsigned long long)n, (size_t)(P->end - P->p));
        return false;
    }
    return true;
}
static uint64_t rdle(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static bool utf8_ok(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) k = 1, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0) k = 2, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0) k = 3, cp = c & 0x07;
        else return false;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
        i += k + 1;
    }
    return true;
}

/* ---- stack ---- */

static bool push(am__pickle *P, am__pv *v) {
    if (!v) return false;
    if (P->sp + P->nmarks >= P->lim.max_stack) {
        perr(P, "stack limit of %zu entries exceeded", P->lim.max_stack);
        return false;
    }
    if (P->sp == P->scap) {
        size_t nc = P->scap ? P->scap * 2 : 64;
        am__pv **ns = realloc(P->stack, nc * sizeof *ns);
        if (!ns) {
            P->oom = true;
            am__error(AM_ERR_NO_MEMORY, "%s: pickle: out of memory", P->origin);
            return false;
        }
        P->stack = ns;
        P->scap = nc;
    }
    P->stack[P->sp++] = v;
    return true;
}
static size_t frame_base(const am__pickle *P) { return P->nmarks ? P->marks[P->nmarks - 1] : 0; }
static am__pv *pop(am__pickle *P) {
    if (P->sp <= frame_base(P)) {
        perr(P, "stack underflow");
        return NULL;
    }
    return P->stack[--P->sp];
}
static am__pv *top(am__pickle *P) {
    if (P->sp <= frame_base(P)) {
        perr(P, "stack underflow");
        return NULL;
    }
    return P->stack[P->sp - 1];
}
/* Items above the last MARK; the mark is removed. */
static bool pop_mark(am__pickle *P, am__pv ***items, size_t *n) {
    if (!P->nmarks) {
        perr(P, "no MARK on the stack");
        return false;
    }
    size_t m = P->marks[--P->nmarks];
    *items = P->stack ? P->stack + m : NULL; /* an empty stack may not be allocated yet */
    *n = P->sp - m;
    P->sp = m;
    return true;
}

/* ---- containers ---- */

static bool depth_ok(am__pickle *P, am__pv *c, const am__pv *child) {
    uint32_t d = child->depth + 1;
    if (d > c->depth) c->depth = d;
    if (c->depth > P->lim.max_depth) {
        perr(P, "nesting deeper than %zu levels", P->lim.max_depth);
        return false;
    }
    return true;
}

static am__pv *new_seq(am__pickle *P, am__pv_kind k, am__pv *const *items, size_t n) {
    if (n > P->lim.max_container) {
        perr(P, "a %s of %zu items exceeds the limit of %zu", am__pv_kind_name(k), n, P->lim.max_container);
        return NULL;
    }
    am__pv *v = newv(P, k);
    if (!v) return NULL;
    if (n) {
        if (!(v->u.seq.items = arena(P, n * sizeof(am__pv *)))) return NULL;
        memcpy(v->u.seq.items, items, n * sizeof(am__pv *));
        v->u.seq.n = v->u.seq.cap = n;
        for (size_t i = 0; i < n; i++)
            if (!depth_ok(P, v, items[i])) return NULL;
    }
    return v;
}

static bool seq_add(am__pickle *P, am__pv *s, am__pv *x) {
    if (s->u.seq.n >= P->lim.max_container) {
        perr(P, "a %s grew past the limit of %zu items", am__pv_kind_name(s->kind), P->lim.max_container);
        return false;
    }
    if (s->u.seq.n == s->u.seq.cap) {
        size_t nc = s->u.seq.cap ? s->u.seq.cap * 2 : 8;
        am__pv **ni = arena(P, nc * sizeof *ni);
        if (!ni) return false;
        if (s->u.seq.n) memcpy(ni, s->u.seq.items, s->u.seq.n * sizeof *ni);
        s->u.seq.items = ni;
        s->u.seq.cap = nc;
    }
    s->u.seq.items[s->u.seq.n++] = x;
    return depth_ok(P, s, x);
}

static bool dict_set(am__pickle *P, am__pv *d, am__pv *k, am__pv *v) {
    if (d->kind != AM__PV_DICT) {
        perr(P, "SETITEM on a %s", am__pv_kind_name(d->kind));
        return false;
    }
    if (k->kind == AM__PV_LIST || k->kind == AM__PV_DICT || k->kind == AM__PV_SET) {
        perr(P, "unhashable dict key of type %s", am__pv_kind_name(k->kind));
        return false;
    }
    if (d->u.dict.n >= P->lim.max_container) {
        perr(P, "a dict grew past the limit of %zu items", P->lim.max_container);
        return false;
    }
    if (d->u.dict.n == d->u.dict.cap) {
        size_t nc = d->u.dict.cap ? d->u.dict.cap * 2 : 8;
        am__pv **nk = arena(P, nc * sizeof *nk), **nv = nk ? arena(P, nc * sizeof *nv) : NULL;
        if (!nv) return false;
        if (d->u.dict.n) {
            memcpy(nk, d->u.dict.keys, d->u.dict.n * sizeof *nk);
            memcpy(nv, d->u.dict.vals, d->u.dict.n * sizeof *nv);
        }
        d->u.dict.keys = nk;
        d->u.dict.vals = nv;
        d->u.dict.cap = nc;
    }
    d->u.dict.keys[d->u.dict.n] = k;
    d->u.dict.vals[d->u.dict.n++] = v;
    return depth_ok(P, d, k) && depth_ok(P, d, v);
}

const am__pv *am__pv_dict_get(const am__pv *d, const char *key) {
    if (!d || d->kind != AM__PV_DICT) return NULL;
    for (size_t i = d->u.dict.n; i-- > 0;) {
        const am__pv *k = d->u.dict.keys[i];
        if (k->kind == AM__PV_STR && !strcmp(k->u.s.p, key)) return d->u.dict.vals[i];
    }
    return NULL;
}

/* ---- scalars ---- */

static am__pv *new_int(am__pickle *P, int64_t i) {
    am__pv *v = newv(P, AM__PV_INT);
    if (v) v->u.i = i;
    return v;
}

static am__pv *new_str(am__pickle *P, am__pv_kind k, const uint8_t *s, size_t n) {
    if (k == AM__PV_STR && !utf8_ok(s, n)) {
        perr(P, "string is not valid UTF-8");
        return NULL;
    }
    if (n == SIZE_MAX) return NULL;
    am__pv *v = newv(P, k);
    if (!v || !(v->u.s.p = arena(P, n + 1))) return NULL;
    memcpy(v->u.s.p, s, n);
    v->u.s.p[n] = 0;
    v->u.s.n = n;
    return v;
}

/* Little-endian two's complement of n bytes (LONG1/LONG4). */
static am__pv *read_long(am__pickle *P, uint64_t n) {
    if (!need(P, n)) return NULL;
    const uint8_t *b = P->p;
    P->p += n;
    if (n == 0) return new_int(P, 0);
    bool neg = b[n - 1] & 0x80;
    /* bytes beyond the 8th must be pure sign extension */
    for (uint64_t i = 8; i < n; i++)
        if (b[i] != (neg ? 0xFF : 0x00)) {
            perr(P, "integer of %llu bytes does not fit in 64 bits", (unsigned long long)n);
            return NULL;
        }
    int k = n < 8 ? (int)n : 8;
    uint64_t u = rdle(b, k);
    if (k < 8 && neg) u |= ~(uint64_t)0 << (8 * k);
    if (n > 8 && ((u >> 63) != 0) != neg) {
        perr(P, "integer does not fit in 64 bits");
        return NULL;
    }
    int64_t i;
    memcpy(&i, &u, 8);
    return new_int(P, i);
}

/* ---- globals ---- */

static const struct {
    const char *module, *name;
    am__pglobal id;
    am_dtype dtype;
} k_globals[] = {
    {"collections", "OrderedDict", AM__PG_ORDERED_DICT, AM_F32},
    {"torch._utils", "_rebuild_tensor_v2", AM__PG_REBUILD_TENSOR_V2, AM_F32},
    {"torch._utils", "_rebuild_parameter", AM__PG_REBUILD_PARAMETER, AM_F32},
    {"torch._utils", "_rebuild_parameter_with_state", AM__PG_REBUILD_PARAMETER_WITH_STATE, AM_F32},
    {"torch", "FloatStorage", AM__PG_STORAGE, AM_F32},
    {"torch", "HalfStorage", AM__PG_STORAGE, AM_F16},
    {"torch", "BFloat16Storage", AM__PG_STORAGE, AM_BF16},
    {"torch", "DoubleStorage", AM__PG_STORAGE, AM_F64},
    {"torch", "LongStorage", AM__PG_STORAGE, AM_I64},
    {"torch", "IntStorage", AM__PG_STORAGE, AM_I32},
    {"torch", "ShortStorage", AM__PG_STORAGE, AM_I16},
    {"torch", "CharStorage", AM__PG_STORAGE, AM_I8},
    {"torch", "ByteStorage", AM__PG_STORAGE, AM_U8},
    {"torch", "BoolStorage", AM__PG_STORAGE, AM_BOOL},
    {"torch", "device", AM__PG_DEVICE, AM_F32},
    {"torch", "Size", AM__PG_SIZE, AM_F32},
    {"torch.nn.parameter", "Parameter", AM__PG_PARAMETER, AM_F32},
    {"_codecs", "encode", AM__PG_CODECS_ENCODE, AM_F32},
};

static am__pv *resolve_global(am__pickle *P, const char *module, size_t mlen, const char *name, size_t nlen) {
    for (size_t i = 0; i < sizeof k_globals / sizeof k_globals[0]; i++)
        if (strlen(k_globals[i].module) == mlen && !memcmp(k_globals[i].module, module, mlen) &&
            strlen(k_globals[i].name) == nlen && !memcmp(k_globals[i].name, name, nlen)) {
            am__pv *v = newv(P, AM__PV_GLOBAL);
            if (v) {
                v->u.global.id = k_globals[i].id;
                v->u.global.dtype = k_globals[i].dtype;
            }
            return v;
        }
    /* Print the name safely: it came from the file. */
    char shown[2 * GLOBAL_LINE_MAX + 2];
    size_t o = 0;
    for (size_t i = 0; i < mlen + 1 + nlen && o < sizeof shown - 1; i++) {
        char c = i < mlen ? module[i] : i == mlen ? '.' : name[i - mlen - 1];
        shown[o++] = (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    shown[o] = 0;
    am__error(AM_ERR_FORMAT,
              "%s: pickle refers to the global '%s', which is not allowed in a weights file (only tensors, "
              "storages and plain containers are; loading never runs code from the checkpoint)",
              P->origin, shown);
    return NULL;
}

static bool read_line(am__pickle *P, const char **s, size_t *n) {
    const uint8_t *nl = memchr(P->p, '\n', (size_t)(P->end - P->p) < GLOBAL_LINE_MAX + 1 ? (size_t)(P->end - P->p) : GLOBAL_LINE_MAX + 1);
    if (!nl) {
        perr(P, "GLOBAL name missing its newline or longer than %d bytes", GLOBAL_LINE_MAX);
        return false;
    }
    *s = (const char *)P->p;
    *n = (size_t)(nl - P->p);
    P->p = nl + 1;
    return true;
}

/* ---- calls on allow-listed globals ---- */

static bool is_int(const am__pv *v) { return v->kind == AM__PV_INT; }

static bool int_tuple(am__pickle *P, const am__pv *t, const char *what, int64_t *out, int *n) {
    if (t->kind != AM__PV_TUPLE) return perr(P, "tensor %s is a %s, not a tuple", what, am__pv_kind_name(t->kind)), false;
    if (t->u.seq.n > AM_MAX_DIMS)
        return perr(P, "tensor %s has %zu dimensions (at most %d supported)", what, t->u.seq.n, AM_MAX_DIMS), false;
    for (size_t i = 0; i < t->u.seq.n; i++) {
        const am__pv *x = t->u.seq.items[i];
        if (!is_int(x) || x->u.i < 0) return perr(P, "tensor %s element %zu is not a non-negative int", what, i), false;
        out[i] = x->u.i;
    }
    *n = (int)t->u.seq.n;
    return true;
}

static am__pv *rebuild_tensor(am__pickle *P, am__pv **a, size_t n) {
    if (n != 6 && n != 7) return perr(P, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %zu", n), NULL;
    if (a[0]->kind != AM__PV_STORAGE)
        return perr(P, "_rebuild_tensor_v2: first argument is a %s, not a storage", am__pv_kind_name(a[0]->kind)), NULL;
    if (!is_int(a[1]) || a[1]->u.i < 0) return perr(P, "_rebuild_tensor_v2: bad storage offset"), NULL;
    if (a[4]->kind != AM__PV_BOOL) return perr(P, "_rebuild_tensor_v2: requires_grad is not a bool"), NULL;
    if (a[5]->kind != AM__PV_DICT && a[5]->kind != AM__PV_NONE)
        return perr(P, "_rebuild_tensor_v2: backward_hooks is a %s", am__pv_kind_name(a[5]->kind)), NULL;
    am__pv *t = newv(P, AM__PV_TENSOR);
    if (!t) return NULL;
    int nd_stride = 0;
    if (!int_tuple(P, a[2], "size", t->u.tensor.shape, &t->u.tensor.ndim) ||
        !int_tuple(P, a[3], "stride", t->u.tensor.stride, &nd_stride))
        return NULL;
    if (nd_stride != t->u.tensor.ndim)
        return perr(P, "tensor size has %d dimensions but stride has %d", t->u.tensor.ndim, nd_stride), NULL;
    t->u.tensor.storage = a[0];
    t->u.tensor.offset = a[1]->u.i;
    t->u.tensor.requires_grad = a[4]->u.b;
    return t;
}

static am__pv *as_parameter(am__pickle *P, am__pv *data, am__pv *rg) {
    if (data->kind != AM__PV_TENSOR) return perr(P, "Parameter data is a %s, not a tensor", am__pv_kind_name(data->kind)), NULL;
    if (rg && rg->kind != AM__PV_BOOL) return perr(P, "Parameter requires_grad is not a bool"), NULL;
    am__pv *t = newv(P, AM__PV_TENSOR);
    if (!t) return NULL;
    t->u.tensor = data->u.tensor;
    t->u.tensor.requires_grad = rg ? rg->u.b : true;
    return t;
}

static am__pv *call_global(am__pickle *P, const am__pv *f, am__pv *args) {
    if (args->kind != AM__PV_TUPLE) return perr(P, "REDUCE arguments are a %s, not a tuple", am__pv_kind_name(args->kind)), NULL;
    am__pv **a = args->u.seq.items;
    size_t n = args->u.seq.n;
    switch (f->u.global.id) {
    case AM__PG_ORDERED_DICT:
        if (n != 0) return perr(P, "collections.OrderedDict called with arguments"), NULL;
        return newv(P, AM__PV_DICT);
    case AM__PG_REBUILD_TENSOR_V2: return rebuild_tensor(P, a, n);
    case AM__PG_REBUILD_PARAMETER:
        if (n != 3) return perr(P, "_rebuild_parameter takes 3 arguments, got %zu", n), NULL;
        return as_parameter(P, a[0], a[1]);
    case AM__PG_REBUILD_PARAMETER_WITH_STATE:
        if (n != 4) return perr(P, "_rebuild_parameter_with_state takes 4 arguments, got %zu", n), NULL;
        return as_parameter(P, a[0], a[1]);
    case AM__PG_DEVICE: {
        if (n < 1 || n > 2 || a[0]->kind != AM__PV_STR || (n == 2 && !is_int(a[1])))
            return perr(P, "torch.device takes (type[, index])"), NULL;
        char buf[96];
        if (n == 2) snprintf(buf, sizeof buf, "%.64s:%lld", a[0]->u.s.p, (long long)a[1]->u.i);
        else snprintf(buf, sizeof buf, "%.64s", a[0]->u.s.p);
        return new_str(P, AM__PV_STR, (const uint8_t *)buf, strlen(buf));
    }
    case AM__PG_SIZE:
        if (n != 1 || a[0]->kind != AM__PV_TUPLE) return perr(P, "torch.Size takes one tuple"), NULL;
        for (size_t i = 0; i < a[0]->u.seq.n; i++)
            if (!is_int(a[0]->u.seq.items[i])) return perr(P, "torch.Size element is not an int"), NULL;
        return a[0];
    case AM__PG_CODECS_ENCODE: {
        if (n != 2 || a[0]->kind != AM__PV_STR || a[1]->kind != AM__PV_STR ||
            (strcmp(a[1]->u.s.p, "latin1") && strcmp(a[1]->u.s.p, "latin-1")))
            return perr(P, "_codecs.encode is only allowed as (str, 'latin1')"), NULL;
        const uint8_t *s = (const uint8_t *)a[0]->u.s.p;
        size_t len = a[0]->u.s.n, o = 0;
        am__pv *v = newv(P, AM__PV_BYTES);
        if (!v || !(v->u.s.p = arena(P, len + 1))) return NULL;
        for (size_t i = 0; i < len;) { /* UTF-8 (already validated) to Latin-1 */
            uint32_t cp = s[i];
            if (cp >= 0x80) {
                if ((cp & 0xE0) != 0xC0) return perr(P, "_codecs.encode: character outside Latin-1"), NULL;
                cp = ((cp & 0x1F) << 6) | (s[i + 1] & 0x3F);
                i += 2;
            } else i++;
            if (cp > 0xFF) return perr(P, "_codecs.encode: character outside Latin-1"), NULL;
            v->u.s.p[o++] = (char)cp;
        }
        v->u.s.n = o;
        return v;
    }
    case AM__PG_STORAGE: return perr(P, "a storage class cannot be called"), NULL;
    case AM__PG_PARAMETER:
        if (n < 1 || n > 2) return perr(P, "torch.nn.Parameter takes (data[, requires_grad])"), NULL;
        return as_parameter(P, a[0], n == 2 ? a[1] : NULL);
    }
    return perr(P, "global cannot be called"), NULL;
}

static bool storage_key_ok(const char *k, size_t n) {
    if (n == 0 || n > 64 || strstr(k, "..")) return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static am__pv *persistent_load(am__pickle *P, am__pv *pid) {
    if (pid->kind != AM__PV_TUPLE || pid->u.seq.n == 0)
        return perr(P, "persistent id is a %s, not a tuple", am__pv_kind_name(pid->kind)), NULL;
    am__pv **a = pid->u.seq.items;
    bool is_storage = (a[0]->kind == AM__PV_STR || a[0]->kind == AM__PV_BYTES) && !strcmp(a[0]->u.s.p, "storage");
    if (!is_storage) return perr(P, "only persistent ids of storages are allowed"), NULL;
    if (pid->u.seq.n != 5)
        return perr(P, "storage persistent id has %zu fields, expected 5 (the pre-1.6 legacy format is not supported)",
                    pid->u.seq.n), NULL;
    if (a[1]->kind != AM__PV_GLOBAL || a[1]->u.global.id != AM__PG_STORAGE)
        return perr(P, "storage persistent id does not name a torch storage type"), NULL;
    if (a[2]->kind != AM__PV_STR || !storage_key_ok(a[2]->u.s.p, a[2]->u.s.n))
        return perr(P, "storage key is not a plain name"), NULL;
    if (a[3]->kind != AM__PV_STR) return perr(P, "storage location is not a string"), NULL;
    size_t es = am_dtype_size(a[1]->u.global.dtype);
    if (!is_int(a[4]) || a[4]->u.i < 0 || (uint64_t)a[4]->u.i > (uint64_t)INT64_MAX / es)
        return perr(P, "storage '%s' has a bad element count", a[2]->u.s.p), NULL;
    am__pv *s = newv(P, AM__PV_STORAGE);
    if (!s) return NULL;
    s->u.storage.dtype = a[1]->u.global.dtype;
    s->u.storage.key = a[2]->u.s.p;
    s->u.storage.location = a[3]->u.s.p;
    s->u.storage.numel = a[4]->u.i;
    return s;
}

/* ---- the machine ---- */

static bool memo_put(am__pickle *P, uint64_t idx) {
    am__pv *v = top(P);
    if (!v) return false;
    if (idx >= P->lim.max_memo) return perr(P, "memo index %llu exceeds the limit of %zu", (unsigned long long)idx, P->lim.max_memo), false;
    if (idx >= P->memo_cap) {
        size_t nc = P->memo_cap ? P->memo_cap : 64;
        while (nc <= idx) nc *= 2;
        if (nc > P->lim.max_memo) nc = P->lim.max_memo;
        am__pv **nm = realloc(P->memo, nc * sizeof *nm);
        if (!nm) return P->oom = true, am__error(AM_ERR_NO_MEMORY, "%s: pickle: out of memory", P->origin), false;
        memset(nm + P->memo_cap, 0, (nc - P->memo_cap) * sizeof *nm);
        P->memo = nm;
        P->memo_cap = nc;
    }
    if (!P->memo[idx]) P->memo_count++;
    P->memo[idx] = v;
    return true;
}

static bool memo_get(am__pickle *P, uint64_t idx) {
    if (idx >= P->memo_cap || !P->memo[idx]) return perr(P, "memo key %llu was never stored", (unsigned long long)idx), false;
    return push(P, P->memo[idx]);
}

static bool do_build(am__pickle *P) {
    am__pv *state = pop(P), *inst = state ? top(P) : NULL;
    if (!inst) return false;
    if (inst->kind == AM__PV_DICT) {
        /* OrderedDict's attributes (state_dict()'s _metadata): accepted and ignored */
        if (state->kind == AM__PV_DICT || state->kind == AM__PV_NONE || state->kind == AM__PV_TUPLE) return true;
        return perr(P, "BUILD state for a dict is a %s", am__pv_kind_name(state->kind)), false;
    }
    if (inst->kind == AM__PV_TENSOR) {
        /* Tensor.set_() through BUILD could re-point the tensor; only an empty state is accepted. */
        bool empty = state->kind == AM__PV_NONE || (state->kind == AM__PV_DICT && state->u.dict.n == 0) ||
                     (state->kind == AM__PV_TUPLE && state->u.seq.n == 0);
        if (empty) return true;
        return perr(P, "BUILD with a non-empty state on a tensor is not supported"), false;
    }
    return perr(P, "BUILD on a %s is not allowed", am__pv_kind_name(inst->kind)), false;
}

static bool do_string(am__pickle *P, am__pv_kind k, int lenbytes, bool signed_len) {
    if (!need(P, (uint64_t)lenbytes)) return false;
    uint64_t n = rdle(P->p, lenbytes);
    if (signed_len && (n >> 31)) return perr(P, "negative string length"), false;
    P->p += lenbytes;
    if (!need(P, n)) return false;
    const uint8_t *s = P->p;
    P->p += n;
    return push(P, new_str(P, k, s, (size_t)n));
}

static am_status run(am__pickle *P, am__pv **result) {
    for (;;) {
        P->op_pos = (size_t)(P->p - P->start);
        if (P->p >= P->end) return perr(P, "ended without a STOP opcode");
        uint8_t op = *P->p++;
        am__pv *v, *w, **items;
        size_t n;
        bool ok = true;
        switch (op) {
        case 0x80: /* PROTO */
            if (!need(P, 1)) return AM_ERR_FORMAT;
            if (*P->p > 5) return perr(P, "unsupported pickle protocol %u", *P->p);
            P->p++;
            break;
        case 0x95: /* FRAME: a size hint only */
            if (!need(P, 8)) return AM_ERR_FORMAT;
            P->p += 8;
            break;
        case '.': /* STOP */
            if (!(v = pop(P))) return AM_ERR_FORMAT;
            *result = v;
            return AM_OK;
        case '(': /* MARK */
            if (P->sp + P->nmarks >= P->lim.max_stack) return perr(P, "stack limit of %zu entries exceeded", P->lim.max_stack);
            if (P->nmarks == P->mcap) {
                size_t nc = P->mcap ? P->mcap * 2 : 16;
                size_t *nm = realloc(P->marks, nc * sizeof *nm);
                if (!nm) return am__error(AM_ERR_NO_MEMORY, "%s: pickle: out of memory", P->origin);
                P->marks = nm;
                P->mcap = nc;
            }
            P->marks[P->nmarks++] = P->sp;
            break;
        case '0': /* POP */
            if (P->sp > frame_base(P)) P->sp--;
            else ok = pop_mark(P, &items, &n);
            break;
        case '1': ok = pop_mark(P, &items, &n); break; /* POP_MARK */
        case '2': ok = (v = top(P)) && push(P, v); break; /* DUP */
        case 'N': ok = push(P, newv(P, AM__PV_NONE)); break;
        case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
            if ((v = newv(P, AM__PV_BOOL))) v->u.b = op == 0x88;
            ok = push(P, v);
            break;
        case 'J': /* BININT */
            if (!need(P, 4)) return AM_ERR_FORMAT;
            ok = push(P, new_int(P, (int32_t)(uint32_t)rdle(P->p, 4)));
            P->p += 4;
            break;
        case 'K': /* BININT1 */
            if (!need(P, 1)) return AM_ERR_FORMAT;
            ok = push(P, new_int(P, *P->p++));
            break;
        case 'M': /* BININT2 */
            if (!need(P, 2)) return AM_ERR_FORMAT;
            ok = push(P, new_int(P, (int64_t)rdle(P->p, 2)));
            P->p += 2;
            break;
        case 0x8a: /* LONG1 */
            if (!need(P, 1)) return AM_ERR_FORMAT;
            n = *P->p++;
            ok = push(P, read_long(P, n));
            break;
        case 0x8b: /* LONG4 */
            if (!need(P, 4)) return AM_ERR_FORMAT;
            n = (size_t)rdle(P->p, 4);
            P->p += 4;
            if (n >> 31) return perr(P, "negative LONG4 length");
            ok = push(P, read_long(P, n));
            break;
        case 'G': { /* BINFLOAT, big-endian */
            if (!need(P, 8)) return AM_ERR_FORMAT;
            uint64_t u = 0;
            for (int i = 0; i < 8; i++) u = (u << 8) | P->p[i];
            P->p += 8;
            if ((v = newv(P, AM__PV_FLOAT))) memcpy(&v->u.f, &u, 8);
            ok = push(P, v);
            break;
        }
        case 'X': ok = do_string(P, AM__PV_STR, 4, false); break;        /* BINUNICODE */
        case 0x8c: ok = do_string(P, AM__PV_STR, 1, false); break;       /* SHORT_BINUNICODE */
        case 0x8d: ok = do_string(P, AM__PV_STR, 8, false); break;       /* BINUNICODE8 */
        case 'T': ok = do_string(P, AM__PV_STR, 4, true); break;        /* BINSTRING (torch.load decodes as utf-8) */
        case 'U': ok = do_string(P, AM__PV_STR, 1, false); break;        /* SHORT_BINSTRING */
        case 'B': ok = do_string(P, AM__PV_BYTES, 4, false); break;      /* BINBYTES */
        case 'C': ok = do_string(P, AM__PV_BYTES, 1, false); break;      /* SHORT_BINBYTES */
        case 0x8e: case 0x96: ok = do_string(P, AM__PV_BYTES, 8, false); break; /* BINBYTES8, BYTEARRAY8 */
        case ')': ok = push(P, new_seq(P, AM__PV_TUPLE, NULL, 0)); break;
        case ']': ok = push(P, new_seq(P, AM__PV_LIST, NULL, 0)); break;
        case '}': ok = push(P, newv(P, AM__PV_DICT)); break;
        case 0x8f: ok = push(P, new_seq(P, AM__PV_SET, NULL, 0)); break; /* EMPTY_SET */
        case 't': case 'l': case 0x91: /* TUPLE, LIST, FROZENSET */
            ok = pop_mark(P, &items, &n) &&
                 push(P, new_seq(P, op == 't' ? AM__PV_TUPLE : op == 'l' ? AM__PV_LIST : AM__PV_SET, items, n));
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t k = (size_t)(op - 0x84);
            if (P->sp < frame_base(P) + k) return perr(P, "stack underflow");
            v = new_seq(P, AM__PV_TUPLE, P->stack + P->sp - k, k);
            P->sp -= k;
            ok = push(P, v);
            break;
        }
        case 'd': /* DICT */
            if (!pop_mark(P, &items, &n)) return AM_ERR_FORMAT;
            if (n % 2) return perr(P, "odd number of items for DICT");
            if (!(v = newv(P, AM__PV_DICT))) return AM_ERR_FORMAT;
            for (size_t i = 0; ok && i < n; i += 2) ok = dict_set(P, v, items[i], items[i + 1]);
            ok = ok && push(P, v);
            break;
        case 'a': /* APPEND */
            if (!(w = pop(P)) || !(v = top(P))) return AM_ERR_FORMAT;
            if (v->kind != AM__PV_LIST) return perr(P, "APPEND to a %s", am__pv_kind_name(v->kind));
            ok = seq_add(P, v, w);
            break;
        case 'e': case 0x90: /* APPENDS, ADDITEMS */
            if (!pop_mark(P, &items, &n) || !(v = top(P))) return AM_ERR_FORMAT;
            if (v->kind != (op == 'e' ? AM__PV_LIST : AM__PV_SET))
                return perr(P, "%s to a %s", op == 'e' ? "APPENDS" : "ADDITEMS", am__pv_kind_name(v->kind));
            for (size_t i = 0; ok && i < n; i++) ok = seq_add(P, v, items[i]);
            break;
        case 's': /* SETITEM */
            if (!(w = pop(P)) || !(v = pop(P)) || !top(P)) return AM_ERR_FORMAT;
            ok = dict_set(P, top(P), v, w);
            break;
        case 'u': /* SETITEMS */
            if (!pop_mark(P, &items, &n) || !(v = top(P))) return AM_ERR_FORMAT;
            if (n % 2) return perr(P, "odd number of items for SETITEMS");
            for (size_t i = 0; ok && i < n; i += 2) ok = dict_set(P, v, items[i], items[i + 1]);
            break;
        case 'c': { /* GLOBAL */
            const char *m, *nm;
            size_t ml, nl;
            if (!read_line(P, &m, &ml) || !read_line(P, &nm, &nl)) return AM_ERR_FORMAT;
            ok = push(P, resolve_global(P, m, ml, nm, nl));
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            if (!(w = pop(P)) || !(v = pop(P))) return AM_ERR_FORMAT;
            if (v->kind != AM__PV_STR || w->kind != AM__PV_STR) return perr(P, "STACK_GLOBAL needs two strings");
            ok = push(P, resolve_global(P, v->u.s.p, v->u.s.n, w->u.s.p, w->u.s.n));
            break;
        case 'R': /* REDUCE */
            if (!(w = pop(P)) || !(v = pop(P))) return AM_ERR_FORMAT;
            if (v->kind != AM__PV_GLOBAL) return perr(P, "REDUCE on a %s, not an allowed global", am__pv_kind_name(v->kind));
            ok = push(P, call_global(P, v, w));
            break;
        case 0x81: case 0x92: /* NEWOBJ, NEWOBJ_EX */
            if (op == 0x92) {
                if (!(w = pop(P))) return AM_ERR_FORMAT;
                if (w->kind != AM__PV_DICT || w->u.dict.n) return perr(P, "NEWOBJ_EX with keyword arguments");
            }
            if (!(w = pop(P)) || !(v = pop(P))) return AM_ERR_FORMAT;
            if (v->kind != AM__PV_GLOBAL || (v->u.global.id != AM__PG_PARAMETER && v->u.global.id != AM__PG_ORDERED_DICT))
                return perr(P, "NEWOBJ is only allowed for torch.nn.Parameter and collections.OrderedDict");
            ok = push(P, call_global(P, v, w));
            break;
        case 'b': ok = do_build(P); break; /* BUILD */
        case 'Q': /* BINPERSID */
            if (!(v = pop(P))) return AM_ERR_FORMAT;
            ok = push(P, persistent_load(P, v));
            break;
        case 'h': /* BINGET */
            if (!need(P, 1)) return AM_ERR_FORMAT;
            ok = memo_get(P, *P->p++);
            break;
        case 'j': /* LONG_BINGET */
            if (!need(P, 4)) return AM_ERR_FORMAT;
            ok = memo_get(P, rdle(P->p, 4));
            P->p += 4;
            break;
        case 'q': /* BINPUT */
            if (!need(P, 1)) return AM_ERR_FORMAT;
            ok = memo_put(P, *P->p++);
            break;
        case 'r': /* LONG_BINPUT */
            if (!need(P, 4)) return AM_ERR_FORMAT;
            ok = memo_put(P, rdle(P->p, 4));
            P->p += 4;
            break;
        case 0x94: ok = memo_put(P, P->memo_count); break; /* MEMOIZE */
        case 'i': case 'o':
            return perr(P, "opcode '%c' (%s) instantiates arbitrary classes and is not allowed", op, op == 'i' ? "INST" : "OBJ");
        case 0x82: case 0x83: case 0x84: return perr(P, "extension-registry opcodes (EXT1/2/4) are not allowed");
        default:
            if (op >= 0x20 && op < 0x7f) return perr(P, "unsupported pickle opcode '%c' (0x%02x)", op, op);
            return perr(P, "unsupported pickle opcode 0x%02x", op);
        }
        if (!ok) return P->oom ? AM_ERR_NO_MEMORY : AM_ERR_FORMAT;
    }
}

am_status am__unpickle(const void *data, size_t len, const char *origin, const am__pickle_limits *lim, am__pickle **out,
                       const am__pv **root) {
    *out = NULL;
    *root = NULL;
    am__pickle *P = calloc(1, sizeof *P);
    if (!P) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin ? origin : "pickle");
    P->lim = lim ? *lim : am__pickle_limits_default(len);
    P->origin = origin ? origin : "<pickle>";
    P->start = P->p = data;
    P->end = P->start + len;
    am__pv *r = NULL;
    am_status st = run(P, &r);
    /* The machine's own buffers are not needed by the result. */
    free(P->stack);
    free(P->marks);
    free(P->memo);
    P->stack = NULL, P->marks = NULL, P->memo = NULL;
    if (st != AM_OK) {
        am__pickle_free(P);
        return st;
    }
    P->origin = NULL; /* borrowed; not valid past this call */
    *out = P;
    *root = r;
    return AM_OK;
}

/* ---- writing ---- */

void am__pkl_proto(am__buf *b) { am__buf_put(b, "\x80\x02", 2); }
void am__pkl_op(am__buf *b, uint8_t op) { am__buf_put(b, &op, 1); }

void am__pkl_str(am__buf *b, const char *s) {
    size_t n = strlen(s);
    uint8_t h[5] = {'X', (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    am__buf_put(b, h, 5);
    am__buf_put(b, s, n);
}

void am__pkl_int(am__buf *b, int64_t v) {
    if (v >= 0 && v < 256) {
        uint8_t h[2] = {'K', (uint8_t)v};
        am__buf_put(b, h, 2);
    } else if (v >= 0 && v < 65536) {
        uint8_t h[3] = {'M', (uint8_t)v, (uint8_t)(v >> 8)};
        am__buf_put(b, h, 3);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        uint32_t u = (uint32_t)(int32_t)v;
        uint8_t h[5] = {'J', (uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        am__buf_put(b, h, 5);
    } else { /* LONG1 with the fewest bytes that keep the sign, as pickle does */
        uint64_t u;
        memcpy(&u, &v, 8);
        uint8_t h[10] = {0x8a, 0};
        int n = 8;
        while (n > 1) {
            uint8_t hi = (uint8_t)(u >> (8 * (n - 1))), next = (uint8_t)(u >> (8 * (n - 2)));
            if ((hi == 0x00 && !(next & 0x80)) || (hi == 0xFF && (next & 0x80))) n--;
            else break;
        }
        h[1] = (uint8_t)n;
        for (int i = 0; i < n; i++) h[2 + i] = (uint8_t)(u >> (8 * i));
        am__buf_put(b, h, (size_t)(2 + n));
    }
}

void am__pkl_global(am__buf *b, const char *module, const char *name) {
    am__pkl_op(b, 'c');
    am__buf_puts(b, module);
    am__buf_put(b, "\n", 1);
    am__buf_puts(b, name);
    am__buf_put(b, "\n", 1);
}

void am__pkl_put(am__buf *b, uint32_t i) {
    if (i < 256) {
        uint8_t h[2] = {'q', (uint8_t)i};
        am__buf_put(b, h, 2);
    } else {
        uint8_t h[5] = {'r', (uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), (uint8_t)(i >> 24)};
        am__buf_put(b, h, 5);
    }
}

void am__pkl_get(am__buf *b, uint32_t i) {
    if (i < 256) {
        uint8_t h[2] = {'h', (uint8_t)i};
        am__buf_put(b, h, 2);
    } else {
        uint8_t h[5] = {'j', (uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), (uint8_t)(i >> 24)};
        am__buf_put(b, h, 5);
    }
}
