/* export/onnx_merged.c — Optimum's decoder_model_merged.onnx (optimum.onnx.merge_decoders): one
 * graph whose single node is an If on the boolean input use_cache_branch [1]: then_branch the
 * with-past decoder (past_key_values.N.key/value read), else_branch the decoder without past (the
 * past inputs unread). The outer graph holds the inputs of the with-past decoder plus
 * use_cache_branch, every initializer once (both branches read them from the outer scope, as
 * merge_decoders deduplicates them into the outer graph), and the outputs logits and
 * present.N.key/value with the with-past decoder's axes (merge_decoders unifies the no-past
 * outputs to them). On the first step a caller passes use_cache_branch = false and empty past
 * tensors [batch, kv heads, 0, head dim], as Optimum's ORTModelForCausalLM does. */
#include "export/onnx.h"
#include "core/error.h"
#include <stdlib.h>
#include <string.h>

void am__ox_merged_graph(am__ox *g, const am_model *m, const am__describe *d) {
    int64_t L = d->stack->n;
    g->casts_outer = true; /* weights' Casts (non-float32 storage) in the outer graph, seen by both branches */
    am__ox_decoder_graph(g, m, d, true);
    am__pb ins = g->inputs, outs = g->outputs, with_past = {0}, no_past = {0};
    memset(&g->inputs, 0, sizeof g->inputs);
    memset(&g->outputs, 0, sizeof g->outputs);
    if (am__ox_subgraph(g, "with_past", &outs, &with_past) == AM_OK) {
        am__ox_decoder_graph(g, m, d, false); /* the same weights: already initializers, not written twice */
        am__pb_free(&g->inputs);
        am__pb_free(&g->outputs);
        am__ox_subgraph(g, "no_past", &outs, &no_past);
    }
    am__pb_free(&g->nodes);
    g->nodes = g->outer_nodes;
    memset(&g->outer_nodes, 0, sizeof g->outer_nodes);
    g->casts_outer = false;
    g->inputs = ins;
    g->outputs = outs;
    am__ox_io(g, false, "use_cache_branch", AM__OX_BOOL, 1, NULL, (int64_t[]){1});
    const char **names = calloc((size_t)(2 * L + 1), sizeof *names);
    if (!names) {
        if (g->st == AM_OK) g->st = am__error(AM_ERR_NO_MEMORY, "export onnx: out of memory");
    } else {
        names[0] = am__ox_name(g, "logits");
        for (int64_t i = 0; i < 2 * L; i++) {
            char n[64];
            snprintf(n, sizeof n, "present.%lld.%s", (long long)(i / 2), i % 2 ? "value" : "key");
            names[i + 1] = am__ox_name(g, n);
        }
        am__ox_node(g, "If", 1, (const char *[]){"use_cache_branch"}, 0, NULL, 2, (const char *[]){"then_branch", "else_branch"},
                    (am__pb *const[]){&with_past, &no_past}, (int)(2 * L + 1), names);
        free(names);
    }
    am__pb_free(&with_past); /* consumed by the node; still ours when it was not written */
    am__pb_free(&no_past);
}
