/* audio/audio.c — audio input as transformers' pipelines get it from ffmpeg_read, which pipes the
 * file's bytes through `ffmpeg -i pipe:0 -ac 1 -ar RATE -f f32le`: the same Debian libraries do the
 * same steps here. The bytes are read through a custom, non-seekable AVIOContext (a pipe is not
 * seekable, and some demuxers behave differently when they can seek), the stream's codec decodes
 * every packet, and one SwrContext with libswresample's defaults (what the CLI's auto-inserted
 * aresample filter gets: filter size 32, phase shift 10, linear interpolation, Kaiser beta 9;
 * ffmpeg's default down-mix matrix, not normalised for float output) converts to mono float32 at
 * the target rate; the end is flushed as aresample flushes it. As the CLI does, a packet that fails
 * to decode is skipped and reading stops at a demuxer error: what decoded is kept (logged as a
 * warning); no sample at all is an error, as ffmpeg_read raises. */
#include "audio/audio.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHANNELS 64
#define MAX_RATE 1000000

static double g_max_seconds = AM_AUDIO_MAX_SECONDS;
void am__audio_set_max_seconds(double seconds) { g_max_seconds = seconds > 0 ? seconds : AM_AUDIO_MAX_SECONDS; }

/* libav* print to stderr by default; a library must not. Their messages go to our log at debug. */
static void av_log_to_am(void *avcl, int level, const char *fmt, va_list vl) {
    (void)avcl;
    if (level > AV_LOG_WARNING || !am__log_enabled(AM_LOG_DEBUG)) return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, vl);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n') line[--n] = 0;
    am__log(AM_LOG_DEBUG, "libav: %s", line);
}
static pthread_once_t g_av_once = PTHREAD_ONCE_INIT;
static void av_setup(void) { av_log_set_callback(av_log_to_am); }

/* ---------------------------------------------------------------------------------------------- */
/* the am_audio value                                                                              */
/* ---------------------------------------------------------------------------------------------- */

static am_audio *audio_new(size_t n, int rate) {
    am_audio *a = calloc(1, sizeof *a);
    if (a) a->samples = malloc((n ? n : 1) * sizeof(float));
    if (!a || !a->samples) {
        free(a);
        am__error(AM_ERR_NO_MEMORY, "out of memory for %zu audio samples", n);
        return NULL;
    }
    a->n = n;
    a->rate = rate;
    return a;
}

am_audio *am_audio_from_samples(const float *samples, size_t n, int sampling_rate) {
    if (!samples && n) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_audio_from_samples: samples is NULL");
        return NULL;
    }
    if (sampling_rate <= 0 || sampling_rate > MAX_RATE) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_audio_from_samples: sampling_rate must be in 1..%d (got %d)", MAX_RATE,
                  sampling_rate);
        return NULL;
    }
    if ((double)n > g_max_seconds * sampling_rate) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_audio_from_samples: %zu samples at %d Hz is longer than %.0f s", n,
                  sampling_rate, g_max_seconds);
        return NULL;
    }
    am_audio *a = audio_new(n, sampling_rate);
    if (a && n) memcpy(a->samples, samples, n * sizeof(float));
    return a;
}

void am_audio_free(am_audio *a) {
    if (!a) return;
    free(a->samples);
    free(a);
}
const float *am_audio_samples(const am_audio *a) { return a ? a->samples : NULL; }
size_t am_audio_length(const am_audio *a) { return a ? a->n : 0; }
int am_audio_sampling_rate(const am_audio *a) { return a ? a->rate : 0; }

/* ---------------------------------------------------------------------------------------------- */
/* decoding                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

typedef struct membuf {
    const uint8_t *p;
    size_t len, pos;
} membuf;

static int mem_read(void *opaque, uint8_t *buf, int size) {
    membuf *m = opaque;
    size_t left = m->len - m->pos;
    if (!left) return AVERROR_EOF;
    size_t k = (size_t)size < left ? (size_t)size : left;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (int)k;
}

/* The codecs of the containers we open: PCM of every layout, FLAC, Vorbis, Opus, MP3 (and MP2/MP1
 * that MPEG audio files may hold). */
static bool codec_allowed(enum AVCodecID id) {
    if (id >= AV_CODEC_ID_PCM_S16LE && id < AV_CODEC_ID_ADPCM_IMA_QT) return true;
    switch (id) {
    case AV_CODEC_ID_FLAC:
    case AV_CODEC_ID_VORBIS:
    case AV_CODEC_ID_OPUS:
    case AV_CODEC_ID_MP3:
    case AV_CODEC_ID_MP2:
    case AV_CODEC_ID_MP1: return true;
    default: return false;
    }
}

typedef struct dec {
    const char *origin;
    int out_rate; /* <= 0: the stream's */
    double limit; /* most output samples */
    AVFormatContext *fmt;
    AVCodecContext *cc;
    SwrContext *swr;
    AVFrame *frame;
    AVPacket *pkt;
    /* the first frame's parameters: the conversion is built for them */
    int in_rate, in_fmt;
    AVChannelLayout in_layout;
    float *out;
    size_t n, cap;
    int bad_packets;
} dec;

static am_status averr(const dec *d, am_status code, const char *what, int err) {
    char msg[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, msg, sizeof msg);
    return am__error(code, "%s: %s: %s", d->origin, what, msg);
}

/* room for `more` output samples, within the duration limit */
static am_status reserve(dec *d, size_t more) {
    if ((double)d->n + (double)more > d->limit)
        return am__error(AM_ERR_INVALID_ARGUMENT, "%s: audio is longer than %.0f seconds (the most am_audio_decode takes)",
                         d->origin, g_max_seconds);
    if (d->n + more <= d->cap) return AM_OK;
    size_t cap = d->cap ? d->cap : 16384;
    while (cap < d->n + more) cap *= 2;
    if ((double)cap > d->limit + 16384) cap = (size_t)d->limit + 16384;
    float *o = realloc(d->out, cap * sizeof(float));
    if (!o) return am__error(AM_ERR_NO_MEMORY, "%s: out of memory for %zu audio samples", d->origin, cap);
    d->out = o;
    d->cap = cap;
    return AM_OK;
}

static am_status convert(dec *d, const AVFrame *f) {
    int nb = f ? f->nb_samples : 0;
    int est = swr_get_out_samples(d->swr, nb);
    if (est < 0) return averr(d, AM_ERR_FORMAT, "resampling failed", est);
    for (;;) {
        if (reserve(d, (size_t)est + 1) != AM_OK) return am__error_code();
        uint8_t *dst = (uint8_t *)(d->out + d->n);
        int got = swr_convert(d->swr, &dst, (int)(d->cap - d->n), f ? (const uint8_t **)f->extended_data : NULL, nb);
        if (got < 0) return averr(d, AM_ERR_FORMAT, "resampling failed", got);
        d->n += (size_t)got;
        if (f || got == 0) return AM_OK;
        /* flushing: until the resampler gives nothing more */
        est = swr_get_out_samples(d->swr, 0);
        if (est <= 0) est = 4096;
    }
}

static am_status setup_swr(dec *d, const AVFrame *f) {
    d->in_rate = f->sample_rate;
    d->in_fmt = f->format;
    if (f->sample_rate <= 0 || f->sample_rate > MAX_RATE)
        return am__error(AM_ERR_FORMAT, "%s: bad sample rate %d", d->origin, f->sample_rate);
    int ch = f->ch_layout.nb_channels;
    if (ch <= 0) return am__error(AM_ERR_FORMAT, "%s: audio has no channels", d->origin);
    if (ch > MAX_CHANNELS)
        return am__error(AM_ERR_UNSUPPORTED, "%s: %d channels (at most %d are supported)", d->origin, ch, MAX_CHANNELS);
    /* the CLI's guess_input_channel_layout: an unspecified layout becomes the default one */
    int r = f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC ? (av_channel_layout_default(&d->in_layout, ch), 0)
                                                          : av_channel_layout_copy(&d->in_layout, &f->ch_layout);
    if (r < 0) return averr(d, AM_ERR_FORMAT, "bad channel layout", r);
    int out_rate = d->out_rate > 0 ? d->out_rate : f->sample_rate;
    d->limit = g_max_seconds * out_rate;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    r = swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_FLT, out_rate, &d->in_layout, (enum AVSampleFormat)f->format,
                            f->sample_rate, 0, NULL);
    if (r < 0) return averr(d, AM_ERR_UNSUPPORTED, "cannot convert this audio", r);
    if ((r = swr_init(d->swr)) < 0) return averr(d, AM_ERR_UNSUPPORTED, "cannot convert this audio", r);
    return AM_OK;
}

static am_status take_frames(dec *d) {
    for (;;) {
        int r = avcodec_receive_frame(d->cc, d->frame);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return AM_OK;
        if (r < 0) { /* the CLI reports the error and goes on with the next packet */
            d->bad_packets++;
            return AM_OK;
        }
        am_status s = AM_OK;
        if (!d->swr) s = setup_swr(d, d->frame);
        else if (d->frame->sample_rate != d->in_rate || d->frame->format != d->in_fmt ||
                 d->frame->ch_layout.nb_channels != d->in_layout.nb_channels)
            s = am__error(AM_ERR_UNSUPPORTED, "%s: the audio changes sample rate, format or channels midway", d->origin);
        if (s == AM_OK && d->frame->nb_samples > 0) s = convert(d, d->frame);
        av_frame_unref(d->frame);
        if (s != AM_OK) return s;
    }
}

static am_status send(dec *d, const AVPacket *pkt) {
    int r = avcodec_send_packet(d->cc, pkt);
    if (r < 0 && r != AVERROR_EOF) d->bad_packets++;
    return take_frames(d);
}

static am_status run(dec *d, const uint8_t *data, size_t len) {
    membuf mb = {data, len, 0};
    const int bufsize = 32768;
    uint8_t *iobuf = av_malloc(bufsize);
    AVIOContext *io = iobuf ? avio_alloc_context(iobuf, bufsize, 0, &mb, mem_read, NULL, NULL) : NULL;
    if (!io) {
        av_free(iobuf);
        return am__error(AM_ERR_NO_MEMORY, "%s: out of memory", d->origin);
    }
    io->seekable = 0; /* a pipe */
    am_status s = AM_OK;
    d->fmt = avformat_alloc_context();
    if (!d->fmt) {
        s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", d->origin);
        goto out;
    }
    d->fmt->pb = io;
    d->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    d->fmt->format_whitelist = av_strdup("wav,flac,ogg,mp3");
    d->fmt->protocol_whitelist = av_strdup("none");
    int r = avformat_open_input(&d->fmt, NULL, NULL, NULL); /* frees and NULLs the context on failure */
    if (r < 0) {
        s = r == AVERROR(ENOMEM) ? am__error(AM_ERR_NO_MEMORY, "%s: out of memory", d->origin)
                                 : am__error(AM_ERR_FORMAT, "%s: not a WAV, FLAC, Ogg or MP3 audio file (or too damaged to open)",
                                             d->origin);
        goto out;
    }
    if ((r = avformat_find_stream_info(d->fmt, NULL)) < 0) {
        s = averr(d, AM_ERR_FORMAT, "cannot read the stream parameters", r);
        goto out;
    }
    int idx = av_find_best_stream(d->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (idx < 0) {
        s = am__error(AM_ERR_FORMAT, "%s: no audio stream", d->origin);
        goto out;
    }
    AVStream *st = d->fmt->streams[idx];
    const AVCodecParameters *par = st->codecpar;
    if (!codec_allowed(par->codec_id)) {
        s = am__error(AM_ERR_UNSUPPORTED, "%s: audio codec '%s' is not supported (PCM, FLAC, Vorbis, Opus, MP3)", d->origin,
                      avcodec_get_name(par->codec_id));
        goto out;
    }
    if (par->ch_layout.nb_channels > MAX_CHANNELS) {
        s = am__error(AM_ERR_UNSUPPORTED, "%s: %d channels (at most %d are supported)", d->origin, par->ch_layout.nb_channels,
                      MAX_CHANNELS);
        goto out;
    }
    /* a declared duration past the limit is refused before any sample is decoded */
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && st->time_base.num > 0 && st->time_base.den > 0) {
        double secs = (double)st->duration * st->time_base.num / st->time_base.den;
        if (secs > g_max_seconds) {
            s = am__error(AM_ERR_INVALID_ARGUMENT, "%s: audio lasts %.0f seconds, more than the %.0f am_audio_decode takes",
                          d->origin, secs, g_max_seconds);
            goto out;
        }
    }
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (!codec) {
        s = am__error(AM_ERR_UNSUPPORTED, "%s: no decoder for '%s'", d->origin, avcodec_get_name(par->codec_id));
        goto out;
    }
    d->cc = avcodec_alloc_context3(codec);
    d->frame = av_frame_alloc();
    d->pkt = av_packet_alloc();
    if (!d->cc || !d->frame || !d->pkt) {
        s = am__error(AM_ERR_NO_MEMORY, "%s: out of memory", d->origin);
        goto out;
    }
    if ((r = avcodec_parameters_to_context(d->cc, par)) < 0) {
        s = averr(d, AM_ERR_FORMAT, "bad codec parameters", r);
        goto out;
    }
    d->cc->pkt_timebase = st->time_base;
    if ((r = avcodec_open2(d->cc, codec, NULL)) < 0) {
        s = averr(d, AM_ERR_FORMAT, "cannot open the decoder", r);
        goto out;
    }
    int read_err = 0;
    for (;;) {
        r = av_read_frame(d->fmt, d->pkt);
        if (r < 0) {
            if (r != AVERROR_EOF) read_err = r;
            break;
        }
        if (d->pkt->stream_index == idx) s = send(d, d->pkt);
        av_packet_unref(d->pkt);
        if (s != AM_OK) goto out;
    }
    if ((s = send(d, NULL)) != AM_OK) goto out;
    if (d->swr && (s = convert(d, NULL)) != AM_OK) goto out;
    if (d->n == 0) {
        s = am__error(AM_ERR_FORMAT, "%s: no audio could be decoded (not a valid audio file, or truncated before its first frame)",
                      d->origin);
        goto out;
    }
    if (read_err) {
        char msg[AV_ERROR_MAX_STRING_SIZE] = {0};
        av_strerror(read_err, msg, sizeof msg);
        am__log(AM_LOG_WARNING, "%s: reading stopped early (%s); keeping the %zu samples decoded so far", d->origin, msg, d->n);
    }
    if (d->bad_packets)
        am__log(AM_LOG_WARNING, "%s: %d packets could not be decoded and were skipped", d->origin, d->bad_packets);
out:
    avformat_close_input(&d->fmt);
    if (io) av_freep(&io->buffer);
    avio_context_free(&io);
    return s;
}

am_audio *am_audio_decode(const void *data, size_t len, int sampling_rate, const char *origin) {
    if (!origin) origin = "<audio data>";
    if (!data && len) {
        am__error(AM_ERR_INVALID_ARGUMENT, "%s: audio data is NULL", origin);
        return NULL;
    }
    if (sampling_rate > MAX_RATE) {
        am__error(AM_ERR_INVALID_ARGUMENT, "%s: sampling_rate %d is too high (at most %d)", origin, sampling_rate, MAX_RATE);
        return NULL;
    }
    if (len == 0) {
        am__error(AM_ERR_FORMAT, "%s: the audio file is empty", origin);
        return NULL;
    }
    pthread_once(&g_av_once, av_setup);
    dec d = {.origin = origin, .out_rate = sampling_rate, .limit = g_max_seconds * (sampling_rate > 0 ? sampling_rate : 1)};
    am_status s = run(&d, data, len);
    am_audio *a = NULL;
    if (s == AM_OK && (a = calloc(1, sizeof *a))) {
        float *shrunk = realloc(d.out, d.n * sizeof(float));
        a->samples = shrunk ? shrunk : d.out;
        a->n = d.n;
        a->rate = sampling_rate > 0 ? sampling_rate : d.in_rate;
        d.out = NULL;
    } else if (s == AM_OK) {
        am__error(AM_ERR_NO_MEMORY, "%s: out of memory", origin);
    }
    free(d.out);
    swr_free(&d.swr);
    avcodec_free_context(&d.cc);
    av_frame_free(&d.frame);
    av_packet_free(&d.pkt);
    av_channel_layout_uninit(&d.in_layout);
    return a;
}

am_audio *am_audio_load(const char *path, int sampling_rate) {
    if (!path) {
        am__error(AM_ERR_INVALID_ARGUMENT, "am_audio_load: path is NULL");
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    if (am__read_file(path, &buf, &len) != AM_OK) return NULL;
    am_audio *a = am_audio_decode(buf, len, sampling_rate, path);
    free(buf);
    return a;
}
