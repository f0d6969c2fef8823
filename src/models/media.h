/* models/media.h — the parts of the vision and audio architectures that do not run on one
 * am__stack (YOLOS's mid position tables, SegFormer's stages, Wav2Vec2's conv front end), shared
 * with export/: their ONNX emitters (onnx_vision.c, onnx_audio.c) read the same modules and sizes
 * the forward runs, handed over through the models' describe hooks (am__describe). */
#ifndef AM_MODELS_MEDIA_H
#define AM_MODELS_MEDIA_H
#include "models/model.h"

/* YOLOS (yolos.c) */
typedef struct am__yolos {
    am__module *emb, *proj, *encoder, *ln, *pooler;
    am__module *cls_head[3], *box_head[3]; /* YolosMLPPredictionHead layers */
    am__drop drop;
    am__stack enc;
    double eps;
    int64_t C, patch, img_h, img_w, det;
    bool mid;
} am__yolos;

/* SegFormer (segformer.c) */
#define AM__SEG_MAX_STAGES 8
#define AM__SEG_LN_EPS 1e-5 /* nn.LayerNorm's default: SegFormer's norms do not read layer_norm_eps */

typedef struct am__seg_block {
    am__module *ln1, *q, *k, *v, *sr, *sr_ln, *o, *ln2, *fc1, *dw, *fc2;
    am__drop probs, d_attn, d_mlp1, d_mlp2;
} am__seg_block;

typedef struct am__seg_stage {
    am__module *proj, *proj_ln, *ln;
    int64_t C, heads, sr, patch, stride, inner, nblocks;
    am__seg_block *blk;
} am__seg_stage;

typedef struct am__segformer {
    am__seg_stage st[AM__SEG_MAX_STAGES];
    int64_t nst, Cin;
    am__act act;
    am__module *mlp[AM__SEG_MAX_STAGES], *fuse, *bn, *cls; /* decode head */
    am__drop cls_drop;
} am__segformer;

/* Wav2Vec2 (wav2vec2.c) */
#define AM__W2V_MAX_CONV 64 /* conv layers (7 in every released checkpoint) */
typedef struct am__w2v_conv {
    am__module *conv, *norm; /* norm: GroupNorm (group, layer 0) or LayerNorm (layer), NULL when none */
    int64_t in, out, kernel, stride;
} am__w2v_conv;

typedef struct am__wav2vec2 {
    int64_t nconv, H, C; /* conv layers, hidden size, channels of the last conv layer */
    am__w2v_conv conv[AM__W2V_MAX_CONV];
    bool layer_norm_convs; /* feat_extract_norm "layer" (else "group") */
    am__act feat_act;
    am__module *fp_ln, *fp_proj, *spec_embed; /* feature_projection; masked_spec_embed (NULL when absent) */
    am__drop fp_drop;
    double eps;
    am__module *pos_conv; /* weight_g / weight_v / bias */
    int64_t pos_k, pos_groups;
    am__module *enc_ln; /* encoder.layer_norm: before the layers (post-norm), after them (stable) */
    am__drop enc_drop;
    bool stable;
    am__stack enc;
    double layerdrop;
    /* heads */
    am__module *layer_weights_owner, *projector, *classifier, *lm_head;
    am__drop final_drop;
    bool weighted;
} am__wav2vec2;
/* the positional conv's weight with weight_norm folded in: wt [H, H / groups, K] */
am_status am__w2v_pos_weight(const am__wav2vec2 *w, float *wt);
#endif
