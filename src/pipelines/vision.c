/* pipelines/vision.c — the image pipelines of transformers 4.32: image-classification (softmax,
 * top_k), object-detection (post_process_object_detection: softmax over the classes and "no
 * object", threshold, center -> corner boxes scaled to the original image, int() of the corners),
 * image-to-text (generate on pixel_values, decode with skip_special_tokens) and
 * image-segmentation, semantic subtask (logits upsampled bilinearly with align_corners=False to the
 * image size, argmax, one mask PNG per label present). Each image file is decoded as load_image
 * does and run through the model folder's image processor and the model: image-classification
 * batch_size images per call (rows are independent), the others one image per call (transformers'
 * default batch_size 1; YOLOS would pad a batch to its largest image, changing the answers). */
#include "core/error.h"
#include "core/tensor.h"
#include "models/model.h"
#include "pipelines/pipeline.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

bool am__pl_is_image_task(am_task t) {
    return t == AM_TASK_IMAGE_CLASSIFICATION || t == AM_TASK_OBJECT_DETECTION || t == AM_TASK_IMAGE_SEGMENTATION ||
           t == AM_TASK_VISION2SEQ;
}

am_status am__pl_vision_init(am_pipeline *p, const am_load_options *lo) {
    (void)lo;
    p->proc = am_image_processor_from_pretrained(p->path);
    if (!p->proc) {
        am__error_prefix("%s: loading the image processor", p->path);
        return am__error_code() ? am__error_code() : AM_ERR_INTERNAL;
    }
    if (p->o.output_dir && !(p->output_dir = am__strdup(p->o.output_dir))) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    p->o.output_dir = NULL;
    if (p->task == AM_TASK_VISION2SEQ) {
        const char *tdir = p->o.tokenizer ? p->o.tokenizer : p->path;
        p->tok = am_tokenizer_from_pretrained(tdir);
        if (!p->tok) {
            am__error_prefix("%s: loading the tokenizer", tdir);
            return am__error_code() ? am__error_code() : AM_ERR_INTERNAL;
        }
    }
    return AM_OK;
}

static am__pl_kind kind_of(am_task t) {
    return t == AM_TASK_IMAGE_CLASSIFICATION ? AM__PL_LABELS
           : t == AM_TASK_OBJECT_DETECTION   ? AM__PL_DETECTIONS
           : t == AM_TASK_VISION2SEQ         ? AM__PL_TEXTS
                                             : AM__PL_SEGMENTS;
}

static const char *label_of(const am_pipeline *p, int id, char *buf, size_t n) {
    const char *lab = am_config_id2label(am_model_config(p->model), id);
    if (lab) return lab;
    snprintf(buf, n, "LABEL_%d", id);
    return buf;
}

static am_pipeline_result *oom(am_pipeline_result *r) {
    am_pipeline_result_free(r);
    am__error(AM_ERR_NO_MEMORY, "out of memory");
    return NULL;
}

/* A float32 tensor of the outputs with the expected number of dimensions, else NULL + error. */
static const float *out_f32(const am_pipeline *p, const am_tensors *out, const char *name, int ndim, const am_tensor **t) {
    *t = am_tensors_get(out, name);
    if (!*t || am_tensor_dtype(*t) != AM_F32 || am_tensor_ndim(*t) != ndim || am_tensor_dim(*t, 0) != 1) {
        am__error(AM_ERR_INTERNAL, "%s: the model gave no float32 '%s' of %d dimensions for one image", p->path, name, ndim);
        return NULL;
    }
    return am_tensor_cdata(*t);
}

/* ---- image-classification ---- */

/* Row `row` of a batch's logits [B, C]. */
am_pipeline_result *am__pl_cls_post(am_pipeline *p, const am_tensors *out, size_t row) {
    const am_tensor *t = am_tensors_get(out, "logits");
    if (!t || am_tensor_dtype(t) != AM_F32 || am_tensor_ndim(t) != 2 || (size_t)am_tensor_dim(t, 0) <= row) {
        am__error(AM_ERR_INTERNAL, "%s: the model gave no float32 'logits' [batch, labels]", p->path);
        return NULL;
    }
    size_t C = (size_t)am_tensor_dim(t, 1);
    const float *l = (const float *)am_tensor_cdata(t) + row * C;
    am_pipeline_result *r = am__pl_result_new(AM__PL_LABELS);
    float *sc = malloc((C ? C : 1) * sizeof *sc);
    size_t *ord = malloc((C ? C : 1) * sizeof *ord);
    if (!r || !sc || !ord) {
        free(sc);
        free(ord);
        return oom(r);
    }
    r->score_first = r->list_shape = true;
    am__pl_softmax(l, C, sc);
    for (size_t i = 0; i < C; i++) { /* stable, best first: torch.topk's order for distinct scores */
        size_t j = i;
        while (j > 0 && sc[ord[j - 1]] < sc[i]) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    /* top_k: 5 by default, clipped to num_labels */
    size_t k = p->o.top_k > 0 ? (size_t)p->o.top_k : 5;
    if (k > C) k = C;
    for (size_t i = 0; i < k; i++) {
        am_label_score *it = am__pl_result_push(r);
        char buf[32];
        if (!it || !(it->label = am__pl_result_own(r, am__strdup(label_of(p, (int)ord[i], buf, sizeof buf))))) {
            free(sc);
            free(ord);
            return oom(r);
        }
        it->id = (int32_t)ord[i];
        it->score = sc[ord[i]];
    }
    free(sc);
    free(ord);
    return r;
}

/* ---- object-detection ---- */

static am_pipeline_result *det_post(am_pipeline *p, const am_tensors *out, int H, int W) {
    const am_tensor *tl, *tb;
    const float *l = out_f32(p, out, "logits", 3, &tl), *bx = l ? out_f32(p, out, "pred_boxes", 3, &tb) : NULL;
    if (!l || !bx) return NULL;
    size_t Q = (size_t)am_tensor_dim(tl, 1), C1 = (size_t)am_tensor_dim(tl, 2);
    if (C1 < 2 || am_tensor_dim(tb, 1) != (int64_t)Q || am_tensor_dim(tb, 2) != 4) {
        am__error(AM_ERR_INTERNAL, "%s: logits [1, %zu, %zu] and pred_boxes do not fit together", p->path, Q, C1);
        return NULL;
    }
    am_pipeline_result *r = am__pl_result_new(AM__PL_DETECTIONS);
    float *prob = malloc(C1 * sizeof *prob);
    if (!r || !prob) {
        free(prob);
        return oom(r);
    }
    for (size_t q = 0; q < Q; q++) {
        am__pl_softmax(l + q * C1, C1, prob);
        size_t best = 0; /* max over the real classes (the last is "no object"); the first of equals */
        for (size_t c = 1; c + 1 < C1; c++)
            if (prob[c] > prob[best]) best = c;
        if (!((double)prob[best] > p->threshold)) continue;
        const float *b = bx + q * 4;
        /* center_to_corners_format, then times (w, h, w, h) of the original image, in float32 */
        float cx = b[0], cy = b[1], w = b[2], h = b[3];
        float x0 = (cx - 0.5f * w) * (float)W, y0 = (cy - 0.5f * h) * (float)H, x1 = (cx + 0.5f * w) * (float)W,
              y1 = (cy + 0.5f * h) * (float)H;
        am_detection *d = am__pl_result_push(r);
        char buf[32];
        if (!d || !(d->label = am__pl_result_own(r, am__strdup(label_of(p, (int)best, buf, sizeof buf))))) {
            free(prob);
            return oom(r);
        }
        d->score = prob[best];
        d->id = (int32_t)best;
        d->corners[0] = x0, d->corners[1] = y0, d->corners[2] = x1, d->corners[3] = y1;
        /* box.int(): truncation toward zero */
        d->xmin = (int64_t)x0;
        d->ymin = (int64_t)y0;
        d->xmax = (int64_t)x1;
        d->ymax = (int64_t)y1;
    }
    free(prob);
    return r;
}

/* ---- image-to-text ---- */

/* generate_kwargs (a JSON object) onto the generation options: the scalar keys. */
am_status am__pl_gen_kwargs(const am_pipeline *p, am_generate_options *g) {
    if (p->max_new_tokens > 0) g->max_new_tokens = p->max_new_tokens;
    if (!p->generate_kwargs) return AM_OK;
    cJSON *j = cJSON_Parse(p->generate_kwargs);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return am__error(AM_ERR_INVALID_ARGUMENT, "generate_kwargs must be a JSON object");
    }
    am_status s = AM_OK;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        const char *k = it->string;
        static const char *const ints[] = {"max_new_tokens", "max_length", "min_new_tokens", "min_length", "num_beams",
                                           "top_k", "no_repeat_ngram_size", "seed", NULL};
        static const char *const dbls[] = {"temperature", "top_p", "typical_p", "repetition_penalty", "length_penalty", NULL};
        int64_t *iv[] = {&g->max_new_tokens, &g->max_length, &g->min_new_tokens, &g->min_length, &g->num_beams, &g->top_k,
                         &g->no_repeat_ngram_size, NULL};
        double *dv[] = {&g->temperature, &g->top_p, &g->typical_p, &g->repetition_penalty, &g->length_penalty};
        bool done = false;
        for (int i = 0; ints[i] && !done; i++)
            if (!strcmp(k, ints[i])) {
                done = true;
                if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < 0)
                    s = am__error(AM_ERR_INVALID_ARGUMENT, "generate_kwargs: %s must be a non-negative integer", k);
                else if (iv[i]) *iv[i] = (int64_t)it->valuedouble;
                else g->seed = (uint64_t)it->valuedouble;
            }
        for (int i = 0; dbls[i] && !done; i++)
            if (!strcmp(k, dbls[i])) {
                done = true;
                if (!cJSON_IsNumber(it)) s = am__error(AM_ERR_INVALID_ARGUMENT, "generate_kwargs: %s must be a number", k);
                else *dv[i] = it->valuedouble;
            }
        if (!done && !strcmp(k, "do_sample")) {
            done = true;
            if (!cJSON_IsBool(it)) s = am__error(AM_ERR_INVALID_ARGUMENT, "generate_kwargs: do_sample must be true or false");
            else g->do_sample = cJSON_IsTrue(it);
        }
        if (!done)
            s = am__error(AM_ERR_UNSUPPORTED, "generate_kwargs: '%s' is not supported here (supported: max_new_tokens, max_length, "
                          "min_new_tokens, min_length, num_beams, do_sample, top_k, top_p, typical_p, temperature, "
                          "repetition_penalty, length_penalty, no_repeat_ngram_size, seed)", k);
        if (s) break;
    }
    cJSON_Delete(j);
    return s;
}

static am_pipeline_result *i2t_post(am_pipeline *p, const am_tensors *seqs) {
    const am_tensor *t = am_tensors_get(seqs, "sequences");
    if (!t || am_tensor_dtype(t) != AM_I64 || am_tensor_ndim(t) != 2) {
        am__error(AM_ERR_INTERNAL, "%s: generate gave no int64 'sequences'", p->path);
        return NULL;
    }
    size_t R = (size_t)am_tensor_dim(t, 0), L = (size_t)am_tensor_dim(t, 1);
    const int64_t *v = am_tensor_cdata(t);
    am_pipeline_result *r = am__pl_result_new(AM__PL_TEXTS);
    int32_t *ids = malloc((L ? L : 1) * sizeof *ids);
    if (!r || !ids) {
        free(ids);
        return oom(r);
    }
    am_decode_options d = am_decode_options_default();
    d.skip_special_tokens = 1;
    for (size_t i = 0; i < R; i++) {
        for (size_t j = 0; j < L; j++) ids[j] = (int32_t)v[i * L + j];
        char *txt = am_tokenizer_decode(p->tok, ids, L, &d);
        am_generated_text *g = txt ? am__pl_result_push(r) : NULL;
        if (!txt || !g || !(g->generated_text = am__pl_result_own(r, txt))) {
            free(ids);
            if (!txt && am__error_code() != AM_ERR_NO_MEMORY) {
                am_pipeline_result_free(r);
                return NULL;
            }
            return oom(r);
        }
    }
    free(ids);
    return r;
}

/* ---- image-segmentation (semantic) ---- */

static am_status write_png_l(const char *path, const uint8_t *px, int w, int h) {
    FILE *f = fopen(path, "wb");
    if (!f) return am__error(AM_ERR_IO, "%s: cannot write the mask", path);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return am__error(AM_ERR_NO_MEMORY, "out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return am__error(AM_ERR_IO, "%s: writing the PNG failed", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(px + (size_t)y * (size_t)w));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (fclose(f)) return am__error(AM_ERR_IO, "%s: writing the mask failed", path);
    return AM_OK;
}

/* torch's upsample_bilinear2d (align_corners=False, no scale factor): source coordinate
 * (dst + 0.5) * in / out - 0.5, clamped at 0; the two neighbours and their weights. */
static void lin_coeffs(int in, int out, int *i0, int *i1, float *w0, float *w1) {
    float scale = (float)in / (float)out;
    for (int d = 0; d < out; d++) {
        float src = scale * ((float)d + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int a = (int)src;
        i0[d] = a;
        i1[d] = a + (a < in - 1 ? 1 : 0);
        w1[d] = src - (float)a;
        w0[d] = 1.0f - w1[d];
    }
}

am_status am__pl_semantic_segments(am_pipeline_result *r, const float *l, int Lb, int h, int w, int H, int W, const am_config *cfg,
                                   const char *dir, size_t *counter) {
    size_t HW = (size_t)H * (size_t)W;
    if (Lb <= 0 || h <= 0 || w <= 0 || H <= 0 || W <= 0) return am__error(AM_ERR_SHAPE, "semantic segmentation: empty logits or image");
    int *yi0 = malloc((size_t)H * sizeof(int)), *yi1 = malloc((size_t)H * sizeof(int)), *xi0 = malloc((size_t)W * sizeof(int)),
        *xi1 = malloc((size_t)W * sizeof(int));
    float *yw0 = malloc((size_t)H * sizeof(float)), *yw1 = malloc((size_t)H * sizeof(float)), *xw0 = malloc((size_t)W * sizeof(float)),
          *xw1 = malloc((size_t)W * sizeof(float)), *best = malloc(HW * sizeof(float));
    int32_t *lab = malloc(HW * sizeof(int32_t));
    am_status s = yi0 && yi1 && xi0 && xi1 && yw0 && yw1 && xw0 && xw1 && best && lab ? AM_OK : AM_ERR_NO_MEMORY;
    if (!s) {
        lin_coeffs(h, H, yi0, yi1, yw0, yw1);
        lin_coeffs(w, W, xi0, xi1, xw0, xw1);
        for (int c = 0; c < Lb; c++) { /* argmax over labels of the upsampled logits; the first of equals */
            const float *m = l + (size_t)c * (size_t)h * (size_t)w;
            for (int y = 0; y < H; y++) {
                const float *r0 = m + (size_t)yi0[y] * (size_t)w, *r1 = m + (size_t)yi1[y] * (size_t)w;
                for (int x = 0; x < W; x++) {
                    float v = yw0[y] * (xw0[x] * r0[xi0[x]] + xw1[x] * r0[xi1[x]]) + yw1[y] * (xw0[x] * r1[xi0[x]] + xw1[x] * r1[xi1[x]]);
                    size_t k = (size_t)y * (size_t)W + (size_t)x;
                    if (c == 0 || v > best[k]) {
                        best[k] = v;
                        lab[k] = c;
                    }
                }
            }
        }
        for (int c = 0; c < Lb && !s; c++) { /* one mask per label present, in id order */
            bool present = false;
            for (size_t k = 0; k < HW && !present; k++) present = lab[k] == c;
            if (!present) continue;
            uint8_t *mask = malloc(HW);
            if (!mask || !am__pl_result_own(r, (char *)mask)) {
                s = AM_ERR_NO_MEMORY;
                break;
            }
            for (size_t k = 0; k < HW; k++) mask[k] = lab[k] == c ? 255 : 0;
            char name[64], buf[32];
            snprintf(name, sizeof name, "mask%zu.png", (*counter)++);
            const char *ln = cfg ? am_config_id2label(cfg, c) : NULL;
            if (!ln) {
                snprintf(buf, sizeof buf, "LABEL_%d", c);
                ln = buf;
            }
            char *path = dir ? am__path_join(dir, name) : am__strdup(name);
            am_segment *sg = path ? am__pl_result_push(r) : NULL;
            if (!path || !sg || !am__pl_result_own(r, path) || !(sg->label = am__pl_result_own(r, am__strdup(ln)))) {
                if (path && !sg) free(path);
                s = AM_ERR_NO_MEMORY;
                break;
            }
            sg->id = c;
            sg->mask_path = path;
            sg->mask = mask;
            sg->width = W;
            sg->height = H;
            s = write_png_l(path, mask, W, H);
        }
    }
    free(yi0), free(yi1), free(xi0), free(xi1), free(yw0), free(yw1), free(xw0), free(xw1), free(best), free(lab);
    return s == AM_ERR_NO_MEMORY ? am__error(AM_ERR_NO_MEMORY, "out of memory") : s;
}

static am_pipeline_result *seg_post(am_pipeline *p, const am_tensors *out, int H, int W) {
    const am_tensor *t;
    const float *l = out_f32(p, out, "logits", 4, &t);
    if (!l) return NULL;
    am_pipeline_result *r = am__pl_result_new(AM__PL_SEGMENTS);
    if (!r) return NULL;
    if (am__pl_semantic_segments(r, l, (int)am_tensor_dim(t, 1), (int)am_tensor_dim(t, 2), (int)am_tensor_dim(t, 3), H, W,
                                 am_model_config(p->model), p->output_dir, &p->n_masks_written)) {
        am_pipeline_result_free(r);
        return NULL;
    }
    return r;
}

/* ---- the runner ---- */

/* The inputs the model takes from what the processor gave. */
static am_tensors *model_inputs(const am_pipeline *p, const am_tensors *px) {
    am_tensors *in = am_tensors_new();
    if (!in) return NULL;
    for (const char *const *n = p->model->input_names; n && *n; n++) {
        am_tensor *t = am_tensors_get(px, *n);
        if (t && am_tensors_set(in, *n, t)) {
            am_tensors_free(in);
            return NULL;
        }
    }
    return in;
}

/* bf16 / f16 outputs as float32, as the post-processing reads them. */
static am_status outputs_f32(am_tensors *out) {
    for (size_t i = 0; i < am_tensors_count(out); i++) {
        am_tensor *t = am_tensors_at(out, i);
        if (am_tensor_dtype(t) != AM_BF16 && am_tensor_dtype(t) != AM_F16) continue;
        am_tensor *c = am__tensor_convert(t, AM_F32);
        am_status s = c ? am_tensors_set(out, am_tensors_name(out, i), c) : AM_ERR_NO_MEMORY;
        am_tensor_free(c);
        if (s) return s;
    }
    return AM_OK;
}

/* One image: its result, or a result carrying its error (NULL only when out of memory). */
static am_pipeline_result *run_one(am_pipeline *p, const char *path) {
    am__pl_kind kind = kind_of(p->task);
    if (!path || !*path) return am__pl_result_error(kind, "empty image path");
    am_image *img = am_image_load(path, AM_IMAGE_RGB);
    if (!img) return am__error_code() == AM_ERR_NO_MEMORY ? NULL : am__pl_result_error(kind, "%s", am_last_error());
    int H = am_image_height(img), W = am_image_width(img);
    am_tensors *px = NULL, *in = NULL, *out = NULL;
    am_pipeline_result *r = NULL;
    const am_image *const imgs[1] = {img};
    if (am_image_processor_call(p->proc, imgs, 1, NULL, NULL, &px) != AM_OK) goto err;
    if (!(in = model_inputs(p, px))) goto err;
    if (p->task == AM_TASK_VISION2SEQ) {
        am_generate_options g = am_generate_options_default();
        if (am__pl_gen_kwargs(p, &g)) goto err;
        if (!(out = am_model_generate(p->model, in, &g))) goto err;
        r = i2t_post(p, out);
    } else {
        if (!(out = am_model_forward(p->model, in, NULL)) || outputs_f32(out)) goto err;
        r = p->task == AM_TASK_IMAGE_CLASSIFICATION ? am__pl_cls_post(p, out, 0)
            : p->task == AM_TASK_OBJECT_DETECTION   ? det_post(p, out, H, W)
                                                    : seg_post(p, out, H, W);
    }
    if (!r) goto err;
    goto done;
err:
    r = am__error_code() == AM_ERR_NO_MEMORY ? NULL : am__pl_result_error(kind, "%s: %s", path, am_last_error());
done:
    am_tensors_free(out);
    am_tensors_free(in);
    am_tensors_free(px);
    am_image_free(img);
    return r;
}

/* image-classification, batch_size images per model call: the processor resizes every image to
 * the same size, so they stack (rows are independent: the same answers as one at a time). Images
 * that fail to load get their error; a batch the processor cannot stack goes one image at a time. */
static am_status cls_batch(am_pipeline *p, size_t n, const char *const *paths, am_pipeline_result **out) {
    am_image **imgs = calloc(n, sizeof *imgs);
    size_t *which = calloc(n, sizeof *which), m = 0;
    am_tensors *px = NULL, *in = NULL, *res = NULL;
    am_status s = imgs && which ? AM_OK : AM_ERR_NO_MEMORY;
    for (size_t i = 0; i < n && !s; i++) {
        if (paths[i] && *paths[i] && (imgs[m] = am_image_load(paths[i], AM_IMAGE_RGB))) which[m++] = i;
        else if (am__error_code() == AM_ERR_NO_MEMORY) s = AM_ERR_NO_MEMORY;
        else if (!(out[i] = paths[i] && *paths[i] ? am__pl_result_error(AM__PL_LABELS, "%s", am_last_error())
                                                  : am__pl_result_error(AM__PL_LABELS, "empty image path")))
            s = AM_ERR_NO_MEMORY;
    }
    bool alone = false;
    if (!s && m) {
        if (am_image_processor_call(p->proc, (const am_image *const *)imgs, m, NULL, NULL, &px) != AM_OK) alone = true;
        else if (!(in = model_inputs(p, px))) s = AM_ERR_NO_MEMORY;
        else if (!(res = am_model_forward(p->model, in, NULL)) || outputs_f32(res)) alone = true;
        for (size_t j = 0; j < m && !s && !alone; j++)
            if (!(out[which[j]] = am__pl_cls_post(p, res, j))) s = am__error_code() == AM_ERR_NO_MEMORY ? AM_ERR_NO_MEMORY : (alone = true, AM_OK);
        if (alone && am__error_code() == AM_ERR_NO_MEMORY) s = AM_ERR_NO_MEMORY;
    }
    for (size_t j = 0; j < m && alone && !s; j++) { /* each image on its own: its own error, if any */
        am_pipeline_result_free(out[which[j]]);
        if (!(out[which[j]] = run_one(p, paths[which[j]]))) s = AM_ERR_NO_MEMORY;
    }
    for (size_t j = 0; imgs && j < m; j++) am_image_free(imgs[j]);
    free(imgs);
    free(which);
    am_tensors_free(px);
    am_tensors_free(in);
    am_tensors_free(res);
    return s ? am__error(AM_ERR_NO_MEMORY, "out of memory") : AM_OK;
}

am_status am__pl_vision_run(am_pipeline *p, size_t n, const char *const *paths, am_pipeline_result **out) {
    am_status s = AM_OK;
    if (p->task == AM_TASK_IMAGE_CLASSIFICATION && p->o.batch_size > 1) {
        for (size_t b0 = 0; b0 < n && !s; b0 += p->o.batch_size)
            s = cls_batch(p, n - b0 < p->o.batch_size ? n - b0 : p->o.batch_size, paths + b0, out + b0);
    } else
        for (size_t i = 0; i < n && !s; i++)
            if (!(out[i] = run_one(p, paths[i]))) s = am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (s)
        for (size_t j = 0; j < n; j++) {
            am_pipeline_result_free(out[j]);
            out[j] = NULL;
        }
    return s;
}
