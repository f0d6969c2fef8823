/* tokenizers/asr.h — the speech-recognition decoding of two tokenizers, as transformers 4.32's
 * automatic-speech-recognition pipeline calls them: Wav2Vec2CTCTokenizer's CTC decode with
 * character / word offsets (tk_ctc.c), and WhisperTokenizer._decode_asr, which merges the token
 * sequences of overlapping audio chunks and turns timestamp tokens into chunks (tk_whisper.c). */
#ifndef AM_TOKENIZERS_ASR_H
#define AM_TOKENIZERS_ASR_H
#include "automodel.h"

/* One piece of a decoded transcript: a character or a word (CTC offsets in logit frames), or a
 * Whisper chunk (times in seconds; NAN where Python has None). Owned text. */
typedef struct am__asr_piece {
    char *text;
    int64_t start_offset, end_offset; /* CTC */
    double t0, t1;                    /* Whisper */
    char *language;                   /* Whisper: the chunk's language name ("english"), NULL for None */
} am__asr_piece;
void am__asr_pieces_free(am__asr_piece *p, size_t n);

/* true when `t` was loaded as a Wav2Vec2CTCTokenizer. */
bool am__tok_is_ctc(const am_tokenizer *t);
/* Wav2Vec2CTCTokenizer.decode(ids, skip_special_tokens, output_char_offsets / output_word_offsets):
 * group repeated tokens, drop the pad (CTC blank) token, the word delimiter token becomes
 * replace_word_delimiter_char, join, strip, lower-case when do_lower_case, clean-up of tokenization
 * spaces (clean < 0: tokenizer_config.json's). offsets: 0 none, 1 characters, 2 words
 * (_get_word_offsets over the character offsets); *pieces / *n_pieces get them (owned). */
am_status am__ctc_decode(const am_tokenizer *t, const int32_t *ids, size_t n, bool skip_special, int clean, int offsets,
                         char **text, am__asr_piece **pieces, size_t *n_pieces);

/* The model output of one chunk for _decode_asr: tokens, and the stride in seconds
 * (chunk length, left, right) when the audio was chunked. */
typedef struct am__asr_seq {
    const int64_t *tokens;
    size_t n;
    bool has_stride;
    double chunk_len, stride_left, stride_right;
} am__asr_seq;
/* WhisperTokenizer._decode_asr(model_outputs, return_timestamps, return_language, time_precision)
 * of transformers 4.32: *text is the full text; with return_timestamps (or return_language)
 * *chunks / *n_chunks get the chunks (timestamp / language as asked), else none. */
am_status am__whisper_decode_asr(const am_tokenizer *t, const am__asr_seq *seqs, size_t n, bool return_timestamps,
                                 bool return_language, double time_precision, char **text, am__asr_piece **chunks,
                                 size_t *n_chunks);
#endif
