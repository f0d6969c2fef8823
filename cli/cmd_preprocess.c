/* cli/cmd_preprocess.c — `automodel preprocess MODEL --images A.jpg B.png [--segmentation-maps
 * M.png ...] --output OUT.safetensors [--KWARG VALUE ...]`: the image processor of MODEL (its
 * preprocessor_config.json) called as processor(images, segmentation_maps=..., **kwargs,
 * return_tensors="pt"), its tensors written as safetensors. With `--audio A.wav B.flac ...` the
 * feature extractor instead: each file decoded to mono at the extractor's sampling_rate as the
 * pipelines' ffmpeg_read does, then feature_extractor(raw_speech, **kwargs, return_tensors="pt"). Every keyword argument of the
 * processors' preprocess() is a dashed flag: `--resample 0`, a bare `--do-pad` is True,
 * `--do-pad false`, dicts and lists as JSON (`--size '{"height": 32, "width": 32}'`). A flag the
 * loaded class does not take is refused, naming the class's own. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* The keyword arguments of every supported class (each class takes a subset: checked after
 * loading, against am_image_processor_kwargs). Booleans take an optional value. */
#define KW_VALUE(name, meta, help) {name, NULL, required_argument, meta, help}
#define KW_BOOL(name, help) {name, NULL, optional_argument, "BOOL", help}
static const am_cli_opt k_preprocess_opts[] = {
    {"images", "image", required_argument, "FILE...", "the images (JPEG, PNG, WebP, BMP), loaded as load_image does "
                                                      "(EXIF orientation, RGB)"},
    {"segmentation-maps", "segmentation-map", required_argument, "FILE...", "segmentation_maps (Segformer): one label "
                                                                            "image (mode L or P) per image"},
    {"audio", NULL, required_argument, "FILE...", "audio files (WAV, FLAC, Ogg, MP3) for the feature extractor, "
                                                 "decoded to mono at its sampling_rate as ffmpeg_read does"},
    {"output", NULL, required_argument, "OUT.safetensors", "where the tensors go (pixel_values; pixel_mask for YOLOS; "
                                                            "labels with segmentation maps)"},
    KW_BOOL("do-resize", "do_resize"),
    KW_VALUE("size", "SIZE", "size: an int, [height, width] or a dict ({\"height\": h, \"width\": w}, "
                             "{\"shortest_edge\": s, \"longest_edge\": l})"),
    KW_VALUE("resample", "N", "resample: PIL filter code (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX, 5 HAMMING)"),
    KW_BOOL("do-center-crop", "do_center_crop (DeiT)"),
    KW_VALUE("crop-size", "SIZE", "crop_size (DeiT)"),
    KW_VALUE("crop-pct", "X", "crop_pct (ConvNext)"),
    KW_BOOL("do-rescale", "do_rescale"),
    KW_VALUE("rescale-factor", "X", "rescale_factor"),
    KW_BOOL("do-normalize", "do_normalize"),
    KW_VALUE("image-mean", "X|[X,X,X]", "image_mean"),
    KW_VALUE("image-std", "X|[X,X,X]", "image_std"),
    KW_BOOL("do-pad", "do_pad (YOLOS)"),
    KW_BOOL("pad-and-return-pixel-mask", "pad_and_return_pixel_mask (YOLOS, deprecated name of do_pad)"),
    KW_VALUE("format", "FORMAT", "format (YOLOS): coco_detection or coco_panoptic"),
    KW_VALUE("max-size", "N", "max_size (YOLOS, deprecated): the longest edge of an int size"),
    KW_VALUE("annotations", "JSON", "annotations (YOLOS; not supported)"),
    KW_BOOL("return-segmentation-masks", "return_segmentation_masks (YOLOS; needs annotations)"),
    KW_VALUE("masks-path", "PATH", "masks_path (YOLOS; not supported)"),
    KW_BOOL("do-reduce-labels", "do_reduce_labels (Segformer)"),
    KW_BOOL("reduce-labels", "reduce_labels (Segformer, deprecated name of do_reduce_labels)"),
    KW_VALUE("return-tensors", "pt|np", "return_tensors (tensors are written either way)"),
    KW_VALUE("data-format", "FORMAT", "data_format: channels_first (default) or channels_last"),
    KW_VALUE("input-data-format", "FORMAT", "input_data_format (decoded images are channels_last)"),
    KW_VALUE("padding", "STRATEGY", "padding (feature extractors): true (longest), false, longest, max_length, do_not_pad"),
    KW_VALUE("max-length", "N", "max_length (feature extractors), in samples"),
    KW_BOOL("truncation", "truncation (feature extractors)"),
    KW_VALUE("pad-to-multiple-of", "N", "pad_to_multiple_of (feature extractors)"),
    KW_BOOL("return-attention-mask", "return_attention_mask (feature extractors)"),
    KW_VALUE("sampling-rate", "HZ", "sampling_rate (feature extractors): must be the extractor's own"),
    {0},
};
const am_cli_cmd am_cli_cmd_preprocess = {
    "preprocess",
    "preprocess MODEL (--images A.jpg [B.png ...] [--segmentation-maps M.png ...] | --audio A.wav [B.flac ...]) --output "
    "OUT.safetensors [--KWARG VALUE ...]",
    "Run MODEL's image processor or feature extractor (preprocessor_config.json) on image or audio files and write "
    "pixel_values (and pixel_mask / labels), or input_values / input_features (and attention_mask).",
    k_preprocess_opts, false};

typedef struct pp_ctx {
    const char **images, **maps, **audio;
    size_t n_images, n_maps, n_audio;
    const char *output;
    cJSON *kwargs;
    int failed;
} pp_ctx;

static int push(const char ***list, size_t *n, const char *v) {
    const char **p = realloc(*list, (*n + 1) * sizeof *p);
    if (!p) return am_cli_usage_error("out of memory");
    *list = p;
    p[(*n)++] = v;
    return 0;
}

static int pp_opt(void *ctx, const char *name, const char *v) {
    pp_ctx *c = ctx;
    if (!strcmp(name, "images")) return push(&c->images, &c->n_images, v);
    if (!strcmp(name, "segmentation-maps")) return push(&c->maps, &c->n_maps, v);
    if (!strcmp(name, "audio")) return push(&c->audio, &c->n_audio, v);
    if (!strcmp(name, "output")) {
        c->output = v;
        return 0;
    }
    char key[64];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof key; i++) key[i] = name[i] == '-' ? '_' : name[i];
    key[i] = 0;
    cJSON *j = am_cli_kwarg_value(v);
    if (!j) return am_cli_usage_error("out of memory");
    if (cJSON_GetObjectItemCaseSensitive(c->kwargs, key)) cJSON_DeleteItemFromObjectCaseSensitive(c->kwargs, key);
    cJSON_AddItemToObject(c->kwargs, key, j);
    return 0;
}

static const char *const k_list_flags[] = {"--images", "--image", "--segmentation-maps", "--segmentation-map", "--audio",
                                           NULL};

static const char *dtype_str(const am_tensor *t) { return am_dtype_name(am_tensor_dtype(t)); }

/* every flag given must be a keyword argument of the loaded class: else a usage error naming its own */
static int check_kwargs(const cJSON *kwargs, const char *const *ok, const char *cls) {
    char flag[64], takes[1024];
    if (am_cli_unknown_kwarg(kwargs, ok, flag, sizeof flag, takes, sizeof takes))
        return am_cli_usage_error("preprocess: --%s is not a keyword argument of %s (it takes %s)", flag, cls, takes);
    return 0;
}

static void print_tensors(const am_tensors *out) {
    for (size_t i = 0; i < am_tensors_count(out); i++) {
        const am_tensor *t = am_tensors_at(out, i);
        printf("%s [", am_tensors_name(out, i));
        for (int d = 0; d < am_tensor_ndim(t); d++) printf("%s%lld", d ? ", " : "", (long long)am_tensor_dim(t, d));
        printf("] %s\n", dtype_str(t));
    }
}

/* --audio: MODEL's feature extractor on the decoded files */
static int preprocess_audio(const char *model, const pp_ctx *c) {
    am_feature_extractor *fe = am_feature_extractor_from_pretrained(model);
    if (!fe) return am_cli_fail(NULL);
    int rc = check_kwargs(c->kwargs, am_feature_extractor_kwargs(fe), am_feature_extractor_class_name(fe));
    am_audio **auds = rc ? NULL : calloc(c->n_audio, sizeof *auds);
    am_tensors *out = NULL;
    char *kwj = NULL;
    if (!rc && !auds) rc = am_cli_usage_error("out of memory");
    for (size_t i = 0; !rc && i < c->n_audio; i++)
        if (!(auds[i] = am_audio_load(c->audio[i], am_feature_extractor_sampling_rate(fe)))) rc = am_cli_fail(NULL);
    if (!rc && !(kwj = cJSON_PrintUnformatted(c->kwargs))) rc = am_cli_usage_error("out of memory");
    if (!rc && am_feature_extractor_call(fe, (const am_audio *const *)auds, c->n_audio, kwj, &out) != AM_OK) rc = am_cli_fail(NULL);
    if (!rc && am_tensors_save_safetensors(out, c->output) != AM_OK) rc = am_cli_fail(c->output);
    if (!rc) print_tensors(out);
    for (size_t i = 0; auds && i < c->n_audio; i++) am_audio_free(auds[i]);
    free(auds);
    am_tensors_free(out);
    cJSON_free(kwj);
    am_feature_extractor_free(fe);
    return rc;
}

int am_cli_preprocess(int argc, char **argv) {
    pp_ctx c = {0};
    c.kwargs = cJSON_CreateObject();
    char **owned = NULL;
    size_t n_owned = 0;
    int nargc = 0;
    char **nargv = c.kwargs ? am_cli_kwargs_argv(k_preprocess_opts, k_list_flags, argc, argv, &nargc, &owned, &n_owned) : NULL;
    char **pos = NULL;
    int npos = 0, rc;
    am_image_processor *p = NULL;
    am_image **imgs = NULL, **maps = NULL;
    am_tensors *out = NULL;
    char *kwj = NULL;
    if (!nargv) {
        rc = am_cli_usage_error("out of memory");
        goto done;
    }
    rc = am_cli_parse(&am_cli_cmd_preprocess, nargc, nargv, NULL, pp_opt, &c, &pos, &npos);
    if (rc) goto done;
    if (npos != 1) {
        rc = am_cli_usage_error(npos ? "preprocess: one MODEL only (images go after --images); got %d positional arguments"
                                     : "preprocess: missing MODEL (a folder with preprocessor_config.json, the file, or a hub id)",
                                npos);
        goto done;
    }
    if (!c.n_images && !c.n_audio) {
        rc = am_cli_usage_error("preprocess: no inputs (--images A.jpg B.png ..., or --audio A.wav B.flac ...)");
        goto done;
    }
    if (c.n_images && c.n_audio) {
        rc = am_cli_usage_error("preprocess: --images and --audio together: one kind of input per call");
        goto done;
    }
    if (!c.output) {
        rc = am_cli_usage_error("preprocess: missing --output OUT.safetensors");
        goto done;
    }
    if (c.n_audio) {
        if (c.n_maps) rc = am_cli_usage_error("preprocess: --segmentation-maps go with --images, not --audio");
        else rc = preprocess_audio(pos[0], &c);
        goto done;
    }
    if (c.n_maps && c.n_maps != c.n_images) {
        rc = am_cli_usage_error("preprocess: %zu --segmentation-maps for %zu --images: give one map per image", c.n_maps,
                                c.n_images);
        goto done;
    }
    p = am_image_processor_from_pretrained(pos[0]);
    if (!p) {
        rc = am_cli_fail(NULL);
        goto done;
    }
    if ((rc = check_kwargs(c.kwargs, am_image_processor_kwargs(p), am_image_processor_class_name(p)))) goto done;
    if (c.n_maps && strcmp(am_image_processor_class_name(p), "SegformerImageProcessor") != 0) {
        rc = am_cli_usage_error("preprocess: --segmentation-maps: %s takes no segmentation maps", am_image_processor_class_name(p));
        goto done;
    }
    imgs = calloc(c.n_images, sizeof *imgs);
    maps = c.n_maps ? calloc(c.n_maps, sizeof *maps) : NULL;
    if (!imgs || (c.n_maps && !maps)) {
        rc = am_cli_usage_error("out of memory");
        goto done;
    }
    for (size_t i = 0; i < c.n_images; i++)
        if (!(imgs[i] = am_image_load(c.images[i], AM_IMAGE_RGB))) {
            rc = am_cli_fail(NULL);
            goto done;
        }
    for (size_t i = 0; i < c.n_maps; i++)
        if (!(maps[i] = am_image_load(c.maps[i], AM_IMAGE_LABELS))) {
            rc = am_cli_fail(NULL);
            goto done;
        }
    kwj = cJSON_PrintUnformatted(c.kwargs);
    if (!kwj) {
        rc = am_cli_usage_error("out of memory");
        goto done;
    }
    if (am_image_processor_call(p, (const am_image *const *)imgs, c.n_images, (const am_image *const *)maps, kwj, &out) !=
        AM_OK) {
        rc = am_cli_fail(NULL);
        goto done;
    }
    if (am_tensors_save_safetensors(out, c.output) != AM_OK) {
        rc = am_cli_fail(c.output);
        goto done;
    }
    print_tensors(out);
    rc = 0;
done:
    if (rc == AM_CLI_HELP) rc = 0;
    for (size_t i = 0; imgs && i < c.n_images; i++) am_image_free(imgs[i]);
    for (size_t i = 0; maps && i < c.n_maps; i++) am_image_free(maps[i]);
    free(imgs);
    free(maps);
    am_tensors_free(out);
    am_image_processor_free(p);
    cJSON_free(kwj);
    cJSON_Delete(c.kwargs);
    free(c.images);
    free(c.maps);
    free(c.audio);
    for (size_t i = 0; i < n_owned; i++) free(owned[i]);
    free(owned);
    free(nargv);
    return rc;
}
