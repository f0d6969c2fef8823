/* fuzz_audio — arbitrary bytes as an audio file (WAV, FLAC, Ogg, MP3 through libav*), decoded to
 * 16 kHz mono and at the file's own rate. Errors are fine; crashes, leaks, undefined behaviour and
 * unbounded memory are not: the decoded duration is capped at 30 s here so that a tiny file that
 * inflates (a header claiming a low rate, FLAC's long blocks) stays within the fuzzer's RSS limit. */
#include "automodel.h"
#include "audio/audio.h"
#include <stdint.h>
#include <stddef.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    am__audio_set_max_seconds(30);
    am_audio_free(am_audio_decode(data, size, 16000, "fuzz"));
    am_audio_free(am_audio_decode(data, size, 0, "fuzz"));
    return 0;
}
