/* vision/imgproc.c — transformers 4.32's image processors from preprocessor_config.json:
 * ViTImageProcessor, DeiTImageProcessor, YolosImageProcessor, SegformerImageProcessor and
 * ConvNextImageProcessor. Each call: resize (and crop) on the uint8 image with Pillow's resampling
 * (resample.c), then rescale as numpy does (float32(float64(x) * factor)), normalise in float32
 * ((x - float32(mean)) / float32(std)), YOLOS's zero padding, HWC -> CHW, stack. Parameters are the
 * config's, overridden per call by keyword arguments given as a JSON object; a key the class's
 * preprocess() does not take is refused. */
#include "vision/vision.h"
#include "core/error.h"
#include "core/json.h"
#include "core/util.h"
#include "hub/hub.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum kind { K_VIT, K_DEIT, K_YOLOS, K_SEGFORMER, K_CONVNEXT } kind;

/* size dicts: {"height", "width"}, {"shortest_edge"}, {"shortest_edge", "longest_edge"}, {"longest_edge"} */
typedef struct size_dict {
    int64_t height, width, shortest, longest; /* -1 = key absent */
} size_dict;

typedef struct params {
    bool do_resize, do_rescale, do_normalize, do_center_crop, do_pad, do_reduce_labels;
    size_dict size, crop_size;
    int resample;
    double rescale_factor, crop_pct;
    int nmean, nstd; /* 1 (a float for every channel) or 3 */
    double mean[3], std[3];
    bool channels_last; /* data_format */
} params;

struct am_image_processor {
    kind k;
    params p;
};

static const char *const CLASS_NAMES[] = {"ViTImageProcessor", "DeiTImageProcessor", "YolosImageProcessor",
                                          "SegformerImageProcessor", "ConvNextImageProcessor"};

/* every class's preprocess() keyword arguments (transformers 4.32), NULL-terminated */
static const char *const KW_VIT[] = {"do_resize", "size", "resample", "do_rescale", "rescale_factor", "do_normalize",
                                     "image_mean", "image_std", "return_tensors", "data_format", "input_data_format", NULL};
static const char *const KW_DEIT[] = {"do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale",
                                      "rescale_factor", "do_normalize", "image_mean", "image_std", "return_tensors",
                                      "data_format", "input_data_format", NULL};
static const char *const KW_YOLOS[] = {"annotations", "return_segmentation_masks", "masks_path", "do_resize", "size",
                                       "resample", "do_rescale", "rescale_factor", "do_normalize", "image_mean",
                                       "image_std", "do_pad", "format", "return_tensors", "data_format",
                                       "input_data_format", "max_size", "pad_and_return_pixel_mask", NULL};
static const char *const KW_SEGFORMER[] = {"do_resize", "size", "resample", "do_rescale", "rescale_factor",
                                           "do_normalize", "image_mean", "image_std", "do_reduce_labels",
                                           "reduce_labels", "return_tensors", "data_format", "input_data_format", NULL};
static const char *const KW_CONVNEXT[] = {"do_resize", "size", "crop_pct", "resample", "do_rescale", "rescale_factor",
                                          "do_normalize", "image_mean", "image_std", "return_tensors", "data_format",
                                          "input_data_format", NULL};
static const char *const *const KWARGS[] = {KW_VIT, KW_DEIT, KW_YOLOS, KW_SEGFORMER, KW_CONVNEXT};

static const double IMAGENET_STANDARD[3] = {0.5, 0.5, 0.5};
static const double IMAGENET_DEFAULT_MEAN[3] = {0.485, 0.456, 0.406};
static const double IMAGENET_DEFAULT_STD[3] = {0.229, 0.224, 0.225};

static size_dict hw(int64_t h, int64_t w) { return (size_dict){h, w, -1, -1}; }

static void defaults(kind k, params *p) {
    memset(p, 0, sizeof *p);
    p->do_resize = p->do_rescale = p->do_normalize = true;
    p->resample = 2; /* BILINEAR */
    p->rescale_factor = 1.0 / 255;
    p->nmean = p->nstd = 3;
    const double *mean = IMAGENET_DEFAULT_MEAN, *std = IMAGENET_DEFAULT_STD;
    p->crop_size = hw(-1, -1);
    switch (k) {
    case K_VIT: p->size = hw(224, 224), mean = std = IMAGENET_STANDARD; break;
    case K_DEIT:
        p->size = hw(256, 256), p->crop_size = hw(224, 224), p->do_center_crop = true, p->resample = 3;
        mean = std = IMAGENET_STANDARD;
        break;
    case K_YOLOS: p->size = (size_dict){-1, -1, 800, 1333}, p->do_pad = true; break;
    case K_SEGFORMER: p->size = hw(512, 512); break;
    case K_CONVNEXT: p->size = (size_dict){-1, -1, 384, -1}, p->crop_pct = 224.0 / 256, mean = std = IMAGENET_STANDARD; break;
    }
    memcpy(p->mean, mean, sizeof p->mean);
    memcpy(p->std, std, sizeof p->std);
}

/* ---------------------------------------------------------------------------------------------- */
/* values with Python's types                                                                      */
/* ---------------------------------------------------------------------------------------------- */

static bool is_int(const cJSON *v) { return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15; }

static am_status get_bool(const cJSON *v, const char *key, const char *origin, bool *out) {
    if (cJSON_IsBool(v)) *out = cJSON_IsTrue(v);
    else if (is_int(v)) *out = v->valuedouble != 0; /* Python truthiness of an int */
    else return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` must be a bool (true/false)", origin, key);
    return AM_OK;
}
static am_status get_num(const cJSON *v, const char *key, const char *origin, double *out) {
    if (!cJSON_IsNumber(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` must be a number", origin, key);
    *out = v->valuedouble;
    return AM_OK;
}

/* get_size_dict(size, default_to_square=square): an int, a [height, width] list, or a dict with
 * one of the valid key sets */
static am_status get_size(const cJSON *v, const char *key, bool square, const char *origin, size_dict *out) {
    size_dict s = {-1, -1, -1, -1};
    if (is_int(v)) {
        if (v->valuedouble < 0) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` must not be negative", origin, key);
        if (square) s.height = s.width = (int64_t)v->valuedouble;
        else s.shortest = (int64_t)v->valuedouble;
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && is_int(cJSON_GetArrayItem(v, 0)) &&
               is_int(cJSON_GetArrayItem(v, 1))) {
        s.height = (int64_t)cJSON_GetArrayItem(v, 0)->valuedouble;
        s.width = (int64_t)cJSON_GetArrayItem(v, 1)->valuedouble;
        if (s.height < 0 || s.width < 0) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` must not be negative", origin, key);
    } else if (cJSON_IsObject(v)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, v) {
            int64_t *dst = !strcmp(it->string, "height")          ? &s.height
                           : !strcmp(it->string, "width")         ? &s.width
                           : !strcmp(it->string, "shortest_edge") ? &s.shortest
                           : !strcmp(it->string, "longest_edge")  ? &s.longest
                                                                  : NULL;
            if (!dst) goto bad;
            if (!is_int(it)) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s[\"%s\"]` must be an int", origin, key, it->string);
            *dst = (int64_t)it->valuedouble;
            if (*dst < 0) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s[\"%s\"]` must not be negative", origin, key, it->string);
        }
        bool h = s.height >= 0 || s.width >= 0 ? (s.height != -1 && s.width != -1) : false;
        bool valid = (h && s.shortest == -1 && s.longest == -1) ||
                     (s.height == -1 && s.width == -1 && (s.shortest != -1 || s.longest != -1));
        if (!valid) goto bad;
    } else {
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: could not convert `%s` to a size dict (an int, [height, width] or a dict)",
                         origin, key);
    }
    if (s.height > (1 << 30) || s.width > (1 << 30) || s.shortest > (1 << 30) || s.longest > (1 << 30))
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` is too large (more than 2**30 pixels on a side)", origin, key);
    *out = s;
    return AM_OK;
bad:
    return am__error(AM_ERR_INVALID_ARGUMENT,
                     "%s: `%s` must have one of the following set of keys: {height, width}, {shortest_edge}, "
                     "{shortest_edge, longest_edge}, {longest_edge}",
                     origin, key);
}

static am_status get_mean(const cJSON *v, const char *key, const char *origin, double *out, int *n) {
    if (cJSON_IsNumber(v)) {
        out[0] = out[1] = out[2] = v->valuedouble;
        *n = 1;
        return AM_OK;
    }
    if (!cJSON_IsArray(v)) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` must be a float or a list of floats", origin, key);
    int len = cJSON_GetArraySize(v);
    if (len != 3)
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` must have 3 elements if it is an iterable, got %d", origin, key, len);
    for (int i = 0; i < 3; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(e)) return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `%s` must hold numbers", origin, key);
        out[i] = e->valuedouble;
    }
    *n = 3;
    return AM_OK;
}

static bool has(const char *const *list, const char *key) {
    for (; *list; list++)
        if (!strcmp(*list, key)) return true;
    return false;
}

/* One key of the config (`from_config`) or of the call: applies it to *p. Keys outside the
 * processor's parameters are the caller's business (config: kept as attributes and ignored, call:
 * refused before we get here). */
static am_status apply(kind k, params *p, const char *key, const cJSON *v, bool call, const char *origin) {
    if (cJSON_IsNull(v) && call) return AM_OK; /* None: keep the processor's value */
    if (!strcmp(key, "do_resize")) return get_bool(v, key, origin, &p->do_resize);
    if (!strcmp(key, "do_rescale")) return get_bool(v, key, origin, &p->do_rescale);
    if (!strcmp(key, "do_normalize")) return get_bool(v, key, origin, &p->do_normalize);
    if (!strcmp(key, "do_center_crop") && k == K_DEIT) return get_bool(v, key, origin, &p->do_center_crop);
    /* pad_and_return_pixel_mask: the deprecated name of do_pad (DETR-style processors) */
    if ((!strcmp(key, "do_pad") || !strcmp(key, "pad_and_return_pixel_mask")) && k == K_YOLOS)
        return get_bool(v, key, origin, &p->do_pad);
    if ((!strcmp(key, "do_reduce_labels") || !strcmp(key, "reduce_labels")) && k == K_SEGFORMER)
        return get_bool(v, key, origin, &p->do_reduce_labels);
    if (!strcmp(key, "size")) {
        /* ViT and DeiT read an int as a square, the others as the shortest edge */
        bool square = k == K_VIT || k == K_DEIT || (k == K_SEGFORMER && !call);
        am_status s = get_size(v, key, square, origin, &p->size);
        /* YolosImageProcessor.__init__: an int size gets max_size (default 1333) as its longest edge */
        if (s == AM_OK && !call && k == K_YOLOS && is_int(v)) p->size.longest = 1333;
        return s;
    }
    if (!strcmp(key, "crop_size") && k == K_DEIT) return get_size(v, key, true, origin, &p->crop_size);
    if (!strcmp(key, "max_size") && k == K_YOLOS) {
        if (!is_int(v) || fabs(v->valuedouble) > (1 << 30))
            return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `max_size` must be an int of at most 2**30", origin);
        if (p->size.shortest >= 0) p->size.longest = (int64_t)v->valuedouble;
        return AM_OK;
    }
    if (!strcmp(key, "resample")) {
        if (!is_int(v) || v->valuedouble < 0 || v->valuedouble > 5)
            return am__error(AM_ERR_INVALID_ARGUMENT,
                             "%s: `resample` must be a PIL filter code: 0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING",
                             origin);
        p->resample = (int)v->valuedouble;
        return AM_OK;
    }
    if (!strcmp(key, "rescale_factor")) return get_num(v, key, origin, &p->rescale_factor);
    if (!strcmp(key, "crop_pct") && k == K_CONVNEXT) return get_num(v, key, origin, &p->crop_pct);
    if (!strcmp(key, "image_mean")) return get_mean(v, key, origin, p->mean, &p->nmean);
    if (!strcmp(key, "image_std")) return get_mean(v, key, origin, p->std, &p->nstd);
    if (!strcmp(key, "data_format") && call) {
        if (cJSON_IsString(v) && !strcmp(v->valuestring, "channels_first")) p->channels_last = false;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "channels_last")) p->channels_last = true;
        else return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `data_format` must be \"channels_first\" or \"channels_last\"", origin);
        return AM_OK;
    }
    if (!strcmp(key, "input_data_format") && call) {
        /* our images are always height x width x channels */
        if (cJSON_IsString(v) && !strcmp(v->valuestring, "channels_last")) return AM_OK;
        return am__error(AM_ERR_INVALID_ARGUMENT,
                         "%s: `input_data_format` can only be \"channels_last\" here: decoded images are height x width x channels",
                         origin);
    }
    if (!strcmp(key, "return_tensors") && call) {
        if (cJSON_IsString(v) && (!strcmp(v->valuestring, "pt") || !strcmp(v->valuestring, "np"))) return AM_OK;
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `return_tensors` must be \"pt\" or \"np\" (tensors are returned either way)", origin);
    }
    if (!strcmp(key, "format") && k == K_YOLOS) {
        if (cJSON_IsString(v) && (!strcmp(v->valuestring, "coco_detection") || !strcmp(v->valuestring, "coco_panoptic")))
            return AM_OK;
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: `format` must be \"coco_detection\" or \"coco_panoptic\"", origin);
    }
    if (call && k == K_YOLOS && (!strcmp(key, "annotations") || !strcmp(key, "masks_path")))
        return am__error(AM_ERR_UNSUPPORTED, "%s: `%s` (training targets) is not supported", origin, key);
    if (call && k == K_YOLOS && !strcmp(key, "return_segmentation_masks")) {
        bool b;
        if (get_bool(v, key, origin, &b) != AM_OK) return am__error_code();
        if (b) return am__error(AM_ERR_UNSUPPORTED, "%s: `return_segmentation_masks` needs annotations, which are not supported", origin);
        return AM_OK;
    }
    return AM_OK; /* a config attribute preprocess() does not read */
}

/* ---------------------------------------------------------------------------------------------- */
/* loading                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

/* AutoImageProcessor's last resort when the file names no class: the model's config.json
 * model_type through IMAGE_PROCESSOR_MAPPING (the five supported rows). */
static const char *class_for_model_type(const char *mt) {
    static const char *const map[][2] = {{"vit", "ViTImageProcessor"},
                                         {"deit", "DeiTImageProcessor"},
                                         {"yolos", "YolosImageProcessor"},
                                         {"segformer", "SegformerImageProcessor"},
                                         {"convnext", "ConvNextImageProcessor"}};
    for (size_t i = 0; mt && i < sizeof map / sizeof *map; i++)
        if (!strcmp(mt, map[i][0])) return map[i][1];
    return NULL;
}

static am_image_processor *from_json_typed(const char *json, const char *origin, const char *fallback_type);

am_image_processor *am_image_processor_from_json(const char *json, const char *origin) {
    return from_json_typed(json, origin, NULL);
}

static am_image_processor *from_json_typed(const char *json, const char *origin, const char *fallback_type) {
    if (!origin) origin = "preprocessor_config.json";
    if (!json) {
        am__error(AM_ERR_INVALID_ARGUMENT, "%s: JSON text is NULL", origin);
        return NULL;
    }
    cJSON *root = NULL;
    if (am__json_parse(json, strlen(json), origin, &root) != AM_OK) return NULL; /* UTF-8, NUL, trailing data checked */
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        am__error(AM_ERR_FORMAT, "%s: the processor configuration must be a JSON object", origin);
        return NULL;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "image_processor_type");
    const char *type = cJSON_IsString(t) ? t->valuestring : NULL;
    char buf[128];
    if (!type) {
        t = cJSON_GetObjectItemCaseSensitive(root, "feature_extractor_type");
        if (cJSON_IsString(t)) {
            /* AutoImageProcessor maps XFeatureExtractor to XImageProcessor */
            const char *fe = strstr(t->valuestring, "FeatureExtractor");
            if (fe && strlen(t->valuestring) < 100) {
                snprintf(buf, sizeof buf, "%.*sImageProcessor", (int)(fe - t->valuestring), t->valuestring);
                type = buf;
            } else {
                type = t->valuestring;
            }
        }
    }
    if (!type) type = fallback_type;
    if (!type) {
        cJSON_Delete(root);
        am__error(AM_ERR_FORMAT,
                  "%s: neither `image_processor_type` nor `feature_extractor_type` names the processor class (nor does a "
                  "config.json model_type beside it)",
                  origin);
        return NULL;
    }
    int k = -1;
    for (int i = 0; i < 5; i++)
        if (!strcmp(type, CLASS_NAMES[i])) k = i;
    if (k < 0) {
        am__error(AM_ERR_UNSUPPORTED,
                  "%s: image processor class \"%s\" is not supported (ViTImageProcessor, DeiTImageProcessor, "
                  "YolosImageProcessor, SegformerImageProcessor, ConvNextImageProcessor)",
                  origin, type);
        cJSON_Delete(root);
        return NULL;
    }
    am_image_processor *p = calloc(1, sizeof *p);
    if (!p) {
        cJSON_Delete(root);
        am__error(AM_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    p->k = (kind)k;
    defaults(p->k, &p->p);
    /* YOLOS: max_size (deprecated) sets the longest edge of an int size */
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (!strcmp(it->string, "max_size")) continue;
        if (cJSON_IsNull(it)) continue; /* None: the class default */
        if (apply(p->k, &p->p, it->string, it, false, origin) != AM_OK) {
            free(p);
            cJSON_Delete(root);
            return NULL;
        }
    }
    if (p->k == K_YOLOS) {
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(root, "max_size");
        if (ms && !cJSON_IsNull(ms) && apply(p->k, &p->p, "max_size", ms, false, origin) != AM_OK) {
            free(p);
            cJSON_Delete(root);
            return NULL;
        }
    }
    cJSON_Delete(root);
    return p;
}

am_status am__preprocessor_config_read(const char *path, const char *what, const char *const *class_keys, char **json,
                                       char **file_out, char **model_type) {
    *json = *file_out = *model_type = NULL;
    char *file = NULL, *dir = NULL;
    if (am__is_dir(path)) {
        file = am__path_join(path, "preprocessor_config.json");
    } else if (am__is_file(path)) {
        file = am__strdup(path);
    } else {
        am__hub_opts ho = am__hub_opts_default();
        const char *need[] = {"preprocessor_config.json", NULL};
        if (am__hub_resolve(path, &ho, 0, need, NULL, &dir) != AM_OK) return am__error_code();
        file = am__path_join(dir, "preprocessor_config.json");
        free(dir);
    }
    if (!file) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    if (!am__is_file(file)) {
        free(file);
        return am__error(AM_ERR_NOT_FOUND, "%s: no preprocessor_config.json (the %s's configuration)", path, what);
    }
    size_t len;
    if (am__read_file(file, json, &len) != AM_OK) {
        free(file);
        return am__error_code();
    }
    /* the model's config.json beside it, for a file that names no class */
    bool named = false;
    for (const char *const *k = class_keys; *k; k++) named |= strstr(*json, *k) != NULL;
    char *cdir = am__strdup(file), *cfg_text = NULL;
    char *slash = cdir ? strrchr(cdir, '/') : NULL;
    if (slash) *slash = 0;
    char *cfg_path = cdir ? am__path_join(slash ? cdir : ".", "config.json") : NULL;
    if (cfg_path && am__is_file(cfg_path) && !named && am__read_file(cfg_path, &cfg_text, &len) == AM_OK) {
        cJSON *cfg = NULL;
        if (am__json_parse(cfg_text, len, cfg_path, &cfg) != AM_OK) cfg = NULL; /* a fallback only: errors cleared below */
        const cJSON *mt = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "model_type") : NULL;
        if (cJSON_IsString(mt)) *model_type = am__strdup(mt->valuestring);
        cJSON_Delete(cfg);
    }
    am__error_clear();
    free(cfg_text);
    free(cfg_path);
    free(cdir);
    *file_out = file;
    return AM_OK;
}

am_image_processor *am_image_processor_from_pretrained(const char *path) {
    if (!path) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_image_processor_from_pretrained: path is NULL");
        return NULL;
    }
    static const char *const keys[] = {"image_processor_type", "feature_extractor_type", NULL};
    char *json, *file, *mt;
    if (am__preprocessor_config_read(path, "image processor", keys, &json, &file, &mt) != AM_OK) return NULL;
    am_image_processor *p = from_json_typed(json, file, class_for_model_type(mt));
    free(json);
    free(file);
    free(mt);
    return p;
}

void am_image_processor_free(am_image_processor *p) { free(p); }
const char *am_image_processor_class_name(const am_image_processor *p) { return p ? CLASS_NAMES[p->k] : NULL; }
const char *const *am_image_processor_kwargs(const am_image_processor *p) { return p ? KWARGS[p->k] : NULL; }

/* ---------------------------------------------------------------------------------------------- */
/* the computation                                                                                 */
/* ---------------------------------------------------------------------------------------------- */

static int64_t py_round(double x) { return (int64_t)nearbyint(x); } /* half to even, as Python's round */

/* DETR's get_size_with_aspect_ratio (YOLOS in 4.32) */
static void size_with_aspect(int64_t h, int64_t w, int64_t size, int64_t max_size, int64_t *oh, int64_t *ow) {
    if (max_size >= 0) {
        double mn = (double)(h < w ? h : w), mx = (double)(h > w ? h : w);
        if (mx / mn * size > max_size) size = py_round(max_size * mn / mx);
    }
    if ((h <= w && h == size) || (w <= h && w == size)) {
        *oh = h, *ow = w;
        return;
    }
    if (w < h) *ow = size, *oh = (int64_t)((double)size * h / w);
    else *oh = size, *ow = (int64_t)((double)size * w / h);
}

/* image_transforms.get_resize_output_image_size(size=int, default_to_square=False) */
static void shortest_edge_size(int64_t h, int64_t w, int64_t size, int64_t *oh, int64_t *ow) {
    int64_t s = w <= h ? w : h, l = w <= h ? h : w;
    int64_t ns = size, nl = (int64_t)((double)size * l / s);
    if (w <= h) *ow = ns, *oh = nl;
    else *oh = ns, *ow = nl;
}

static int64_t floordiv2(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

/* image_transforms.center_crop: crop, padding with zeros where the crop is larger */
static am_image *center_crop(const am_image *img, int64_t ch, int64_t cw) {
    if (ch <= 0 || cw <= 0 || ch * cw > 2 * AM__IMAGE_MAX_PIXELS) {
        am__error(AM_ERR_INVALID_ARGUMENT, "center_crop: bad crop size %lldx%lld", (long long)ch, (long long)cw);
        return NULL;
    }
    int64_t H = img->height, W = img->width;
    int64_t top = floordiv2(H - ch), left = floordiv2(W - cw);
    /* with padding: the image sits at (top_pad, left_pad) of a max-sized zero canvas */
    int64_t nh = ch > H ? ch : H, nw = cw > W ? cw : W;
    int64_t top_pad = floordiv2(nh - H), left_pad = floordiv2(nw - W);
    bool fits = top >= 0 && top + ch <= H && left >= 0 && left + cw <= W;
    if (!fits) top += top_pad, left += left_pad;
    int64_t y0 = top < 0 ? 0 : top, y1 = top + ch > nh ? nh : top + ch;
    int64_t x0 = left < 0 ? 0 : left, x1 = left + cw > nw ? nw : left + cw;
    am_image *o = am__image_new((int)(x1 - x0), (int)(y1 - y0), img->channels);
    if (!o) return NULL;
    int C = img->channels;
    for (int64_t y = y0; y < y1; y++)
        for (int64_t x = x0; x < x1; x++) {
            int64_t sy = fits ? y : y - top_pad, sx = fits ? x : x - left_pad;
            uint8_t *d = o->px + ((size_t)(y - y0) * o->width + (size_t)(x - x0)) * C;
            if (sy >= 0 && sy < H && sx >= 0 && sx < W) memcpy(d, img->px + ((size_t)sy * W + (size_t)sx) * C, (size_t)C);
            else memset(d, 0, (size_t)C);
        }
    return o;
}

static am_image *resize_checked(const am_image *img, int64_t h, int64_t w, int resample) {
    if (h <= 0 || w <= 0 || h > 1 << 30 || w > 1 << 30) {
        am__error(AM_ERR_INVALID_ARGUMENT, "resize: height and width must be > 0 (got height %lld, width %lld)", (long long)h,
                  (long long)w);
        return NULL;
    }
    return am__image_resize(img, (int)w, (int)h, resample);
}

static am_image *copy_image(const am_image *img) {
    return am_image_from_pixels(img->width, img->height, img->channels, img->px);
}

/* The geometric steps on the uint8 image: resize (per class), center crop (DeiT). */
static am_image *geometry(const am_image_processor *pr, const params *p, const am_image *img) {
    if (!p->do_resize && !(pr->k == K_DEIT && p->do_center_crop)) return copy_image(img);
    am_image *cur = NULL;
    const size_dict *s = &p->size;
    if (p->do_resize) {
        switch (pr->k) {
        case K_VIT:
        case K_DEIT:
        case K_SEGFORMER:
            if (s->height < 0 || s->width < 0) {
                am__error(AM_ERR_INVALID_ARGUMENT, "The `size` dictionary must contain the keys `height` and `width`");
                return NULL;
            }
            cur = resize_checked(img, s->height, s->width, p->resample);
            break;
        case K_YOLOS: {
            int64_t oh, ow;
            if (s->shortest >= 0 && s->longest >= 0) {
                if (s->shortest <= 0) {
                    am__error(AM_ERR_INVALID_ARGUMENT, "size[\"shortest_edge\"] must be > 0");
                    return NULL;
                }
                size_with_aspect(img->height, img->width, s->shortest, s->longest, &oh, &ow);
            } else if (s->height >= 0 && s->width >= 0) {
                oh = s->height, ow = s->width;
            } else {
                am__error(AM_ERR_INVALID_ARGUMENT,
                          "Size must contain 'height' and 'width' keys or 'shortest_edge' and 'longest_edge' keys");
                return NULL;
            }
            cur = resize_checked(img, oh, ow, p->resample);
            break;
        }
        case K_CONVNEXT: {
            if (s->shortest < 0) {
                am__error(AM_ERR_INVALID_ARGUMENT, "Size dictionary must contain 'shortest_edge' key");
                return NULL;
            }
            int64_t se = s->shortest;
            if (se < 384) {
                if (!(p->crop_pct > 0)) {
                    am__error(AM_ERR_INVALID_ARGUMENT, "crop_pct must be > 0");
                    return NULL;
                }
                if (se / p->crop_pct > (double)(1 << 30)) {
                    am__error(AM_ERR_INVALID_ARGUMENT, "resize: shortest edge %lld / crop_pct %g is too large", (long long)se,
                              p->crop_pct);
                    return NULL;
                }
                int64_t rs = (int64_t)(se / p->crop_pct), oh, ow;
                if (rs <= 0) {
                    am__error(AM_ERR_INVALID_ARGUMENT, "resize: shortest edge %lld / crop_pct gives %lld", (long long)se, (long long)rs);
                    return NULL;
                }
                shortest_edge_size(img->height, img->width, rs, &oh, &ow);
                am_image *r = resize_checked(img, oh, ow, p->resample);
                if (!r) return NULL;
                cur = center_crop(r, se, se);
                am_image_free(r);
            } else {
                cur = resize_checked(img, se, se, p->resample);
            }
            break;
        }
        }
        if (!cur) return NULL;
    } else {
        cur = copy_image(img);
        if (!cur) return NULL;
    }
    if (pr->k == K_DEIT && p->do_center_crop) {
        if (p->crop_size.height < 0 || p->crop_size.width < 0) {
            am_image_free(cur);
            am__error(AM_ERR_INVALID_ARGUMENT, "The `crop_size` dictionary must contain the keys `height` and `width`");
            return NULL;
        }
        am_image *c = center_crop(cur, p->crop_size.height, p->crop_size.width);
        am_image_free(cur);
        cur = c;
    }
    return cur;
}

/* Segformer's map: reduce_labels on the uint8 map, then NEAREST to the processor size. */
static am_image *map_geometry(const params *p, const am_image *m) {
    am_image *cur = copy_image(m);
    if (!cur) return NULL;
    if (p->do_reduce_labels) {
        size_t n = (size_t)cur->width * cur->height;
        for (size_t i = 0; i < n; i++) {
            uint8_t v = cur->px[i];
            cur->px[i] = v == 0 ? 255 : v == 255 ? 255 : (uint8_t)(v - 1);
        }
    }
    if (p->do_resize) {
        if (p->size.height < 0 || p->size.width < 0) {
            am_image_free(cur);
            am__error(AM_ERR_INVALID_ARGUMENT, "The `size` dictionary must contain the keys `height` and `width`");
            return NULL;
        }
        am_image *r = resize_checked(cur, p->size.height, p->size.width, 0);
        am_image_free(cur);
        cur = r;
    }
    return cur;
}

am_status am__image_processor_call_ex(const am_image_processor *pr, const am_image *const *images, size_t n,
                                      const am_image *const *maps, const char *kwargs_json, am_tensors **out,
                                      am_image **resized, am_image **resized_maps) {
    if (!out) return am__error(AM_ERR_INVALID_ARGUMENT, "image processor: `out` is NULL");
    *out = NULL;
    if (!pr || !images || n == 0) return am__error(AM_ERR_INVALID_ARGUMENT, "image processor: no images given");
    if (n > (1u << 20)) return am__error(AM_ERR_INVALID_ARGUMENT, "image processor: too many images (%zu)", n);
    for (size_t i = 0; i < n; i++)
        if (!images[i] || images[i]->channels != 3)
            return am__error(AM_ERR_INVALID_ARGUMENT, "image processor: image %zu is %s", i,
                             images[i] ? "not an RGB image (load it with AM_IMAGE_RGB)" : "NULL");
    const char *cls = CLASS_NAMES[pr->k];
    if (maps && pr->k != K_SEGFORMER)
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s does not take segmentation maps", cls);
    if (maps)
        for (size_t i = 0; i < n; i++)
            if (!maps[i] || maps[i]->channels != 1)
                return am__error(AM_ERR_INVALID_ARGUMENT, "segmentation map %zu is %s", i,
                                 maps[i] ? "not single-channel (load it with AM_IMAGE_LABELS)" : "NULL");
    params p = pr->p;
    if (kwargs_json && *kwargs_json) {
        cJSON *kw = cJSON_Parse(kwargs_json);
        if (!kw || !cJSON_IsObject(kw)) {
            cJSON_Delete(kw);
            return am__error(AM_ERR_INVALID_ARGUMENT, "%s: keyword arguments must be a JSON object", cls);
        }
        const cJSON *it;
        am_status s = AM_OK;
        cJSON_ArrayForEach(it, kw) {
            if (!has(KWARGS[pr->k], it->string)) {
                s = am__error(AM_ERR_INVALID_ARGUMENT, "%s.preprocess() got an unexpected keyword argument '%s'", cls, it->string);
                break;
            }
            if (!strcmp(it->string, "max_size")) continue;
            if ((s = apply(pr->k, &p, it->string, it, true, cls)) != AM_OK) break;
        }
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(kw, "max_size");
        if (s == AM_OK && ms && !cJSON_IsNull(ms)) s = apply(pr->k, &p, "max_size", ms, true, cls);
        cJSON_Delete(kw);
        if (s != AM_OK) return s;
    }

    am_status st = AM_OK;
    am_image **geo = calloc(n, sizeof *geo);
    am_image **mgeo = maps ? calloc(n, sizeof *mgeo) : NULL;
    am_tensors *ts = NULL;
    am_tensor *pv = NULL, *mask = NULL, *labels = NULL;
    if (!geo || (maps && !mgeo)) {
        st = am__error(AM_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    int H = 0, W = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(geo[i] = geometry(pr, &p, images[i]))) {
            st = am__error_code() != AM_OK ? am__error_code() : AM_ERR_INTERNAL;
            am__error_prefix("%s, image %zu", cls, i);
            goto done;
        }
        if (geo[i]->height > H) H = geo[i]->height;
        if (geo[i]->width > W) W = geo[i]->width;
    }
    bool pad = pr->k == K_YOLOS && p.do_pad;
    if (!pad)
        for (size_t i = 0; i < n; i++)
            if (geo[i]->height != geo[0]->height || geo[i]->width != geo[0]->width) {
                st = am__error(AM_ERR_SHAPE,
                               "%s: images end with different sizes (%dx%d and %dx%d, height x width) and are not padded: "
                               "they cannot be stacked into one tensor",
                               cls, geo[0]->height, geo[0]->width, geo[i]->height, geo[i]->width);
                goto done;
            }
    bool as_float = p.do_rescale || p.do_normalize;
    int64_t shape[4] = {(int64_t)n, 3, H, W};
    if (p.channels_last) shape[1] = H, shape[2] = W, shape[3] = 3;
    pv = am_tensor_new(as_float ? AM_F32 : AM_U8, 4, shape); /* zero-filled: YOLOS's padding */
    ts = am_tensors_new();
    if (!pv || !ts) {
        st = am__error(AM_ERR_NO_MEMORY, "out of memory for pixel_values");
        goto done;
    }
    float meanf[3], stdf[3];
    for (int c = 0; c < 3; c++) meanf[c] = (float)p.mean[c], stdf[c] = (float)p.std[c];
    /* the 256 values a byte can become in each channel: rescale float32(float64(x) * factor), then
     * (x - float32(mean)) / float32(std) in float32 (two roundings), as numpy computes them */
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int u = 0; u < 256; u++) {
            float v = p.do_rescale ? (float)((double)u * p.rescale_factor) : (float)u;
            if (p.do_normalize) v = (v - meanf[c]) / stdf[c];
            lut[c][u] = v;
        }
    float *pf = as_float ? am_tensor_data(pv) : NULL;
    uint8_t *pu = as_float ? NULL : am_tensor_data(pv);
    size_t plane = (size_t)H * W;
    for (size_t i = 0; i < n; i++) {
        const am_image *g = geo[i];
        for (int y = 0; y < g->height; y++) {
            const uint8_t *src = g->px + (size_t)y * g->width * 3;
            for (int c = 0; c < 3; c++) {
                size_t at = p.channels_last ? ((i * H + (size_t)y) * W) * 3 + (size_t)c : (i * 3 + (size_t)c) * plane + (size_t)y * W;
                size_t step = p.channels_last ? 3 : 1;
                for (int x = 0; x < g->width; x++, at += step) {
                    uint8_t u = src[(size_t)x * 3 + (size_t)c];
                    if (pf) pf[at] = lut[c][u];
                    else pu[at] = u;
                }
            }
        }
    }
    if ((st = am_tensors_set(ts, "pixel_values", pv)) != AM_OK) goto done;
    if (pad) {
        int64_t ms[3] = {(int64_t)n, H, W};
        mask = am_tensor_new(AM_I64, 3, ms);
        if (!mask) {
            st = am__error(AM_ERR_NO_MEMORY, "out of memory for pixel_mask");
            goto done;
        }
        int64_t *m = am_tensor_data(mask);
        for (size_t i = 0; i < n; i++)
            for (int y = 0; y < geo[i]->height; y++)
                for (int x = 0; x < geo[i]->width; x++) m[(i * H + (size_t)y) * W + (size_t)x] = 1;
        if ((st = am_tensors_set(ts, "pixel_mask", mask)) != AM_OK) goto done;
    }
    if (maps) {
        for (size_t i = 0; i < n; i++) {
            if (!(mgeo[i] = map_geometry(&p, maps[i]))) {
                st = am__error_code() != AM_OK ? am__error_code() : AM_ERR_INTERNAL;
                am__error_prefix("%s, segmentation map %zu", cls, i);
                goto done;
            }
            if (mgeo[i]->height != mgeo[0]->height || mgeo[i]->width != mgeo[0]->width) {
                st = am__error(AM_ERR_SHAPE, "%s: segmentation maps end with different sizes and cannot be stacked", cls);
                goto done;
            }
        }
        int64_t ls[3] = {(int64_t)n, mgeo[0]->height, mgeo[0]->width};
        labels = am_tensor_new(AM_I64, 3, ls);
        if (!labels) {
            st = am__error(AM_ERR_NO_MEMORY, "out of memory for labels");
            goto done;
        }
        int64_t *l = am_tensor_data(labels);
        size_t per = (size_t)ls[1] * (size_t)ls[2];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < per; j++) l[i * per + j] = mgeo[i]->px[j];
        if ((st = am_tensors_set(ts, "labels", labels)) != AM_OK) goto done;
    }
done:
    am_tensor_free(pv);
    am_tensor_free(mask);
    am_tensor_free(labels);
    for (size_t i = 0; geo && i < n; i++) {
        if (st == AM_OK && resized) resized[i] = geo[i];
        else am_image_free(geo[i]);
    }
    for (size_t i = 0; mgeo && i < n; i++) {
        if (st == AM_OK && resized_maps) resized_maps[i] = mgeo[i];
        else am_image_free(mgeo[i]);
    }
    free(geo);
    free(mgeo);
    if (st != AM_OK) {
        am_tensors_free(ts);
        return st;
    }
    *out = ts;
    return AM_OK;
}

am_status am_image_processor_call(const am_image_processor *p, const am_image *const *images, size_t n,
                                  const am_image *const *maps, const char *kwargs_json, am_tensors **out) {
    return am__image_processor_call_ex(p, images, n, maps, kwargs_json, out, NULL, NULL);
}
