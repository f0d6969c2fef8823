/* tests/test_threads.c — models are read-only after loading: 4 application threads run forward
 * and generate on ONE shared model each (BERT, DistilBERT, GPT-2, T5, BART, and Llama with dynamic
 * NTK RoPE), several
 * iterations, interleaved, and every result is bit-identical to the single-threaded run; then again
 * with a 2-entry primitive cache, so entries are evicted while other threads execute them. Also:
 * eval-mode calls write nothing into the model; a Llama dynamic-RoPE call leaves no state behind;
 * training-mode dropout follows the documented rules (an explicit dropout_seed gives the same masks
 * on any thread; without one, concurrent calls each take a distinct call number, and their results
 * are exactly those of call numbers 1..N run one after the other). */
#include "harness.h"
#include "kernels/primcache.h"
#include "models/model.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4
#define ITERS 3

typedef enum { JOB_FORWARD, JOB_GENERATE } job_kind;

typedef struct job {
    const char *label;
    am_model *m;
    job_kind kind;
    am_tensors *in;
    am_forward_options fo;
    am_generate_options go;
    am_tensors *ref; /* single-threaded result */
} job;

static job g_jobs[32];
static int g_njobs;

static am_tensors *run_job(const job *j) {
    return j->kind == JOB_FORWARD ? am_model_forward(j->m, j->in, &j->fo) : am_model_generate(j->m, j->in, &j->go);
}

/* bit-identical: same names, dtypes, shapes, bytes (label NULL: a difference is expected, quiet) */
static bool same(const am_tensors *a, const am_tensors *b, const char *label) {
    if (!a || !b || am_tensors_count(a) != am_tensors_count(b)) {
        if (label) fprintf(stderr, "[%s] output lists differ (%p %p)\n", label, (const void *)a, (const void *)b);
        return false;
    }
    for (size_t i = 0; i < am_tensors_count(a); i++) {
        const char *n = am_tensors_name(a, i);
        const am_tensor *x = am_tensors_at(a, i), *y = am_tensors_get(b, n);
        if (!y || am_tensor_dtype(x) != am_tensor_dtype(y) || am_tensor_nbytes(x) != am_tensor_nbytes(y) ||
            am_tensor_ndim(x) != am_tensor_ndim(y) || memcmp(am_tensor_shape(x), am_tensor_shape(y), (size_t)am_tensor_ndim(x) * sizeof(int64_t)) ||
            memcmp(am_tensor_cdata(x), am_tensor_cdata(y), am_tensor_nbytes(x))) {
            if (label) fprintf(stderr, "[%s] output %s differs\n", label, n);
            return false;
        }
    }
    return true;
}

/* the fixture's <prefix>.* tensors as inputs; for generate only the prompt (ids and mask) */
static am_tensors *pick_inputs(const am_tensors *exp, const char *prefix, bool prompt_only) {
    am_tensors *in = am_tensors_new();
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < am_tensors_count(exp); i++) {
        const char *n = am_tensors_name(exp, i);
        if (strncmp(n, prefix, pl)) continue;
        if (prompt_only && strcmp(n + pl, "input_ids") && strcmp(n + pl, "attention_mask")) continue;
        am_tensors_set(in, n + pl, am_tensors_at(exp, i));
    }
    return in;
}
static am_tensors *pick(const am_tensors *exp, const char *prefix) { return pick_inputs(exp, prefix, false); }
static am_tensors *prompt(const am_tensors *exp, const char *prefix) { return pick_inputs(exp, prefix, true); }

static am_model *load(const char *fixture, am_task task, const am_config *cfg, am_tensors **exp) {
    char dir[4096], ep[4200];
    snprintf(dir, sizeof dir, "%s", am_test_fixture(fixture));
    am_load_options lo = am_load_options_default();
    lo.config = cfg;
    am_model *m = am_model_from_pretrained(task, dir, &lo);
    CHECKF(m != NULL, "load %s: %s", fixture, am_last_error());
    if (exp) {
        snprintf(ep, sizeof ep, "%s/expected.safetensors", dir);
        *exp = am_tensors_load_safetensors(ep);
        CHECKF(*exp != NULL, "%s: %s", ep, am_last_error());
    }
    return m;
}

static void add_forward(const char *label, am_model *m, am_tensors *in, bool hidden) {
    job *j = &g_jobs[g_njobs++];
    *j = (job){.label = label, .m = m, .kind = JOB_FORWARD, .in = in};
    j->fo = am_forward_options_default();
    j->fo.output_hidden_states = hidden;
}
static job *add_generate(const char *label, am_model *m, am_tensors *in, int64_t new_tokens) {
    job *j = &g_jobs[g_njobs++];
    *j = (job){.label = label, .m = m, .kind = JOB_GENERATE, .in = in};
    j->go = am_generate_options_default();
    j->go.max_new_tokens = new_tokens;
    return j;
}

typedef struct worker {
    int id;
    int failures;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    for (int it = 0; it < ITERS; it++)
        for (int k = 0; k < g_njobs; k++) {
            const job *j = &g_jobs[(k + w->id * 3 + it) % g_njobs]; /* threads start at different jobs */
            am_tensors *out = run_job(j);
            if (!out) fprintf(stderr, "[%s] thread %d: %s\n", j->label, w->id, am_last_error());
            if (!same(out, j->ref, j->label)) w->failures++;
            am_tensors_free(out);
        }
    return NULL;
}

static void run_threads(const char *phase) {
    pthread_t th[NTHREADS];
    worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){.id = i};
        CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        CHECKF(w[i].failures == 0, "%s: thread %d saw %d results differ from the single-threaded run", phase, i, w[i].failures);
    }
}

/* ---- training-mode dropout ---- */

typedef struct drop_worker {
    am_model *m;
    am_tensors *in;
    uint64_t seed; /* 0: the model's next call number */
    am_tensors *out;
} drop_worker;

static void *drop_work(void *arg) {
    drop_worker *d = arg;
    am_forward_options fo = am_forward_options_default();
    fo.dropout_seed = d->seed;
    d->out = am_model_forward(d->m, d->in, &fo);
    return NULL;
}

static void check_dropout(am_tensors *bert_exp) {
    am_model *m = load("models/bert_model", AM_TASK_AUTO, NULL, NULL), *fresh = load("models/bert_model", AM_TASK_AUTO, NULL, NULL);
    if (!m || !fresh) return;
    am_model_train(m, true);
    am_model_train(fresh, true);
    am_tensors *in = pick(bert_exp, "in.");
    am_forward_options fo = am_forward_options_default();

    /* explicit seeds: the same seed gives the same masks, on any thread; seeds differ -> masks differ */
    am_tensors *ref[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        fo.dropout_seed = 1000 + (uint64_t)i;
        ref[i] = am_model_forward(fresh, in, &fo);
        CHECK(ref[i] != NULL);
    }
    fo.dropout_seed = 1000;
    am_tensors *again = am_model_forward(fresh, in, &fo);
    CHECK(same(again, ref[0], "dropout seed 1000 twice"));
    am_tensors_free(again);
    CHECKF(ref[0] && ref[1] && !same(ref[0], ref[1], NULL), "different dropout seeds give different masks");
    CHECKF(fresh->dropout_calls == 0, "explicit seeds leave the model's counter alone (%llu)", (unsigned long long)fresh->dropout_calls);

    pthread_t th[NTHREADS];
    drop_worker d[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        d[i] = (drop_worker){.m = m, .in = in, .seed = 1000 + (uint64_t)i};
        pthread_create(&th[i], NULL, drop_work, &d[i]);
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < NTHREADS; i++) {
        CHECKF(same(d[i].out, ref[i], "train mode, explicit seed"), "thread %d with dropout_seed %d", i, 1000 + i);
        am_tensors_free(d[i].out);
        am_tensors_free(ref[i]);
    }

    /* no seed: N concurrent calls take call numbers 1..N in some order; the results are exactly
     * those of N calls one after the other on a fresh model, each used once */
    am_tensors *seq[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) seq[i] = am_model_forward(fresh, in, NULL);
    CHECK(fresh->dropout_calls == NTHREADS);
    CHECKF(seq[0] && seq[1] && !same(seq[0], seq[1], NULL), "successive training-mode calls draw fresh masks");
    for (int i = 0; i < NTHREADS; i++) {
        d[i] = (drop_worker){.m = m, .in = in, .seed = 0};
        pthread_create(&th[i], NULL, drop_work, &d[i]);
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    bool used[NTHREADS] = {false};
    for (int i = 0; i < NTHREADS; i++) {
        int match = -1;
        for (int k = 0; k < NTHREADS && match < 0; k++)
            if (!used[k] && d[i].out && seq[k] && am_tensors_count(d[i].out) == am_tensors_count(seq[k])) {
                const am_tensor *a = am_tensors_get(d[i].out, "last_hidden_state"), *b = am_tensors_get(seq[k], "last_hidden_state");
                if (a && b && !memcmp(am_tensor_cdata(a), am_tensor_cdata(b), am_tensor_nbytes(a))) match = k;
            }
        CHECKF(match >= 0, "concurrent unseeded training call %d matches one sequential call number", i);
        if (match >= 0) {
            used[match] = true;
            CHECK(same(d[i].out, seq[match], "train mode, call number"));
        }
        am_tensors_free(d[i].out);
    }
    CHECK(m->dropout_calls == NTHREADS);
    for (int i = 0; i < NTHREADS; i++) am_tensors_free(seq[i]);
    am_tensors_free(in);
    am_model_free(m);
    am_model_free(fresh);
}

int am_test_main(int argc, char **argv) {
    (void)argc, (void)argv;
    am_tensors *bexp = NULL, *gexp = NULL, *texp = NULL, *lexp = NULL, *dexp = NULL, *aexp = NULL;
    am_model *bert = load("models/bert_model", AM_TASK_AUTO, NULL, &bexp);
    am_model *distil = load("models/distilbert_model", AM_TASK_AUTO, NULL, &dexp);
    am_model *bart = load("models/bart_cg", AM_TASK_SEQ2SEQ_LM, NULL, &aexp);
    am_model *gpt2 = load("models/gpt2_lm", AM_TASK_CAUSAL_LM, NULL, &gexp);
    am_model *t5 = load("models/t5_cg", AM_TASK_SEQ2SEQ_LM, NULL, &texp);
    /* Llama with dynamic NTK scaling past 4 positions: every call of 5+ tokens computes its own base */
    am_config *lc = am_config_from_pretrained(am_test_fixture("models/llama_lm"));
    CHECK(lc != NULL);
    if (lc) {
        CHECK_OK(am_config_set_json(lc, "rope_scaling", "{\"type\": \"dynamic\", \"factor\": 2.0}"));
        CHECK_OK(am_config_set_int(lc, "max_position_embeddings", 4));
    }
    am_model *llama = lc ? load("models/llama_lm", AM_TASK_CAUSAL_LM, lc, &lexp) : NULL;
    am_model *llama_plain = load("models/llama_lm", AM_TASK_CAUSAL_LM, NULL, NULL);
    if (!bert || !gpt2 || !t5 || !llama || !llama_plain || !distil || !bart || !bexp || !gexp || !texp || !lexp || !dexp || !aexp) return 1;
    printf("threads per call: %d; application threads: %d x %d iterations\n", am_get_num_threads(), NTHREADS, ITERS);

    add_forward("bert forward", bert, pick(bexp, "in."), true);
    add_forward("gpt2 forward", gpt2, pick(gexp, "in."), true);
    add_generate("gpt2 greedy", gpt2, prompt(gexp, "gen."), 12);
    job *j = add_generate("gpt2 beam", gpt2, prompt(gexp, "beam."), 8);
    j->go.num_beams = 3;
    j = add_generate("gpt2 sample", gpt2, prompt(gexp, "gen."), 10);
    j->go.do_sample = 1, j->go.seed = 7, j->go.top_k = 20, j->go.output_scores = true;
    add_forward("t5 forward", t5, pick(texp, "in."), true);
    add_generate("t5 greedy", t5, prompt(texp, "gen."), 12);
    j = add_generate("t5 beam", t5, prompt(texp, "beam."), 8);
    j->go.num_beams = 3;
    j = add_generate("t5 sample", t5, prompt(texp, "gen."), 8);
    j->go.do_sample = 1, j->go.seed = 11, j->go.output_scores = true;
    add_forward("distilbert forward", distil, pick(dexp, "in."), true);
    add_forward("bart forward", bart, pick(aexp, "in."), true);
    add_generate("bart greedy", bart, prompt(aexp, "gen."), 12);
    j = add_generate("bart beam", bart, prompt(aexp, "beam."), 8);
    j->go.num_beams = 3;
    add_forward("llama dynamic forward", llama, pick(lexp, "in."), false);
    add_generate("llama dynamic greedy", llama, prompt(lexp, "gen."), 12);

    /* the single-threaded reference */
    for (int i = 0; i < g_njobs; i++) {
        g_jobs[i].ref = run_job(&g_jobs[i]);
        CHECKF(g_jobs[i].ref != NULL, "[%s] %s", g_jobs[i].label, am_last_error());
    }
    for (int i = 0; i < g_njobs; i++)
        if (!g_jobs[i].ref) return 1;

    /* dynamic RoPE: the long call above left nothing behind (transformers 4.32 would keep the grown
     * base; here every call is as on a fresh model), and the dynamic path did change the numbers */
    {
        am_tensors *in = pick(lexp, "in."), *short_in = am_tensors_new();
        const am_tensor *ids = am_tensors_get(in, "input_ids");
        int64_t shape[2] = {1, 3};
        am_tensor *s3 = am_tensor_from_data(AM_I64, 2, shape, am_tensor_cdata(ids));
        am_tensors_set(short_in, "input_ids", s3);
        am_tensor_free(s3);
        am_model *fresh = load("models/llama_lm", AM_TASK_CAUSAL_LM, lc, NULL);
        am_tensors *a = fresh ? am_model_forward(fresh, short_in, NULL) : NULL;
        am_tensors *b = am_model_forward(llama, short_in, NULL); /* llama already ran 7-token calls */
        CHECKF(a && b && same(a, b, "llama short call after long ones"), "a dynamic-RoPE call leaves no state in the model");
        am_tensors *plain = am_model_forward(llama_plain, in, NULL), *dyn = am_model_forward(llama, in, NULL);
        CHECKF(plain && dyn && !same(plain, dyn, NULL), "dynamic NTK scaling changes a call past max_position_embeddings");
        am_tensors_free(a);
        am_tensors_free(b);
        am_tensors_free(plain);
        am_tensors_free(dyn);
        am_tensors_free(in);
        am_tensors_free(short_in);
        am_model_free(fresh);
    }

    run_threads("shared models, default primitive cache");
    am__prim_stats st = am__prim_cache_stats();
    printf("primitive cache: %zu of %zu entries, %llu hits, %llu misses, %llu evictions\n", st.size, st.capacity, (unsigned long long)st.hits,
           (unsigned long long)st.misses, (unsigned long long)st.evictions);
    CHECK(st.size <= st.capacity);

    /* a tiny cache: entries are evicted while other threads still execute them */
    am__prim_cache_set_capacity(2);
    run_threads("shared models, 2-entry primitive cache");
    st = am__prim_cache_stats();
    printf("2-entry cache: %zu entries, %llu evictions\n", st.size, (unsigned long long)st.evictions);
    CHECK(st.size <= 2 && st.evictions > 0);
    am__prim_cache_set_capacity(-1);

    /* eval-mode calls wrote nothing into the models */
    CHECK(bert->dropout_calls == 0 && gpt2->dropout_calls == 0 && t5->dropout_calls == 0 && llama->dropout_calls == 0 &&
          distil->dropout_calls == 0 && bart->dropout_calls == 0);

    check_dropout(bexp);

    for (int i = 0; i < g_njobs; i++) {
        am_tensors_free(g_jobs[i].in);
        am_tensors_free(g_jobs[i].ref);
    }
    am_model_free(bert);
    am_model_free(distil);
    am_model_free(bart);
    am_model_free(gpt2);
    am_model_free(t5);
    am_model_free(llama);
    am_model_free(llama_plain);
    am_config_free(lc);
    am_tensors_free(bexp);
    am_tensors_free(gexp);
    am_tensors_free(texp);
    am_tensors_free(lexp);
    am_tensors_free(dexp);
    am_tensors_free(aexp);
    return 0;
}
