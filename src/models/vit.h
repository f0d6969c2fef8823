/* models/vit.h — the ViT encoder as a part other architectures reuse (YOLOS, the encoder of
 * VisionEncoderDecoderModel): config reading, the pre-LN layer tree, pixel input checks, and the
 * encoder forward (patch embedding, CLS token, positions, the shared stack, final LayerNorm). */
#ifndef AM_MODELS_VIT_H
#define AM_MODELS_VIT_H
#include "models/model.h"

typedef struct am__vit {
    am__module *emb;    /* <P>Embeddings: cls_token, position_embeddings */
    am__module *proj;   /* patch_embeddings.projection (Conv2d) */
    am__drop drop;      /* embeddings dropout */
    am__stack enc;      /* pre-norm, bidirectional */
    am__module *ln;     /* final layernorm */
    am__module *pooler; /* <P>Pooler, NULL without pooling layer */
    double eps;
    int64_t C, patch, img_h, img_w;
} am__vit;

/* image_size (a number or [h, w]), patch_size, num_channels of a ViT-like config, checked. */
am_status am__vit_geometry(const am_config *c, int64_t *img_h, int64_t *img_w, int64_t *patch, int64_t *C);
/* The encoder layer list "layer" (<P>Layer ...) under `encoder`, described in st (pre-norm). */
am_status am__vit_layers(const am_config *c, am__module *encoder, const char *P, am__stack *st);
/* embeddings, encoder, layernorm (and pooler) of a ViTModel under `base`. */
am_status am__vit_build(const am_config *c, am__module *base, bool pooler, am__vit *v);
/* The pixel_values input as an owned float32 [B, C, H, W] copy, checked against num_channels. */
am_status am__pixel_values(const am_tensors *in, int64_t C, am_tensor **out);
/* ViTModel's forward up to the final LayerNorm: *seq [B, T, H] (owned), T = 1 + patches.
 * Hidden states (before the LayerNorm) go to hs as "<hs_name>.i" when hs is not NULL. */
am_status am__vit_encode(am__fwd *cx, const am__vit *v, const am_tensor *px, bool interpolate, am_tensors *hs, const char *hs_name, float **seq,
                         int64_t *T);
#endif
