/* formats/pickle.h — a restricted unpickler for torch.save's data.pkl: it builds plain values
 * (None, bools, ints, floats, strings, bytes, tuples, lists, dicts) and recognises a short
 * allow-list of torch globals, turning _rebuild_tensor_v2 calls into tensor descriptions. It never
 * imports or calls anything; every other global is refused by name. Memory and nesting are
 * bounded so a hostile pickle cannot exhaust either. */
#ifndef AM_FORMATS_PICKLE_H
#define AM_FORMATS_PICKLE_H
#include "automodel.h"
#include "core/util.h"

typedef enum am__pv_kind {
    AM__PV_NONE,
    AM__PV_BOOL,
    AM__PV_INT,
    AM__PV_FLOAT,
    AM__PV_STR,   /* UTF-8 checked */
    AM__PV_BYTES,
    AM__PV_TUPLE,
    AM__PV_LIST,
    AM__PV_SET,
    AM__PV_DICT,  /* dict and collections.OrderedDict, insertion ordered */
    AM__PV_GLOBAL,
    AM__PV_STORAGE, /* a persistent id ('storage', torch.XStorage, key, location, numel) */
    AM__PV_TENSOR   /* the result of torch._utils._rebuild_tensor_v2 / _rebuild_parameter */
} am__pv_kind;

/* The allow-listed globals. */
typedef enum am__pglobal {
    AM__PG_ORDERED_DICT,
    AM__PG_REBUILD_TENSOR_V2,
    AM__PG_REBUILD_PARAMETER,
    AM__PG_REBUILD_PARAMETER_WITH_STATE,
    AM__PG_STORAGE,   /* torch.FloatStorage & co; the dtype is in the value */
    AM__PG_DEVICE,    /* torch.device */
    AM__PG_SIZE,      /* torch.Size */
    AM__PG_PARAMETER, /* torch.nn.parameter.Parameter (NEWOBJ) */
    AM__PG_CODECS_ENCODE /* _codecs.encode: how protocol 2 pickles bytes */
} am__pglobal;

typedef struct am__pv am__pv;
struct am__pv {
    am__pv_kind kind;
    uint32_t depth; /* nesting depth (0 for scalars) */
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            char *p; /* NUL-terminated (bytes may also contain NULs: use n) */
            size_t n;
        } s;
        struct {
            am__pv **items;
            size_t n, cap;
        } seq; /* tuple, list, set */
        struct {
            am__pv **keys, **vals;
            size_t n, cap;
        } dict;
        struct {
            am__pglobal id;
            am_dtype dtype; /* for AM__PG_STORAGE */
        } global;
        struct {
            am_dtype dtype;
            char *key;      /* validated: [A-Za-z0-9_.-]+, no ".." */
            char *location; /* "cpu", "cuda:0", ... */
            int64_t numel;  /* elements of dtype */
        } storage;
        struct {
            am__pv *storage; /* AM__PV_STORAGE */
            int64_t offset;  /* in elements */
            int ndim;
            int64_t shape[AM_MAX_DIMS];
            int64_t stride[AM_MAX_DIMS];
            bool requires_grad;
        } tensor;
    } u;
};

typedef struct am__pickle_limits {
    size_t max_depth;     /* nesting of containers */
    size_t max_container; /* elements of one tuple/list/dict/set */
    size_t max_stack;     /* values on the stack plus open marks */
    size_t max_memo;      /* largest memo index */
    size_t max_alloc;     /* bytes of values allocated in all */
} am__pickle_limits;
/* Defaults scaled to the pickle's length (a torch state dict needs far less than these). */
am__pickle_limits am__pickle_limits_default(size_t pickle_len);

typedef struct am__pickle am__pickle; /* owns every value */
/* Runs the pickle in `data` (borrowed) up to STOP. `origin` names the file in messages; `lim`
 * NULL = defaults. On success *root is the top value, valid until am__pickle_free. */
am_status am__unpickle(const void *data, size_t len, const char *origin, const am__pickle_limits *lim,
                       am__pickle **out, const am__pv **root);
void am__pickle_free(am__pickle *p);
/* "dict", "tuple", ... for messages. */
const char *am__pv_kind_name(am__pv_kind k);
/* Last value stored under a string key of a dict; NULL when absent. */
const am__pv *am__pv_dict_get(const am__pv *d, const char *key);

/* A tiny writer of the protocol-2 subset torch.load(weights_only=True) reads. */
void am__pkl_proto(am__buf *b);
void am__pkl_op(am__buf *b, uint8_t op);
void am__pkl_str(am__buf *b, const char *s);
void am__pkl_int(am__buf *b, int64_t v);
void am__pkl_global(am__buf *b, const char *module, const char *name);
void am__pkl_put(am__buf *b, uint32_t memo_index);
void am__pkl_get(am__buf *b, uint32_t memo_index);
#endif
