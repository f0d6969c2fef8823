/* pipelines/asr.c — the post-processing of the automatic-speech-recognition pipeline, as functions
 * of the model calls' tokens and strides (so tests drive them with the recorded tokens): CTC's
 * stride trimming (rescale_stride) and decode with offsets, Whisper's strides in seconds and
 * _decode_asr; the result object with its "chunks". */
#include "core/error.h"
#include "core/util.h"
#include "pipelines/pipeline.h"
#include "tokenizers/asr.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Python's round(): half to even */
double am__py_round(double x) { return nearbyint(x); }

static am_pipeline_result *transcript(const char *text, am__asr_piece *pieces, size_t np, int style, bool ctc_times,
                                      double frame_seconds_num, int sampling_rate) {
    am_pipeline_result *r = am__pl_result_new(AM__PL_TRANSCRIPT);
    if (!r) return NULL;
    r->chunk_style = style;
    if (!(r->text = am__pl_result_own(r, am__strdup(text)))) goto oom;
    for (size_t i = 0; style && i < np; i++) {
        am_transcript_chunk *c = am__pl_result_push(r);
        if (!c || !(c->text = am__pl_result_own(r, am__strdup(pieces[i].text)))) goto oom;
        if (pieces[i].language && !(c->language = am__pl_result_own(r, am__strdup(pieces[i].language)))) goto oom;
        if (ctc_times) { /* offset * inputs_to_logits_ratio / sampling_rate, as Python's int / int */
            c->start = (double)((int64_t)frame_seconds_num * pieces[i].start_offset) / (double)sampling_rate;
            c->end = (double)((int64_t)frame_seconds_num * pieces[i].end_offset) / (double)sampling_rate;
        } else {
            c->start = pieces[i].t0;
            c->end = pieces[i].t1;
        }
    }
    return r;
oom:
    am_pipeline_result_free(r);
    am__error(AM_ERR_NO_MEMORY, "out of memory");
    return NULL;
}

am_status am__asr_ctc_post(const am_tokenizer *tok, int64_t ratio, int sampling_rate, const am__asr_call *calls, size_t n,
                           int return_timestamps, am_pipeline_result **out) {
    *out = NULL;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += calls[i].n;
    int32_t *ids = malloc((total ? total : 1) * sizeof *ids);
    if (!ids) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    size_t m = 0;
    double r = 1.0 / (double)ratio;
    for (size_t i = 0; i < n; i++) {
        size_t a = 0, b = calls[i].n;
        if (calls[i].has_stride) { /* rescale_stride([stride], 1 / ratio), then items[:, left:total_n - right] */
            double input_n = (double)calls[i].stride[0];
            int64_t token_n = (int64_t)am__py_round(input_n * r);
            int64_t left = (int64_t)am__py_round((double)calls[i].stride[1] / input_n * (double)token_n);
            int64_t right = (int64_t)am__py_round((double)calls[i].stride[2] / input_n * (double)token_n);
            int64_t stop = token_n - right;
            a = left < 0 ? 0 : (size_t)left;
            b = stop < 0 ? 0 : (size_t)stop < calls[i].n ? (size_t)stop : calls[i].n;
        }
        for (size_t k = a; k < b; k++) {
            int64_t v = calls[i].tokens[k];
            ids[m++] = v < 0 || v > INT32_MAX ? -1 : (int32_t)v;
        }
    }
    char *text = NULL;
    am__asr_piece *pieces = NULL;
    size_t np = 0;
    int off = return_timestamps == 2 ? 1 : return_timestamps == 3 ? 2 : 0;
    am_status s = am__ctc_decode(tok, ids, m, false, -1, off, &text, off ? &pieces : NULL, off ? &np : NULL);
    free(ids);
    if (s) return s;
    *out = transcript(text, pieces, np, off ? 1 : 0, true, (double)ratio, sampling_rate);
    free(text);
    am__asr_pieces_free(pieces, np);
    return *out ? AM_OK : AM_ERR_NO_MEMORY;
}

am_status am__asr_whisper_post(const am_tokenizer *tok, int sampling_rate, double time_precision, const am__asr_call *calls,
                               size_t n, bool return_timestamps, bool return_language, am_pipeline_result **out) {
    *out = NULL;
    am__asr_seq *seqs = calloc(n ? n : 1, sizeof *seqs);
    if (!seqs) return am__error(AM_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        seqs[i].tokens = calls[i].tokens;
        seqs[i].n = calls[i].n;
        seqs[i].has_stride = calls[i].has_stride;
        if (calls[i].has_stride) { /* back to seconds */
            seqs[i].chunk_len = (double)calls[i].stride[0] / sampling_rate;
            seqs[i].stride_left = (double)calls[i].stride[1] / sampling_rate;
            seqs[i].stride_right = (double)calls[i].stride[2] / sampling_rate;
        }
    }
    char *text = NULL;
    am__asr_piece *chunks = NULL;
    size_t nc = 0;
    am_status s = am__whisper_decode_asr(tok, seqs, n, return_timestamps, return_language, time_precision, &text, &chunks, &nc);
    free(seqs);
    if (s) return s;
    int style = !(return_timestamps || return_language) ? 0 : !return_language ? 2 : return_timestamps ? 3 : 4;
    *out = transcript(text, chunks, nc, style, false, 0, sampling_rate);
    if (*out && style && !nc) (*out)->chunk_style = style; /* "chunks": [] */
    free(text);
    am__asr_pieces_free(chunks, nc);
    return *out ? AM_OK : AM_ERR_NO_MEMORY;
}

