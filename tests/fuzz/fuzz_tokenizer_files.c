/* fuzz_tokenizer_files — a tokenizer folder of slow-tokenizer files from arbitrary bytes: the input
 * is split at NUL bytes into vocab.json, tokenizer_config.json, merges.txt and added_tokens.json
 * (an empty part: the file is absent), written into a scratch folder and loaded with
 * am_tokenizer_from_pretrained. That reaches Wav2Vec2CTCTokenizer (when the config names it) and
 * the vocab.json + merges.txt + added_tokens.json loader. A loaded tokenizer then decodes ids taken
 * from the input: the CTC decode with character and word offsets, or WhisperTokenizer._decode_asr
 * over two strided chunks with and without timestamps. Bad files must fail with a message, never
 * crash. */
#include "automodel.h"
#include "tokenizers/asr.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[256];
static const char *const names[] = {"vocab.json", "tokenizer_config.json", "merges.txt", "added_tokens.json"};

static void cleanup(void) {
    char path[512];
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", g_dir, names[k]);
        unlink(path);
    }
    rmdir(g_dir);
}

static void put(const char *name, const uint8_t *p, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    if (!n) {
        unlink(path);
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(p, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "%s/am_fuzz_tokfiles_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(g_dir)) abort();
        atexit(cleanup);
    }
    size_t at = 0;
    for (int k = 0; k < 4; k++) {
        const uint8_t *z = at < size ? memchr(data + at, 0, size - at) : NULL;
        size_t end = k == 3 || !z ? size : (size_t)(z - data);
        if (at > size) at = size;
        put(names[k], data + at, end > at ? end - at : 0);
        at = end + 1;
    }
    am_tokenizer *t = am_tokenizer_from_pretrained(g_dir);
    if (!t) {
        if (!am_last_error()[0]) abort(); /* every failure must say why */
        return 0;
    }
    /* ids from the input's bytes */
    int32_t ids[64];
    int64_t ids64[64];
    size_t n = 0;
    for (size_t i = 0; i < size && n < 64; i += 7) {
        ids[n] = (int32_t)(data[i] % 40) - 2;
        ids64[n] = (int64_t)(data[i] % 48) - 1;
        n++;
    }
    char *s = am_tokenizer_decode(t, ids, n, NULL);
    am_free(s);
    am_encoding *e = am_tokenizer_encode(t, "HELLO WORLD <unk> |", NULL, NULL);
    am_encoding_free(e);
    if (am__tok_is_ctc(t)) {
        for (int off = 1; off <= 2; off++) {
            char *txt = NULL;
            am__asr_piece *pc = NULL;
            size_t np = 0;
            if (am__ctc_decode(t, ids, n, off == 2, -1, off, &txt, &pc, &np) == AM_OK) {
                for (size_t i = 0; i < np; i++)
                    if (!pc[i].text || pc[i].start_offset > pc[i].end_offset) abort();
            }
            free(txt);
            am__asr_pieces_free(pc, np);
        }
    } else {
        am__asr_seq seqs[2] = {{ids64, n / 2, true, 30.0, 0.0, 5.0}, {ids64 + n / 2, n - n / 2, true, 12.5, 5.0, 0.0}};
        for (int ts = 0; ts < 2; ts++) {
            char *txt = NULL;
            am__asr_piece *ch = NULL;
            size_t nc = 0;
            am__whisper_decode_asr(t, seqs, 2, ts, ts, 0.02, &txt, &ch, &nc);
            free(txt);
            am__asr_pieces_free(ch, nc);
        }
    }
    am_tokenizer_free(t);
    return 0;
}
