/* nn/module.h — the module tree: named modules with named parameters and buffers, mirroring
 * PyTorch's named_modules()/state_dict(). From the tree come, for every architecture, checkpoint
 * key matching, print(model), parameter counts, memory footprint, train/eval and saving. */
#ifndef AM_NN_MODULE_H
#define AM_NN_MODULE_H
#include "core/tensor.h"

typedef enum am__init_kind {
    AM_INIT_NONE = 0,  /* leave as created (zeros) */
    AM_INIT_NORMAL,    /* N(0, initializer_range): Linear / Embedding weights */
    AM_INIT_ZEROS,     /* biases */
    AM_INIT_ONES,      /* norm scales */
    AM_INIT_ARANGE,    /* position_ids buffers: 0..n-1 along the last dimension */
    AM_INIT_UNIFORM,   /* U(init_a, init_b) (a constant when a == b): Wav2Vec2's projection, conv biases, layer weights */
    AM_INIT_NORMAL_STD, /* N(0, init_a): an init with its own std (kaiming_normal_ of Wav2Vec2's convolutions) */
} am__init_kind;

typedef struct am__param {
    char *name; /* local name: "weight" */
    am_tensor *t; /* NULL until loaded or initialised */
    am_dtype dtype;
    int ndim;
    int64_t shape[AM_MAX_DIMS];
    bool trainable;  /* requires_grad */
    bool is_buffer;
    bool persistent; /* buffers: in the state dict */
    bool keep_fp32;  /* stays float32 whatever the model dtype (e.g. Llama inv_freq) */
    am__init_kind init;
    double init_a, init_b; /* AM_INIT_UNIFORM bounds, AM_INIT_NORMAL_STD std */
    /* Computed buffers (causal masks, rotary tables): fills the new tensor, created in the buffer's
     * own dtype (float32 for float buffers) before any conversion to the model dtype. */
    void (*fill)(struct am_tensor *t, const void *arg);
    const void *fill_arg;
} am__param;

typedef struct am__module {
    char *name;  /* key in the parent ("encoder", "0"); "" for the root */
    char *type;  /* class name printed by repr ("BertEncoder") */
    char *extra; /* extra_repr(), NULL when empty */
    bool is_embedding; /* nn.Embedding: excluded by num_parameters(exclude_embeddings=True) */
    int64_t padding_idx; /* Embedding: row zeroed by the init, -1 when none */
    bool is_linear;
    double p; /* Dropout probability */
    bool training;
    struct am__module *parent;
    struct am__module **children;
    size_t n_children;
    am__param *params; /* parameters and buffers in registration order */
    size_t n_params;
} am__module;

am__module *am__module_new(am__module *parent, const char *name, const char *type);
/* Out of memory while building a tree: the module functions hand out scratch objects instead of
 * NULL and remember the failure (per thread) from am__module_build_begin() on; whoever runs a
 * builder checks am__module_build_failed() once afterwards. A root (parent NULL) comes back NULL. */
void am__module_build_begin(void);
bool am__module_build_failed(void);
void am__module_build_fail(void); /* a builder's own allocation failed */
void am__module_free(am__module *m);
void am__module_set_extra(am__module *m, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Registers a parameter (float, dtype set at load time) or a buffer. Returns its index. */
am__param *am__module_param(am__module *m, const char *name, int ndim, const int64_t *shape, am__init_kind init);
am__param *am__module_buffer(am__module *m, const char *name, am_dtype dt, int ndim, const int64_t *shape, bool persistent);
am__module *am__module_child(const am__module *m, const char *name);
am__param *am__module_find_param(const am__module *m, const char *name); /* local name */

/* Full dotted names. Entries are visited in PyTorch's state_dict order (own parameters, own
 * buffers, then children, depth first). */
typedef struct am__named_param {
    char *name;
    am__module *owner;
    am__param *p;
} am__named_param;
/* All parameters and buffers (tied aliases included). Caller frees with am__named_params_free. */
am_status am__named_params(const am__module *root, am__named_param **out, size_t *n);
void am__named_params_free(am__named_param *v, size_t n);
/* Lookup by full dotted name. */
am__param *am__module_lookup(const am__module *root, const char *name, am__module **owner);

/* repr(module), as torch 1.13 prints it. */
void am__module_repr(const am__module *m, void *buf /* am__buf* */, int indent);
void am__module_train(am__module *m, bool training);

/* Standard building blocks (nn.Linear, nn.Embedding, nn.LayerNorm, nn.Dropout, activations). */
am__module *am__nn_linear(am__module *parent, const char *name, int64_t in, int64_t out, bool bias);
am__module *am__nn_conv2d(am__module *parent, const char *name, int64_t in, int64_t out, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                          int64_t pw, int64_t groups, bool bias);
am__module *am__nn_conv1d(am__module *parent, const char *name, int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t groups, bool bias);
am__module *am__nn_embedding(am__module *parent, const char *name, int64_t num, int64_t dim, int64_t padding_idx);
am__module *am__nn_layernorm(am__module *parent, const char *name, int64_t dim, double eps);
am__module *am__nn_dropout(am__module *parent, const char *name, double p);
am__module *am__nn_leaf(am__module *parent, const char *name, const char *type); /* Tanh(), GELUActivation() ... */

/* Convenience: parameter tensor of a child module ("weight"/"bias"), NULL when absent. */
am_tensor *am__mod_tensor(const am__module *m, const char *pname);
#endif
