/* cli/cmd_export.c — `automodel export onnx MODEL OUT_DIR`: am_model_export_onnx, and --validate,
 * which runs the written graph through ONNX Runtime (npm onnxruntime-node, found by node through
 * NODE_PATH) on a padded batch of 2 at a sequence length of its own, next to automodel's forward on
 * the same inputs, and prints the max difference per output. */
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Optimum's task names, accepted by --task next to automodel's own */
static const char *const k_optimum_tasks[][2] = {
    {"feature-extraction", "base"},          {"text-classification", "sequence-classification"},
    {"token-classification", "token-classification"}, {"question-answering", "question-answering"},
    {"fill-mask", "masked-lm"},              {"text-generation", "causal-lm"},
    {"image-segmentation", "semantic-segmentation"}, {"automatic-speech-recognition", "ctc"},
    {"text2text-generation", "seq2seq-lm"},
};

typedef struct export_ctx {
    am_onnx_export_options eo;
    bool validate;
} export_ctx;

static const am_cli_opt k_export_opts[] = {
    {"opset", NULL, required_argument, "N", "ONNX opset, 14 to 17 (default 17)"},
    {"with-past", NULL, no_argument, NULL, "causal LMs (GPT-2, Llama, BERT, RoBERTa): Optimum's decoder_model.onnx + decoder_with_past_model.onnx with the KV cache, "
                                           "and both merged in decoder_model_merged.onnx; encoder-decoders (T5, BART, Whisper, VisionEncoderDecoder): "
                                           "decoder_with_past_model.onnx next to encoder_model.onnx + decoder_model.onnx"},
    {"external-data", NULL, required_argument, "auto|always|never", "weights in model.onnx_data: auto (over 2 GB, the default), always, never"},
    {"validate", NULL, no_argument, NULL, "run the graph through ONNX Runtime (node + npm onnxruntime-node on NODE_PATH) next to automodel's forward"},
    {0},
};
const am_cli_cmd am_cli_cmd_export = {"export", "export onnx MODEL OUT_DIR [options]",
                                      "Export MODEL to ONNX in OUT_DIR as Optimum lays it out (model.onnx, config.json, tokenizer files). "
                                      "--task also takes Optimum's names (feature-extraction, text-classification, fill-mask, ...); "
                                      "--dtype float16 exports float16 weights.",
                                      k_export_opts, true};

static int export_opt(void *vctx, const char *name, const char *v) {
    export_ctx *c = vctx;
    if (!strcmp(name, "opset")) {
        long long n;
        if (am_cli_int(name, v, 1, &n)) return 2;
        c->eo.opset = n > 1000 ? 1000 : (int)n; /* the range is the library's check */
    } else if (!strcmp(name, "with-past")) c->eo.with_past = true;
    else if (!strcmp(name, "external-data")) {
        if (!strcmp(v, "auto")) c->eo.external_data = 0;
        else if (!strcmp(v, "always")) c->eo.external_data = 1;
        else if (!strcmp(v, "never")) c->eo.external_data = -1;
        else return am_cli_usage_error("--external-data must be auto, always or never, not '%s'", v);
    } else if (!strcmp(name, "validate")) c->validate = true;
    return 0;
}

/* ---- --validate ---- */

/* The validator: `names MODEL` prints the graph's inputs; `run MODEL FILE` feeds FILE's in.<name>
 * tensors and prints "<output> <max |ort - ref|> <max |ref|>" against FILE's out.<output>. */
static const char k_validator_js[] =
    "const fs = require('fs');\n"
    "let ort;\n"
    "try { ort = require('onnxruntime-node'); } catch (e) { console.error('onnxruntime-node is not installed (npm i --ignore-scripts "
    "onnxruntime-node@1.30.0, NODE_PATH=its node_modules): ' + e.message); process.exit(3); }\n"
    "function readSt(p) {\n"
    "  const b = fs.readFileSync(p); const n = Number(b.readBigUInt64LE(0));\n"
    "  const h = JSON.parse(b.subarray(8, 8 + n).toString()); const out = {};\n"
    "  for (const [k, v] of Object.entries(h)) { if (k === '__metadata__') continue;\n"
    "    const s = b.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]); const ab = new ArrayBuffer(s.length); new Uint8Array(ab).set(s);\n"
    "    out[k] = v.dtype === 'I64' ? new ort.Tensor('int64', new BigInt64Array(ab), v.shape) : new ort.Tensor('float32', new Float32Array(ab), v.shape); }\n"
    "  return out; }\n"
    "(async () => {\n"
    "  const s = await ort.InferenceSession.create(process.argv[3]);\n"
    "  if (process.argv[2] === 'names') { console.log(s.inputNames.join('\\n')); return; }\n"
    "  const t = readSt(process.argv[4]); const feeds = {};\n"
    "  for (const n of s.inputNames) { if (!t['in.' + n]) throw new Error('no input ' + n); feeds[n] = t['in.' + n]; }\n"
    "  const r = await s.run(feeds);\n"
    "  for (const n of s.outputNames) { const ref = t['out.' + n]; if (!ref) { if (!n.startsWith('present.')) console.log(n + ' missing 0'); continue; }\n"
    "    const a = r[n].data, b = ref.data; if (a.length !== b.length) { console.log(n + ' shape ' + r[n].dims.join('x')); continue; }\n"
    "    let d = 0, m = 0; for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); }\n"
    "    console.log(n + ' ' + d + ' ' + m); }\n"
    "})().catch((e) => { console.error(e.message || e); process.exit(1); });\n";

/* 'x' quoted for sh */
static void shq(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    fputc('\'', f);
}

/* runs `node JS MODE MODEL [FILE]`, its stdout into *out (malloc'd); 0 or an exit status */
static int run_node(const char *js, const char *mode, const char *model, const char *file, char **out) {
    char *cmd = NULL;
    size_t n = 0;
    FILE *cf = open_memstream(&cmd, &n);
    if (!cf) return am_cli_usage_error("out of memory");
    fputs("node ", cf);
    shq(cf, js);
    fprintf(cf, " %s ", mode);
    shq(cf, model);
    if (file) {
        fputc(' ', cf);
        shq(cf, file);
    }
    fclose(cf);
    FILE *p = popen(cmd, "r");
    free(cmd);
    if (!p) {
        fprintf(stderr, "automodel: --validate: cannot run node: %s\n", strerror(errno));
        return 1;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, p)) > 0)
        if (mf) fwrite(chunk, 1, k, mf);
    if (mf) fclose(mf);
    int st = pclose(p);
    if (st != 0) {
        free(buf);
        fprintf(stderr, "automodel: --validate needs node and the npm package onnxruntime-node on NODE_PATH (exit status %d above)\n", st);
        return 1;
    }
    *out = buf;
    return 0;
}

static am_tensor *i64_tensor(int64_t B, int64_t T, const int64_t *v) { return am_tensor_from_data(AM_I64, 2, (int64_t[]){B, T}, v); }

/* automodel runs a half-precision model as torch does (outputs, and bf16 matmul inputs, rounded to
 * the dtype); the graph computes in float32: a few units in the last place of the dtype */
static double validate_tol(const am_model *m) {
    am_dtype dt = am_model_dtype(m);
    return dt == AM_BF16 ? 4e-2 : dt == AM_F16 ? 5e-3 : 1e-4;
}

/* the validator's "<name> <maxdiff> <maxref>" lines, printed and checked: 0 when all are within tol */
static int check_report(char *report, double tol) {
    int rc = 0;
    for (char *line = report, *save = NULL; (line = strtok_r(line, "\n", &save)); line = NULL) {
        char name[256];
        double d = 0, mref = 0;
        if (sscanf(line, "%255s %lf %lf", name, &d, &mref) != 3) {
            fprintf(stderr, "automodel: --validate: output %s\n", line);
            rc = 1;
            continue;
        }
        bool ok = d <= tol + tol * mref;
        printf("  %-20s max |diff| %.3g (max |value| %.3g)%s\n", name, d, mref, ok ? "" : "  OVER the tolerance");
        if (!ok) rc = 1;
    }
    if (rc) fprintf(stderr, "automodel: --validate: the ONNX graph differs from automodel's forward\n");
    return rc;
}

/* tensors[i] saved as a safetensors file under names[i] (borrowed) */
static int save_io(const char *path, int n, const char *const *names, am_tensor *const *tensors) {
    am_tensors *io = am_tensors_new();
    int rc = io ? 0 : am_cli_fail("--validate");
    for (int i = 0; !rc && i < n; i++)
        if (!tensors[i] || am_tensors_set(io, names[i], tensors[i]) != AM_OK) rc = am_cli_fail("--validate");
    if (!rc && am_tensors_save_safetensors(io, path) != AM_OK) rc = am_cli_fail("--validate");
    am_tensors_free(io);
    return rc;
}

/* An encoder-decoder's files (encoder_model.onnx, decoder_model.onnx): automodel's forward on
 * input_ids / attention_mask and decoder_input_ids, then ORT's encoder against its
 * encoder_last_hidden_state and ORT's decoder (on that state) against its logits. */
static int validate_s2s(am_model *m, const char *out_dir, const char *js, const char *st, int64_t B, int64_t T, const int64_t *ids, const int64_t *mask) {
    enum { TD = 4 };
    int64_t start = 0, dids[2 * TD];
    am_config_get_int(am_model_config(m), "decoder_start_token_id", &start);
    for (int64_t i = 0; i < B * TD; i++) dids[i] = i % TD ? ids[(i / TD) * T + i % TD] : start;
    am_tensors *in = am_tensors_new();
    am_tensor *ti = NULL, *tm = NULL, *td = i64_tensor(B, TD, dids);
    int64_t mel = 0, P = 0; /* Whisper: input_features [B, num_mel_bins, 2 * max_source_positions] in [-1, 1), no padding mask */
    bool speech = am_config_get_int(am_model_config(m), "num_mel_bins", &mel) == AM_OK;
    /* VisionEncoderDecoderModel: pixel_values [B, num_channels, image_size, image_size] of config.encoder, no padding mask */
    const char *mt = am_config_model_type(am_model_config(m));
    bool vision = mt && !strcmp(mt, "vision-encoder-decoder");
    if (vision) {
        char *ej = am_config_get_json(am_model_config(m), "encoder");
        am_config *ec = ej ? am_config_from_json(ej, "config.encoder") : NULL;
        int64_t C = 3, S = 0;
        if (ec) am_config_get_int(ec, "num_channels", &C);
        bool ok = ec && am_config_get_int(ec, "image_size", &S) == AM_OK && C > 0 && C <= 64 && S > 0 && S <= 4096;
        am_config_free(ec);
        free(ej);
        if (!ok) {
            am_tensors_free(in);
            am_tensor_free(td);
            return am_cli_usage_error("--validate: no test image for this config (config.encoder.image_size must be one number)");
        }
        if ((ti = am_tensor_new(AM_F32, 4, (int64_t[]){B, C, S, S}))) {
            float *f = am_tensor_data(ti);
            uint64_t x = 999;
            for (int64_t i = 0; i < B * C * S * S; i++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                f[i] = (float)((double)(x >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
            }
        }
        T = S;
    } else if (speech) {
        if (am_config_get_int(am_model_config(m), "max_source_positions", &P) != AM_OK || mel <= 0 || mel > 4096 || P <= 0 || P > 100000)
        {
            am_tensors_free(in);
            am_tensor_free(td);
            return am_cli_usage_error("--validate: no test features for this config (num_mel_bins, max_source_positions)");
        }
        if ((ti = am_tensor_new(AM_F32, 3, (int64_t[]){B, mel, 2 * P}))) {
            float *f = am_tensor_data(ti);
            uint64_t x = 777;
            for (int64_t i = 0; i < B * mel * 2 * P; i++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                f[i] = (float)((double)(x >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
            }
        }
        T = 2 * P;
    } else {
        ti = i64_tensor(B, T, ids);
        tm = i64_tensor(B, T, mask);
    }
    bool masked = !speech && !vision;
    const char *enc_in = speech ? "input_features" : vision ? "pixel_values" : "input_ids";
    char enc_key[64];
    snprintf(enc_key, sizeof enc_key, "in.%s", enc_in);
    int rc = in && ti && (!masked || tm) && td && am_tensors_set(in, enc_in, ti) == AM_OK &&
                     (!masked || am_tensors_set(in, "attention_mask", tm) == AM_OK) && am_tensors_set(in, "decoder_input_ids", td) == AM_OK
                 ? 0
                 : am_cli_fail("--validate");
    am_tensors *out = rc ? NULL : am_model_forward(m, in, NULL);
    if (!rc && !out) rc = am_cli_fail("--validate: automodel's forward");
    am_tensor *enc = out ? am_tensors_get(out, "encoder_last_hidden_state") : NULL, *logits = out ? am_tensors_get(out, "logits") : NULL;
    if (!rc && (!enc || !logits)) rc = am_cli_usage_error("--validate: automodel's forward gave no logits / encoder_last_hidden_state");
    double tol = validate_tol(m);
    if (!rc)
        printf("validation with ONNX Runtime (batch %lld%s, encoder input length %lld, decoder length %d) against automodel's forward, atol = rtol = %g:\n",
               (long long)B, masked ? ", padding" : "", (long long)T, TD, tol);
    for (int part = 0; !rc && part < 2; part++) {
        char model[4096], *report = NULL;
        snprintf(model, sizeof model, "%s/%s", out_dir, part ? "decoder_model.onnx" : "encoder_model.onnx");
        am_tensor *e32 = am_tensor_dtype(enc) != AM_F32 ? am_tensor_to(enc, AM_F32) : am_tensor_retain(enc);
        am_tensor *l32 = am_tensor_dtype(logits) != AM_F32 ? am_tensor_to(logits, AM_F32) : am_tensor_retain(logits);
        if (part == 0 && !masked) rc = save_io(st, 2, (const char *[]){enc_key, "out.last_hidden_state"}, (am_tensor *[]){ti, e32});
        else if (part == 0) rc = save_io(st, 3, (const char *[]){"in.input_ids", "in.attention_mask", "out.last_hidden_state"}, (am_tensor *[]){ti, tm, e32});
        else if (!masked) rc = save_io(st, 3, (const char *[]){"in.input_ids", "in.encoder_hidden_states", "out.logits"}, (am_tensor *[]){td, e32, l32});
        else
            rc = save_io(st, 4, (const char *[]){"in.input_ids", "in.encoder_attention_mask", "in.encoder_hidden_states", "out.logits"},
                         (am_tensor *[]){td, tm, e32, l32});
        am_tensor_free(e32);
        am_tensor_free(l32);
        if (!rc) rc = run_node(js, "run", model, st, &report);
        if (!rc) {
            printf(" %s\n", part ? "decoder_model.onnx" : "encoder_model.onnx");
            rc = check_report(report, tol);
        }
        free(report);
    }
    am_tensor_free(ti);
    am_tensor_free(tm);
    am_tensor_free(td);
    am_tensors_free(in);
    am_tensors_free(out);
    return rc;
}

static int validate(am_model *m, const char *out_dir, bool with_past) {
    char tdir[] = "/tmp/am_onnx_validate_XXXXXX";
    if (!mkdtemp(tdir)) return am_cli_usage_error("--validate: cannot create a temporary folder: %s", strerror(errno));
    char js[sizeof tdir + 32], st[sizeof tdir + 32], model[4096];
    snprintf(js, sizeof js, "%s/validate.cjs", tdir);
    snprintf(st, sizeof st, "%s/io.safetensors", tdir);
    /* with past: the decoder without the cache (its logits are the forward's; present.* have no
     * counterpart there, and the with-past graph is driven step by step in tests/onnx/ort_generate.cjs) */
    snprintf(model, sizeof model, "%s/%s", out_dir, with_past ? "decoder_model.onnx" : "model.onnx");
    int rc = 0;
    FILE *f = fopen(js, "w");
    if (!f || fputs(k_validator_js, f) == EOF) rc = am_cli_usage_error("--validate: cannot write %s", js);
    if (f) fclose(f);
    char *names = NULL, *report = NULL;
    char enc_file[4096];
    snprintf(enc_file, sizeof enc_file, "%s/encoder_model.onnx", out_dir);
    bool s2s = access(enc_file, F_OK) == 0; /* an encoder-decoder in Optimum's layout */
    if (!rc && !s2s) rc = run_node(js, "names", model, NULL, &names);
    /* a padded batch of 2 at 5 tokens: row 1 full, row 2 with two padded positions */
    enum { B = 2, T = 5 };
    const am_config *c = am_model_config(m);
    int64_t V = 2, pad = 0, ids[B * T], mask[B * T], types[B * T], pos[B * T];
    am_config_get_int(c, "vocab_size", &V);
    if (am_config_get_int(c, "pad_token_id", &pad) != AM_OK) pad = -1;
    uint64_t x = 12345;
    for (int i = 0; i < B * T; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int64_t id = (int64_t)((x >> 33) % (uint64_t)(V > 4 ? V - 3 : 1)) + 3; /* clear of the usual special ids */
        bool padded = i / T == 1 && i % T >= T - 2;
        ids[i] = padded && pad >= 0 ? pad : id;
        mask[i] = !padded;
        types[i] = i % T >= 2 && !padded;
        pos[i] = i % T; /* right padding: what a forward without position_ids uses */
    }
    int64_t eos = -1;
    bool ed = false;
    if (am_config_get_bool(c, "is_encoder_decoder", &ed) == AM_OK && ed && am_config_get_int(c, "eos_token_id", &eos) == AM_OK && eos >= 0)
        for (int b = 0; b < B; b++) ids[b * T + (b == 1 ? T - 3 : T - 1)] = eos; /* T5 / BART inputs end with </s> (their classifiers read it) */
    if (!rc && s2s) rc = validate_s2s(m, out_dir, js, st, B, T, ids, mask);
    /* audio (input_values): a batch of 2 x NS samples, row 2 zero-padded over its last quarter;
     * images: the config's image_size, except where the graph resizes its positions to the image
     * (every model but ViT's plain encoder): 5/4 of its height and 3/4 of its width */
    enum { NS = 3000 };
    bool audio = names && strstr(names, "input_values") != NULL, image = names && strstr(names, "pixel_values") != NULL;
    int64_t amask[B * NS];
    for (int i = 0; i < B * NS; i++) amask[i] = !(i / NS == 1 && i % NS >= NS - NS / 4);
    am_tensors *in = rc || s2s ? NULL : am_tensors_new();
    for (char *line = names, *save = NULL; in && (line = strtok_r(line, "\n", &save)); line = NULL) {
        am_tensor *t = !strcmp(line, "input_ids") ? i64_tensor(B, T, ids) : !strcmp(line, "attention_mask") ? (audio ? i64_tensor(B, NS, amask) : i64_tensor(B, T, mask))
                     : !strcmp(line, "token_type_ids") ? i64_tensor(B, T, types) : !strcmp(line, "position_ids") ? i64_tensor(B, T, pos)
                     : !strcmp(line, "decoder_input_ids") ? i64_tensor(B, T, ids) /* an encoder-decoder's base model */
                                                          : NULL;
        if (!t && !strcmp(line, "pixel_values")) { /* [B, num_channels, height, width] in [-1, 1) */
            int64_t C = 3, S = 224, h, w;
            long long lh = 0, lw = 0;
            char *isz = am_config_get_json(c, "image_size");
            am_config_get_int(c, "num_channels", &C);
            if (am_config_get_int(c, "image_size", &S) == AM_OK) h = w = S;
            else if (isz && sscanf(isz, " [ %lld , %lld ]", &lh, &lw) == 2) h = lh, w = lw;
            else h = w = 0;
            am_free(isz);
            if (strcmp(am_config_model_type(c), "vit") != 0) h = h * 5 / 4, w = w * 3 / 4;
            if (C <= 0 || C > 64 || h <= 0 || h > 4096 || w <= 0 || w > 4096) {
                rc = am_cli_usage_error("--validate: no test image for this config (image_size must be a number or [height, width])");
                break;
            }
            int64_t shape[4] = {B, C, h, w};
            if ((t = am_tensor_new(AM_F32, 4, shape))) {
                float *px = am_tensor_data(t);
                for (int64_t i = 0; i < B * C * h * w; i++) {
                    x = x * 6364136223846793005ull + 1442695040888963407ull;
                    px[i] = (float)((double)(x >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
                }
            }
            if (t) printf("validation image: %lldx%lld\n", (long long)h, (long long)w);
        }
        if (!t && !strcmp(line, "input_values")) { /* [B, NS] in [-1, 1), zero where padded */
            if ((t = am_tensor_new(AM_F32, 2, (int64_t[]){B, NS}))) {
                float *v = am_tensor_data(t);
                for (int64_t i = 0; i < B * NS; i++) {
                    x = x * 6364136223846793005ull + 1442695040888963407ull;
                    v[i] = amask[i] ? (float)((double)(x >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f : 0.0f;
                }
                printf("validation audio: %d samples, row 2 zero-padded over its last %d\n", NS, NS / 4);
            }
        }
        if (!t) {
            rc = am_cli_usage_error("--validate: no test values for the graph input '%s'", line);
            break;
        }
        am_tensors_set(in, line, t);
        am_tensor_free(t);
    }
    am_tensors *out = !rc && in ? am_model_forward(m, in, NULL) : NULL;
    if (!rc && in && !out) rc = am_cli_fail("--validate: automodel's forward");
    am_tensors *io = out ? am_tensors_new() : NULL;
    for (size_t i = 0; io && i < am_tensors_count(in) + am_tensors_count(out); i++) {
        bool isin = i < am_tensors_count(in);
        size_t j = isin ? i : i - am_tensors_count(in);
        char key[256];
        snprintf(key, sizeof key, "%s.%s", isin ? "in" : "out", am_tensors_name(isin ? in : out, j));
        am_tensor *t = am_tensors_at(isin ? in : out, j);
        am_tensor *t32 = !isin && am_tensor_dtype(t) != AM_F32 ? am_tensor_to(t, AM_F32) : am_tensor_retain(t);
        if (t32) am_tensors_set(io, key, t32);
        am_tensor_free(t32);
    }
    if (io && am_tensors_save_safetensors(io, st) != AM_OK) rc = am_cli_fail("--validate");
    if (!rc && io) rc = run_node(js, "run", model, st, &report);
    if (!rc && !s2s) {
        if (image || audio) printf("validation with ONNX Runtime (batch %d) against automodel's forward, atol = rtol = %g:\n", B, validate_tol(m));
        else
            printf("validation with ONNX Runtime (batch %d; text: padding, sequence length %d) against automodel's forward, atol = rtol = %g:\n",
                   B, T, validate_tol(m));
        rc = check_report(report, validate_tol(m));
    }
    am_tensors_free(in);
    am_tensors_free(out);
    am_tensors_free(io);
    free(names);
    free(report);
    unlink(js);
    unlink(st);
    rmdir(tdir);
    return rc;
}

int am_cli_export(int argc, char **argv) {
    export_ctx c;
    memset(&c, 0, sizeof c);
    c.eo = am_onnx_export_options_default();
    /* --task in Optimum's words -> automodel's, before the shared parser reads it */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--task"))
            for (size_t k = 0; k < sizeof k_optimum_tasks / sizeof k_optimum_tasks[0]; k++)
                if (!strcmp(argv[i + 1], k_optimum_tasks[k][0])) argv[i + 1] = (char *)k_optimum_tasks[k][1];
    am_cli_load l;
    am_cli_load_init(&l);
    char **pos;
    int npos, rc = am_cli_parse(&am_cli_cmd_export, argc, argv, &l, export_opt, &c, &pos, &npos);
    if (!rc && (npos < 1 || strcmp(pos[0], "onnx")))
        rc = am_cli_usage_error("export: the first argument is the format, onnx: export onnx MODEL OUT_DIR");
    if (!rc && npos != 3)
        rc = npos > 3 ? am_cli_usage_error("export: unexpected argument '%s'", pos[3]) : am_cli_usage_error("export onnx: needs MODEL and OUT_DIR");
    am_model *m = rc ? NULL : am_cli_load_model(&l, pos[1], &rc);
    if (m) {
        c.eo.source_dir = pos[1];
        if (am_model_export_onnx(m, pos[2], &c.eo) != AM_OK) rc = am_cli_fail(NULL);
        else
            printf("exported %s to %s (opset %d)\n", am_model_class_name(m), pos[2], c.eo.opset);
        if (!rc && c.validate) rc = validate(m, pos[2], c.eo.with_past);
    }
    am_model_free(m);
    am_cli_load_free(&l);
    return rc == AM_CLI_HELP ? 0 : rc;
}
