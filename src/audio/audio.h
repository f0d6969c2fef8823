/* audio/audio.h — audio input and feature extractors (internal view of the audio layer).
 * audio.c: decoding through libavformat/libavcodec, ffmpeg's down-mix and libswresample's resampling.
 * featext.c: transformers 4.32's Wav2Vec2FeatureExtractor and WhisperFeatureExtractor. */
#ifndef AM_AUDIO_H
#define AM_AUDIO_H
#include "automodel.h"

/* Decoded mono audio. */
struct am_audio {
    float *samples;
    size_t n;
    int rate;
};

/* A borrowed view of mono samples, for callers (the pipelines) that cut a waveform into chunks:
 * the extractor reads `samples[0 .. n)` without copying. */
typedef struct am__audio_view {
    const float *samples;
    size_t n;
    int rate;
} am__audio_view;

/* The most seconds a decode may produce (AM_AUDIO_MAX_SECONDS unless lowered: the fuzzer lowers it
 * to keep its memory bounded). Process-wide; set it before decoding. */
void am__audio_set_max_seconds(double seconds);

/* am_feature_extractor_call over views. */
am_status am__feature_extractor_call_views(const am_feature_extractor *fe, const am__audio_view *audio, size_t n,
                                           const char *kwargs_json, am_tensors **out);
#endif
