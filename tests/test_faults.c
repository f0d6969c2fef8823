/* tests/test_faults.c — the allocation-failure sweep, in the SQLite style (AM_FAULT_INJECT builds:
 * the ASan build). For each operation — from_pretrained (safetensors and .bin), forward, generate
 * (GPT-2 greedy and beam; Llama, T5 and BART greedy), a classification pipeline, the image-classification and
 * object-detection pipelines (decode, processor, model, post-processing), tokenizer load (tokenizer.json and legacy
 * vocab files), encode and decode, save_pretrained (safetensors and .bin, sharded), export onnx (GPT-2
 * with past: no folder left by a failure), and hub
 * downloads from a local server — the N-th allocation made by automodel's own code fails, for
 * N = 1, 2, ... until the operation makes fewer than N allocations. Every injected failure must
 * give AM_ERR_NO_MEMORY and a non-empty message, or a success with the same result as without the
 * failure; ASan/LSan see every path for crashes and leaks. N runs over every value up to
 * AM_FAULT_FULL (default 300), then AM_FAULT_SAMPLES (default 120) values evenly spread over the
 * rest of the operation's allocations, which keeps the sweep to a couple of minutes. The hub server
 * runs in a forked child, so only the client's allocations are counted. */
#include "harness.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/util.h"
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_work[64];
static int g_total_injected, g_total_recovered, g_total_runs;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}
static void rm_rf(const char *p) { nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static bool same_tensor(const am_tensor *a, const am_tensor *b) {
    return a && b && am_tensor_dtype(a) == am_tensor_dtype(b) && am_tensor_nbytes(a) == am_tensor_nbytes(b) &&
           !memcmp(am_tensor_cdata(a), am_tensor_cdata(b), am_tensor_nbytes(a));
}

/* An operation returns AM_OK with a verified result, or the failure's status. */
typedef am_status (*op_fn)(void *ctx);
/* NULL from a constructor: the status am__error recorded (AM_ERR_INTERNAL when none was). */
static am_status null_status(void) { return am__error_code() != AM_OK ? am__error_code() : AM_ERR_INTERNAL; }

static void sweep(const char *name, op_fn fn, void *ctx) {
    /* debugging: AM_FAULT_OP=substring runs only matching operations, AM_FAULT_N=n only that N
     * (with AM_FAULT_TRACE=1 the library prints the stack of the failed allocation) */
    if (getenv("AM_FAULT_OP") && !strstr(name, getenv("AM_FAULT_OP"))) return;
    uint64_t only = getenv("AM_FAULT_N") ? strtoull(getenv("AM_FAULT_N"), NULL, 10) : 0;
    uint64_t full = getenv("AM_FAULT_FULL") ? strtoull(getenv("AM_FAULT_FULL"), NULL, 10) : 300;
    uint64_t samples = getenv("AM_FAULT_SAMPLES") ? strtoull(getenv("AM_FAULT_SAMPLES"), NULL, 10) : 120;
    am__fault_arm(UINT64_MAX); /* count only */
    am_status st = fn(ctx);
    uint64_t total = am__fault_count();
    am__fault_arm(0);
    CHECKF(st == AM_OK, "%s: the operation fails without injection: %s", name, am_last_error());
    if (st) return;
    uint64_t stride = total > full ? (total - full + samples - 1) / samples : 1;
    int injected = 0, recovered = 0, bad_code = 0, runs = 0;
    for (uint64_t n = only ? only : 1;; n += n < full ? 1 : stride) {
        if (n > total + 1) n = total + 1; /* always end with the run that no longer fails */
        if (only && n != only) break;
        am__error_clear();
        am__fault_arm(n);
        st = fn(ctx);
        bool fired = am__fault_fired();
        am__fault_arm(0);
        runs++;
        if (!fired) {
            CHECKF(st == AM_OK, "%s: N=%llu: failed without an injected failure: %s", name, (unsigned long long)n,
                   am_last_error());
            if (n > total) break;
            continue;
        }
        injected++;
        if (st == AM_OK) {
            recovered++;
            if (only) break;
            continue;
        }
        CHECKF(am_last_error()[0] != 0, "%s: N=%llu: %s without a message", name, (unsigned long long)n, am_status_name(st));
        if (st != AM_ERR_NO_MEMORY && bad_code++ < 5)
            CHECKF(st == AM_ERR_NO_MEMORY, "%s: N=%llu: an allocation failure reported as %s: %s", name, (unsigned long long)n,
                   am_status_name(st), am_last_error());
        if (only) break;
    }
    printf("%-22s %6llu allocations, %4d runs, %4d injected failures (%d survived with the same result)\n", name,
           (unsigned long long)total, runs, injected, recovered);
    fflush(stdout);
    g_total_injected += injected;
    g_total_recovered += recovered;
    g_total_runs += runs;
}

/* ---- operations ---------------------------------------------------------------------------- */

/* An image pipeline call: two image files with keyword arguments, verified against the first run. */
typedef struct img_pipe_ctx {
    am_pipeline *p;
    const char *paths[2];
    const char *kwargs;
    char *want;
} img_pipe_ctx;

static am_status op_load(void *ctx) {
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, (const char *)ctx, NULL);
    if (!m) return null_status();
    am_model_free(m);
    return AM_OK;
}

typedef struct fwd_ctx {
    am_model *m;
    am_tensors *in, *want;
    const char *out_name;
    am_generate_options gen;
    bool generate;
} fwd_ctx;

static am_status op_forward(void *ctx) {
    fwd_ctx *c = ctx;
    am_tensors *out = c->generate ? am_model_generate(c->m, c->in, &c->gen) : am_model_forward(c->m, c->in, NULL);
    if (!out) return null_status();
    am_status st = AM_OK;
    if (c->want && !same_tensor(am_tensors_get(out, c->out_name), am_tensors_get(c->want, c->out_name)))
        st = am__error(AM_ERR_INTERNAL, "%s differs from the run without failures", c->out_name);
    if (!c->want) c->want = out;
    else am_tensors_free(out);
    return st;
}

typedef struct tok_ctx {
    const char *path;
    char *want; /* what the tokenizer loaded without failures says about itself */
} tok_ctx;

/* A loaded tokenizer's observable state: sizes, special tokens, config values and one encoding. */
static char *tok_fingerprint(const am_tokenizer *t) {
    char buf[4096];
    int o = snprintf(buf, sizeof buf, "%zu %lld %s %s %s |", am_tokenizer_vocab_size(t), (long long)am_tokenizer_model_max_length(t),
                     am_tokenizer_pad_token(t) ? am_tokenizer_pad_token(t) : "-", am_tokenizer_bos_token(t) ? am_tokenizer_bos_token(t) : "-",
                     am_tokenizer_eos_token(t) ? am_tokenizer_eos_token(t) : "-");
    am_encoding *e = am_tokenizer_encode(t, "Hello, y'all! How are you 😁 ?", "a pair", NULL);
    for (size_t i = 0; e && i < am_encoding_len(e) && o < 4000; i++)
        o += snprintf(buf + o, sizeof buf - (size_t)o, " %d:%d", am_encoding_ids(e)[i], am_encoding_type_ids(e)[i]);
    am_encoding_free(e);
    return e ? strdup(buf) : NULL;
}

static am_status op_tok_load(void *ctx) {
    tok_ctx *c = ctx;
    am_tokenizer *t = am_tokenizer_from_pretrained(c->path);
    if (!t) return null_status();
    am__fault_hold(true); /* the fingerprint is not part of the operation */
    char *fp = tok_fingerprint(t);
    am_tokenizer_free(t);
    am__fault_hold(false);
    am_status st = AM_OK;
    if (!fp) st = am__error(AM_ERR_INTERNAL, "the loaded tokenizer cannot encode");
    else if (c->want && strcmp(fp, c->want)) st = am__error(AM_ERR_INTERNAL, "the tokenizer differs from the one loaded without failures: %s vs %s", fp, c->want);
    if (!c->want && !st) c->want = fp;
    else free(fp);
    return st;
}

typedef struct enc_ctx {
    const am_tokenizer *tok;
    const char *pad_token;
    char *want; /* the run without failures: ids, then the decoded text */
} enc_ctx;

static am_status op_encode(void *ctx) {
    enc_ctx *c = ctx;
    const char *texts[2] = {"Hello, y'all! How are you 😁 ?", "The quick brown fox jumps over the lazy dog."};
    const char *pairs[2] = {"A second sequence, longer than the first one by a few words.", "short"};
    am_encode_options o = am_encode_options_default();
    o.padding = AM_PADDING_LONGEST;
    o.truncation = AM_TRUNCATION_LONGEST_FIRST;
    o.max_length = 24;
    o.pad_token = c->pad_token;
    am_tensors *ts = am_tokenizer_encode_tensors(c->tok, 2, texts, pairs, &o);
    if (!ts) return null_status();
    am_tensor *ids = am_tensors_get(ts, "input_ids");
    int32_t ids32[64];
    size_t n = (size_t)am_tensor_dim(ids, 1);
    for (size_t i = 0; i < n && i < 64; i++) ids32[i] = (int32_t)((const int64_t *)am_tensor_cdata(ids))[i];
    am_decode_options d = am_decode_options_default();
    d.skip_special_tokens = true;
    char *text = am_tokenizer_decode(c->tok, ids32, n < 64 ? n : 64, &d);
    am_status st = AM_OK;
    if (!text) st = null_status();
    char *got = NULL;
    if (!st) {
        size_t len = strlen(text) + 32 * n;
        got = malloc(len);
        size_t off = 0;
        for (size_t i = 0; i < (size_t)am_tensor_numel(ids); i++)
            off += (size_t)snprintf(got + off, len - off, "%lld ", (long long)((const int64_t *)am_tensor_cdata(ids))[i]);
        snprintf(got + off, len - off, "| %s", text);
        if (c->want && strcmp(got, c->want)) st = am__error(AM_ERR_INTERNAL, "encode/decode differ: %s vs %s", got, c->want);
    }
    am_free(text);
    am_tensors_free(ts);
    if (!c->want && !st) c->want = got;
    else free(got);
    return st;
}

static am_status op_image_pipeline(void *ctx) {
    img_pipe_ctx *c = ctx;
    am_pipeline_result *r[2] = {NULL, NULL};
    am_status st = am_pipeline_call(c->p, 2, c->paths, c->kwargs, r);
    if (st) return st;
    am__fault_hold(true);
    char *got = am_pipeline_results_json((const am_pipeline_result *const *)r, 2);
    am__fault_hold(false);
    am_pipeline_result_free(r[0]);
    am_pipeline_result_free(r[1]);
    if (!got) return am__error(AM_ERR_INTERNAL, "the results cannot be written");
    if (c->want && strcmp(got, c->want)) st = am__error(AM_ERR_INTERNAL, "image pipeline results differ: %s vs %s", got, c->want);
    if (!c->want && !st) c->want = got;
    else free(got);
    return st;
}

typedef struct pipe_ctx {
    am_pipeline *p;
    char *want; /* the results' JSON without failures */
} pipe_ctx;

static am_status op_pipeline(void *ctx) {
    pipe_ctx *c = ctx;
    const char *texts[2] = {"WINNER!! You have been selected to receive a £900 prize reward! Call now.", "Ok lor, I'm at home now."};
    am_pipeline_result *r[2] = {NULL, NULL};
    am_status st = am_pipeline_run(c->p, 2, texts, NULL, r);
    if (st) return st;
    am__fault_hold(true); /* the comparison is not part of the operation */
    char *a = am_pipeline_result_json(r[0]), *b = am_pipeline_result_json(r[1]);
    char *got = a && b ? am__strfmt("%s %s", a, b) : NULL;
    am__fault_hold(false);
    am_free(a), am_free(b);
    am_pipeline_result_free(r[0]);
    am_pipeline_result_free(r[1]);
    if (!got) return am__error(AM_ERR_INTERNAL, "the results cannot be written");
    if (c->want && strcmp(got, c->want)) st = am__error(AM_ERR_INTERNAL, "pipeline results differ: %s vs %s", got, c->want);
    if (!c->want && !st) c->want = got;
    else free(got);
    return st;
}

typedef struct save_ctx {
    const am_model *m;
    am_save_format format;
    char dir[128];
    uint64_t want; /* hash of the folder saved without failures */
} save_ctx;

/* FNV-1a over the names and contents of a folder's files, in name order */
static uint64_t hash_folder(const char *dir) {
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, NULL, alphasort);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, ents[i]->d_name);
        size_t len = 0;
        char *data = ents[i]->d_name[0] == '.' ? NULL : am_test_read_file(p, &len);
        for (const char *c = ents[i]->d_name; data && *c; c++) h = (h ^ (uint8_t)*c) * 1099511628211ull;
        for (size_t k = 0; data && k < len; k++) h = (h ^ (uint8_t)data[k]) * 1099511628211ull;
        free(data);
        free(ents[i]);
    }
    free(ents);
    return h;
}

static am_status op_save(void *ctx) {
    save_ctx *c = ctx;
    rm_rf(c->dir);
    am_save_options o = am_save_options_default();
    o.format = c->format;
    o.max_shard_size = "20KB"; /* sharded: the index path too */
    am_status st = am_model_save_pretrained(c->m, c->dir, &o);
    if (st) return st;
    uint64_t h = hash_folder(c->dir);
    if (!c->want) c->want = h;
    else if (h != c->want) return am__error(AM_ERR_INTERNAL, "the saved files differ from the run without failures");
    return AM_OK;
}

/* export onnx (GPT-2 --with-past: the decoder pair and the merged If graph): a failure must leave
 * neither the folder nor its temporary sibling; a success, the same files as without failures */
typedef struct export_ctx {
    const am_model *m;
    char dir[128];
    uint64_t want;
} export_ctx;

static am_status op_export(void *ctx) {
    export_ctx *c = ctx;
    rm_rf(c->dir);
    am_onnx_export_options o = am_onnx_export_options_default();
    o.with_past = true;
    am_status st = am_model_export_onnx(c->m, c->dir, &o);
    char tmp[192];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", c->dir, (long)getpid());
    struct stat sb;
    if (st) {
        if (stat(c->dir, &sb) == 0 || stat(tmp, &sb) == 0) {
            return am__error(AM_ERR_INTERNAL, "export onnx failed (%s) but left %s behind", am_status_name(st),
                             stat(c->dir, &sb) == 0 ? c->dir : tmp);
        }
        return st;
    }
    uint64_t h = hash_folder(c->dir);
    if (!c->want) c->want = h;
    else if (h != c->want) return am__error(AM_ERR_INTERNAL, "the exported files differ from the run without failures");
    return AM_OK;
}

typedef struct hub_ctx {
    char home[128];
    bool model;
} hub_ctx;

/* image input + an image processor: decode a PNG and a JPEG, YOLOS (resize, normalise, pad, mask) */
typedef struct vis_ctx {
    char dir[4096], png[4096], jpg[4096];
    am_tensors *want;
} vis_ctx;

static am_status op_vision(void *ctx) {
    vis_ctx *c = ctx;
    am_image_processor *p = am_image_processor_from_pretrained(c->dir);
    if (!p) return null_status();
    am_image *a = am_image_load(c->png, AM_IMAGE_RGB);
    am_image *b = a ? am_image_load(c->jpg, AM_IMAGE_RGB) : NULL;
    am_status st = b ? AM_OK : null_status();
    am_tensors *out = NULL;
    if (!st) {
        const am_image *imgs[2] = {a, b};
        st = am_image_processor_call(p, imgs, 2, NULL, "{\"resample\": 3}", &out);
    }
    if (!st && c->want &&
        (!same_tensor(am_tensors_get(out, "pixel_values"), am_tensors_get(c->want, "pixel_values")) ||
         !same_tensor(am_tensors_get(out, "pixel_mask"), am_tensors_get(c->want, "pixel_mask"))))
        st = am__error(AM_ERR_INTERNAL, "pixel_values differ from the run without failures");
    if (!st && !c->want) c->want = out;
    else am_tensors_free(out);
    am_image_free(a);
    am_image_free(b);
    am_image_processor_free(p);
    return st;
}

static am_status op_hub(void *ctx) {
    hub_ctx *c = ctx;
    rm_rf(c->home);
    if (c->model) return op_load("alice/tiny");
    char *snap = NULL;
    am_download_options o = am_download_options_default();
    am_status st = am_hub_download("alice/tiny", &o, &snap);
    am_free(snap);
    return st;
}

/* The hub server in a child process: its allocations are not the client's. */
static pid_t start_server(const char *root, const char *tokens, int *port) {
    int fds[2];
    if (pipe(fds)) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        close(fds[0]);
        am_hub_server_options so = am_hub_server_options_default();
        so.root = root;
        so.tokens_file = tokens;
        so.threads = 2;
        am_hub_server *s = am_hub_server_start(&so);
        int p = s ? am_hub_server_port(s) : -1;
        if (write(fds[1], &p, sizeof p) != sizeof p) _exit(1);
        for (;;) pause();
    }
    close(fds[1]);
    if (read(fds[0], port, sizeof *port) != sizeof *port) *port = -1;
    close(fds[0]);
    return pid;
}

int am_test_main(int argc, char **argv) {
    (void)argc, (void)argv;
    snprintf(g_work, sizeof g_work, "/tmp/am_faults_XXXXXX");
    if (!mkdtemp(g_work)) return 1;
    char bert[4096], gpt2[4096], legacy_bin[4096];
    snprintf(bert, sizeof bert, "%s", am_test_fixture("models/bert_seqcls"));
    snprintf(gpt2, sizeof gpt2, "%s", am_test_fixture("models/gpt2_lm"));
    snprintf(legacy_bin, sizeof legacy_bin, "%s", am_test_fixture("models/load_legacy_bin"));

    /* hub: a server with one repo, before anything starts threads */
    char root[128], tokens[128];
    snprintf(root, sizeof root, "%s/root", g_work);
    snprintf(tokens, sizeof tokens, "%s/tokens", g_work);
    mkdir(root, 0755);
    FILE *f = fopen(tokens, "w");
    fprintf(f, "hf_alice_token_0123456789 alice write\n");
    fclose(f);
    chmod(tokens, 0600);
    int port = -1;
    pid_t server = start_server(root, tokens, &port);
    CHECKF(server > 0 && port > 0, "hub server did not start");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    setenv("HF_ENDPOINT", url, 1);
    setenv("HF_TOKEN", "hf_alice_token_0123456789", 1);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("TRANSFORMERS_CACHE");
    hub_ctx hub = {.model = false};
    snprintf(hub.home, sizeof hub.home, "%s/home", g_work);
    setenv("HF_HOME", hub.home, 1);
    am_model *m = am_model_from_pretrained(AM_TASK_AUTO, bert, NULL);
    CHECKF(m != NULL, "bert_seqcls: %s", am_last_error());
    if (!m) return 1;
    CHECK_OK(am_model_push_to_hub(m, "alice/tiny", NULL));

    sweep("from_pretrained st", op_load, bert);
    sweep("from_pretrained bin", op_load, legacy_bin);

    int64_t shape[2] = {2, 5}, ids[10] = {2, 7, 9, 11, 3, 4, 8, 15, 21, 0}, mask[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    fwd_ctx fc = {.m = m, .in = am_tensors_new(), .out_name = "logits"};
    am_tensor *t = am_tensor_from_data(AM_I64, 2, shape, ids), *a = am_tensor_from_data(AM_I64, 2, shape, mask);
    am_tensors_set(fc.in, "input_ids", t);
    am_tensors_set(fc.in, "attention_mask", a);
    am_tensor_free(t);
    am_tensor_free(a);
    sweep("forward", op_forward, &fc);
    am_tensors_free(fc.want);

    save_ctx sc = {.m = m, .format = AM_SAVE_SAFETENSORS};
    snprintf(sc.dir, sizeof sc.dir, "%s/saved", g_work);
    sweep("save_pretrained st", op_save, &sc);
    sc.format = AM_SAVE_BIN;
    sc.want = 0;
    sweep("save_pretrained bin", op_save, &sc);
    am_model_free(m);

    am_model *g = am_model_from_pretrained(AM_TASK_AUTO, gpt2, NULL);
    CHECKF(g != NULL, "gpt2_lm: %s", am_last_error());
    if (g) {
        fwd_ctx gc = {.m = g, .in = fc.in, .out_name = "sequences", .generate = true};
        gc.gen = am_generate_options_default();
        gc.gen.max_new_tokens = 4;
        sweep("generate greedy", op_forward, &gc);
        am_tensors_free(gc.want);
        gc.want = NULL;
        gc.gen.num_beams = 3;
        gc.gen.num_return_sequences = 2;
        gc.gen.output_scores = true;
        sweep("generate beam", op_forward, &gc);
        am_tensors_free(gc.want);
        export_ctx xc = {.m = g};
        snprintf(xc.dir, sizeof xc.dir, "%s/onnx", g_work);
        sweep("export onnx", op_export, &xc);
        rm_rf(xc.dir);
        am_model_free(g);
    }
    /* the other decoders: Llama (RoPE, GQA) and the encoder-decoders (T5 relative bias, BART) */
    static const char *const gens[3][2] = {{"generate llama", "models/llama_lm"}, {"generate t5", "models/t5_cg"}, {"generate bart", "models/bart_cg"}};
    for (int i = 0; i < 3; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", am_test_fixture(gens[i][1]));
        am_model *gm = am_model_from_pretrained(AM_TASK_AUTO, dir, NULL);
        CHECKF(gm != NULL, "%s: %s", gens[i][1], am_last_error());
        if (!gm) continue;
        fwd_ctx gc = {.m = gm, .in = fc.in, .out_name = "sequences", .generate = true};
        gc.gen = am_generate_options_default();
        gc.gen.max_new_tokens = 3;
        sweep(gens[i][0], op_forward, &gc);
        am_tensors_free(gc.want);
        am_model_free(gm);
    }
    am_tensors_free(fc.in);

    /* vision: YOLOS at a non-native size (both position tables resized bicubically), SegFormer
     * (oneDNN convolutions, the decode head), the composite VisionEncoderDecoder config, and its
     * generation from pixel_values */
    static const char *const vis[3][4] = {{"forward yolos", "pipelines_media/object_detection_yolos_random_embeddings", "model.in.pixel_values", "pred_boxes"},
                                          {"forward segformer", "models/segformer_seg", "in.pixel_values", "logits"},
                                          {"generate vision2seq", "models/vision_encoder_decoder", "gen.pixel_values", "sequences"}};
    for (int i = 0; i < 3; i++) {
        char dir[4096], ep[4200];
        snprintf(dir, sizeof dir, "%s", am_test_fixture(vis[i][1]));
        snprintf(ep, sizeof ep, "%s/expected.safetensors", dir);
        if (i == 2) sweep("from_pretrained vision2seq", op_load, dir);
        am_model *vm = am_model_from_pretrained(AM_TASK_AUTO, dir, NULL);
        am_tensors *exp = am_tensors_load_safetensors(ep);
        CHECKF(vm && exp, "%s: %s", vis[i][1], am_last_error());
        if (vm && exp) {
            fwd_ctx vc = {.m = vm, .in = am_tensors_new(), .out_name = vis[i][3], .generate = i == 2};
            am_tensors_set(vc.in, "pixel_values", am_tensors_get(exp, vis[i][2]));
            vc.gen = am_generate_options_default();
            vc.gen.max_new_tokens = 3;
            sweep(vis[i][0], op_forward, &vc);
            am_tensors_free(vc.want);
            am_tensors_free(vc.in);
        }
        am_tensors_free(exp);
        am_model_free(vm);
    }

    /* audio: Wav2Vec2 sequence classification on a padded batch (conv feature encoder, group norm,
     * frame mask, weight-normed positional conv, masked mean pooling) */
    {
        char dir[4096], ep[4200];
        snprintf(dir, sizeof dir, "%s", am_test_fixture("models/wav2vec2_audiocls"));
        snprintf(ep, sizeof ep, "%s/expected.safetensors", dir);
        am_model *am = am_model_from_pretrained(AM_TASK_AUTO, dir, NULL);
        am_tensors *exp = am_tensors_load_safetensors(ep);
        CHECKF(am && exp, "wav2vec2_audiocls: %s", am_last_error());
        if (am && exp) {
            fwd_ctx ac = {.m = am, .in = am_tensors_new(), .out_name = "logits"};
            am_tensors_set(ac.in, "input_values", am_tensors_get(exp, "in.input_values"));
            am_tensors_set(ac.in, "attention_mask", am_tensors_get(exp, "in.attention_mask"));
            sweep("forward wav2vec2", op_forward, &ac);
            am_tensors_free(ac.want);
            am_tensors_free(ac.in);
        }
        am_tensors_free(exp);
        am_model_free(am);
    }

    /* Whisper: the Conv1d front end on input_features and generation with its forced / suppressed ids */
    {
        char dir[4096], ep[4200];
        snprintf(dir, sizeof dir, "%s", am_test_fixture("models/whisper_cg"));
        snprintf(ep, sizeof ep, "%s/expected.safetensors", dir);
        am_model *wm = am_model_from_pretrained(AM_TASK_AUTO, dir, NULL);
        am_tensors *exp = am_tensors_load_safetensors(ep);
        CHECKF(wm && exp, "whisper_cg: %s", am_last_error());
        if (wm && exp) {
            fwd_ctx wc = {.m = wm, .in = am_tensors_new(), .out_name = "sequences", .generate = true};
            am_tensors_set(wc.in, "input_features", am_tensors_get(exp, "gen.input_features"));
            wc.gen = am_generate_options_default();
            wc.gen.max_new_tokens = 4;
            sweep("generate whisper", op_forward, &wc);
            am_tensors_free(wc.want);
            am_tensors_free(wc.in);
        }
        am_tensors_free(exp);
        am_model_free(wm);
    }

    static const char *const toks[4][2] = {{"tokenizer bert", "tokenizers/bert-base-uncased"}, {"tokenizer gpt2", "tokenizers/gpt2"},
                                           {"tokenizer vocab.txt", "tokenizers/legacy/bert-base-uncased"},
                                           {"tokenizer vocab+merges", "tokenizers/legacy/gpt2"}};
    char tk[4][4096];
    for (int i = 0; i < 4; i++) {
        snprintf(tk[i], sizeof tk[i], "%s", am_test_fixture(toks[i][1]));
        tok_ctx tc = {.path = tk[i]};
        sweep(toks[i][0], op_tok_load, &tc);
        free(tc.want);
    }
    am_tokenizer *tok = am_tokenizer_from_pretrained(tk[0]), *tok2 = am_tokenizer_from_pretrained(tk[1]);
    CHECK(tok && tok2);
    if (tok && tok2) {
        enc_ctx ec = {.tok = tok};
        sweep("encode/decode bert", op_encode, &ec);
        free(ec.want);
        enc_ctx ec2 = {.tok = tok2, .pad_token = "<|endoftext|>"};
        sweep("encode/decode gpt2", op_encode, &ec2);
        free(ec2.want);
    }
    am_tokenizer_free(tok);
    am_tokenizer_free(tok2);

    /* a text-classification pipeline (the sms-spam-bert demo model): batching, padding, scores */
    char demo[4096];
    snprintf(demo, sizeof demo, "%s/../../models/sms-spam-bert", am_test_fixture(""));
    am_pipeline *pl = am_pipeline_new(AM_TASK_SEQUENCE_CLASSIFICATION, demo, NULL);
    CHECKF(pl != NULL, "pipeline: %s", am_last_error());
    if (pl) {
        pipe_ctx pc = {.p = pl};
        sweep("pipeline classify", op_pipeline, &pc);
        free(pc.want);
        am_pipeline_free(pl);
    }

    /* the image pipelines: a batched classification, a detection (YOLOS, interpolated positions) */
    {
        static const struct {
            const char *name, *dir;
            am_task task;
            const char *kwargs;
        } ips[] = {{"pipeline image-cls", "pipelines_media/image_classification_vit", AM_TASK_IMAGE_CLASSIFICATION, "{\"top_k\": 2}"},
                   {"pipeline object-det", "pipelines_media/object_detection_yolos_random_embeddings", AM_TASK_OBJECT_DETECTION,
                    "{\"threshold\": 0.0}"}};
        char png[4096], jpg[4096];
        snprintf(png, sizeof png, "%s", am_test_fixture("media/img_cat.png"));
        snprintf(jpg, sizeof jpg, "%s", am_test_fixture("media/img_astronaut.jpg"));
        for (size_t i = 0; i < sizeof ips / sizeof ips[0]; i++) {
            am_pipeline *ip = am_pipeline_new(ips[i].task, am_test_fixture(ips[i].dir), NULL);
            CHECKF(ip != NULL, "%s: %s", ips[i].name, am_last_error());
            if (!ip) continue;
            img_pipe_ctx ic = {.p = ip, .paths = {png, jpg}, .kwargs = ips[i].kwargs};
            sweep(ips[i].name, op_image_pipeline, &ic);
            free(ic.want);
            am_pipeline_free(ip);
        }
    }

    {
        vis_ctx *vc = calloc(1, sizeof *vc);
        snprintf(vc->dir, sizeof vc->dir, "%s", am_test_fixture("processors/yolos_32_48_batch2_pad"));
        snprintf(vc->png, sizeof vc->png, "%s", am_test_fixture("media/img_cat.png"));
        snprintf(vc->jpg, sizeof vc->jpg, "%s", am_test_fixture("media/img_astronaut.jpg"));
        sweep("image processor", op_vision, vc);
        am_tensors_free(vc->want);
        free(vc);
    }

    sweep("hub download", op_hub, &hub);
    hub.model = true;
    sweep("hub from_pretrained", op_hub, &hub);

    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
    }
    rm_rf(g_work);
    printf("allocation-failure sweep: %d runs, %d injected failures, %d survived with the same result, the rest "
           "returned an error with a message\n",
           g_total_runs, g_total_injected, g_total_recovered);
    return 0;
}
