/*
 * speech_decode.c — audio input for recognition: any audio container ffmpeg's libavformat
 * knows among a whitelist (wav, flac, ogg, mp3, m4a, webm/mka, aiff, au, caf, w64, aac, wv),
 * decoded with libavcodec, down-mixed and resampled by libswresample to 16 kHz mono s16 and
 * handed to the caller in chunks, one decoded frame at a time, so memory stays bounded for
 * inputs of any length.
 *
 * The input comes from a file, a memory buffer (seekable custom I/O) or a read callback
 * (forward-only custom I/O). The container is recognised from the content, never from the
 * name: a WAV called x.mp3 decodes as WAV (the detected format is reported), while text or an
 * image called x.wav is refused with a message saying it is not audio. Demuxers outside the
 * whitelist are never probed, which also keeps the fuzzed surface to audio parsers. ffmpeg's
 * own log level is left to the application (the CLI silences it).
 */
#include "ai/speech_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#define DEMUXERS "wav,flac,ogg,mp3,mov,matroska,aiff,au,caf,w64,aac,wv"
#define IO_BUF 32768
#define MAX_BAD_PACKETS 100 /* a stream that fails this many packets in a row is corrupt */

typedef struct mem_src {
    const unsigned char *data;
    size_t len, pos;
} mem_src;

static int mem_read(void *opaque, uint8_t *buf, int cap) {
    mem_src *m = opaque;
    size_t left = m->len - m->pos, n = (size_t)cap < left ? (size_t)cap : left;
    if (n == 0)
        return AVERROR_EOF;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int)n;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence) {
    mem_src *m = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return (int64_t)m->len;
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)m->pos;
        break;
    case SEEK_END:
        base = (int64_t)m->len;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if (off > INT64_MAX - base || base + off < 0 || (uint64_t)(base + off) > m->len)
        return AVERROR(EINVAL);
    m->pos = (size_t)(base + off);
    return (int64_t)m->pos;
}

/* Files go through custom I/O too, so a path is never parsed as an ffmpeg URL. */
static int file_read(void *opaque, uint8_t *buf, int cap) {
    size_t n = fread(buf, 1, (size_t)cap, opaque);
    if (n == 0)
        return ferror((FILE *)opaque) ? AVERROR(EIO) : AVERROR_EOF;
    return (int)n;
}

static int64_t file_seek(void *opaque, int64_t off, int whence) {
    FILE *f = opaque;
    if ((whence & ~AVSEEK_FORCE) == AVSEEK_SIZE) {
        struct stat sb;
        return fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
    }
    if (fseeko(f, (off_t)off, whence & ~AVSEEK_FORCE) != 0)
        return AVERROR(errno);
    return (int64_t)ftello(f);
}

typedef struct cb_src {
    stepd_speech_read_fn rd;
    void *user;
} cb_src;

static int cb_read(void *opaque, uint8_t *buf, int cap) {
    cb_src *c = opaque;
    long n = c->rd(c->user, buf, (size_t)cap);
    if (n < 0)
        return AVERROR(EIO);
    return n == 0 ? AVERROR_EOF : (int)(n > cap ? cap : n);
}

static void short_format_name(const char *iname, char out[16]) {
    if (!out)
        return;
    if (!strncmp(iname, "mov", 3))
        iname = "m4a";
    size_t n = strcspn(iname, ",");
    if (n > 15)
        n = 15;
    memcpy(out, iname, n);
    out[n] = 0;
}

typedef struct decoder {
    AVFormatContext *fmt;
    AVCodecContext *cc;
    SwrContext *swr;
    AVPacket *pkt;
    AVFrame *frame;
    int16_t *out;
    int out_cap;
    int stream;
    stepd_speech_pcm_fn fn;
    void *user;
    size_t produced;
    int stopped;
    /* what the resampler was set up for: a decoder may change it mid-stream */
    int in_fmt, in_rate;
    AVChannelLayout in_layout;
} decoder;

/* (Re)configures the resampler for frames of this format, rate and layout. */
static int setup_swr(decoder *d, int fmt, int rate, const AVChannelLayout *layout) {
    if (rate <= 0 || rate > 768000 || layout->nb_channels <= 0 || layout->nb_channels > 64 ||
        !av_get_sample_fmt_name((enum AVSampleFormat)fmt))
        return AVERROR_INVALIDDATA;
    swr_free(&d->swr);
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    if (swr_alloc_set_opts2(&d->swr, &mono, AV_SAMPLE_FMT_S16, SPEECH_RATE,
                            (AVChannelLayout *)layout, /* only read */
                            (enum AVSampleFormat)fmt, rate, 0, NULL) < 0 ||
        swr_init(d->swr) < 0)
        return AVERROR(EINVAL);
    av_channel_layout_uninit(&d->in_layout);
    if (av_channel_layout_copy(&d->in_layout, layout) < 0)
        return AVERROR(ENOMEM);
    d->in_fmt = fmt;
    d->in_rate = rate;
    return 0;
}

/* Converts one decoded frame (or flushes the resampler when frame is NULL). */
static int emit_frame(decoder *d, const AVFrame *frame) {
    if (frame && (frame->nb_samples <= 0 || !frame->extended_data || !frame->extended_data[0]))
        return 0; /* nothing to convert */
    if (frame && (frame->format != d->in_fmt || frame->sample_rate != d->in_rate ||
                  av_channel_layout_compare(&frame->ch_layout, &d->in_layout))) {
        /* the stream changed its parameters: convert what follows from the new ones */
        int rc = setup_swr(d, frame->format, frame->sample_rate, &frame->ch_layout);
        if (rc < 0)
            return rc == AVERROR(ENOMEM) ? rc : 0; /* implausible frame: skip it */
    }
    int in = frame ? frame->nb_samples : 0;
    int cap = swr_get_out_samples(d->swr, in);
    if (cap < 0)
        return AVERROR(EINVAL);
    if (cap > d->out_cap) {
        int16_t *t = realloc(d->out, (size_t)cap * sizeof(int16_t) + 16);
        if (!t)
            return AVERROR(ENOMEM);
        d->out = t;
        d->out_cap = cap;
    }
    uint8_t *outp = (uint8_t *)d->out;
    int n =
        swr_convert(d->swr, &outp, cap, frame ? (const uint8_t **)frame->extended_data : NULL, in);
    if (n < 0)
        return n;
    if (n > 0) {
        d->produced += (size_t)n;
        if (d->fn(d->user, d->out, (size_t)n, SPEECH_RATE)) {
            d->stopped = 1;
            return AVERROR_EXIT;
        }
    }
    return 0;
}

static int drain(decoder *d) {
    int rc;
    while ((rc = avcodec_receive_frame(d->cc, d->frame)) >= 0) {
        rc = emit_frame(d, d->frame);
        av_frame_unref(d->frame);
        if (rc < 0)
            return rc;
    }
    return rc == AVERROR(EAGAIN) || rc == AVERROR_EOF ? 0 : rc;
}

static int decode_ctx(AVIOContext *io, const char *name, stepd_speech_pcm_fn fn, void *user,
                      char format[16], char **err) {
    char ebuf[AV_ERROR_MAX_STRING_SIZE];
    decoder d = {.fn = fn, .user = user, .stream = -1};
    int rc = 0, averr;
    if (format)
        format[0] = 0;
    d.fmt = avformat_alloc_context();
    if (!d.fmt)
        return speech_fail(err, STEP_ENOMEM, "out of memory");
    d.fmt->format_whitelist = av_strdup(DEMUXERS);
    d.fmt->pb = io;
    d.fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    if ((averr = avformat_open_input(&d.fmt, NULL, NULL, NULL)) < 0) {
        /* avformat_open_input frees the context on failure */
        if (averr == AVERROR_INVALIDDATA || averr == AVERROR_EOF || averr == AVERROR(EINVAL) ||
            averr == AVERROR_DEMUXER_NOT_FOUND)
            return speech_fail(err, STEP_EPARSE,
                               "%s is not an audio file in a supported format (wav, flac, ogg, "
                               "mp3, m4a, webm, aiff, au, caf, aac, wv), or it is corrupt",
                               name);
        return speech_fail(err, STEP_EIO, "cannot read %s: %s", name,
                           av_make_error_string(ebuf, sizeof(ebuf), averr));
    }
    short_format_name(d.fmt->iformat->name, format);
    if ((averr = avformat_find_stream_info(d.fmt, NULL)) < 0) {
        rc = speech_fail(err, STEP_EPARSE, "%s (%s) is corrupt: %s", name, d.fmt->iformat->name,
                         av_make_error_string(ebuf, sizeof(ebuf), averr));
        goto done;
    }
    const AVCodec *codec = NULL;
    d.stream = av_find_best_stream(d.fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (d.stream < 0 || !codec) {
        rc = speech_fail(err, STEP_EPARSE, "%s (%s) has no %saudio stream", name,
                         format ? format : "?", d.stream >= 0 ? "decodable " : "");
        goto done;
    }
    AVStream *st = d.fmt->streams[d.stream];
    if (!(d.cc = avcodec_alloc_context3(codec)) ||
        avcodec_parameters_to_context(d.cc, st->codecpar) < 0) {
        rc = speech_fail(err, STEP_ENOMEM, "out of memory");
        goto done;
    }
    d.cc->thread_count = 1;
    if ((averr = avcodec_open2(d.cc, codec, NULL)) < 0) {
        rc = speech_fail(err, STEP_EPARSE, "%s: cannot open the %s decoder: %s", name, codec->name,
                         av_make_error_string(ebuf, sizeof(ebuf), averr));
        goto done;
    }
    if (d.cc->sample_rate <= 0 || d.cc->sample_rate > 768000 || d.cc->ch_layout.nb_channels <= 0 ||
        d.cc->ch_layout.nb_channels > 64) {
        rc = speech_fail(err, STEP_EPARSE, "%s: implausible audio parameters (%d Hz, %d channels)",
                         name, d.cc->sample_rate, d.cc->ch_layout.nb_channels);
        goto done;
    }
    if (setup_swr(&d, d.cc->sample_fmt, d.cc->sample_rate, &d.cc->ch_layout) < 0) {
        rc = speech_fail(err, STEP_EPARSE, "%s: cannot convert %s audio at %d Hz to 16 kHz mono",
                         name, av_get_sample_fmt_name(d.cc->sample_fmt) ?: "?", d.cc->sample_rate);
        goto done;
    }
    if (!(d.pkt = av_packet_alloc()) || !(d.frame = av_frame_alloc())) {
        rc = speech_fail(err, STEP_ENOMEM, "out of memory");
        goto done;
    }
    int bad = 0, read_err = 0;
    while ((averr = av_read_frame(d.fmt, d.pkt)) >= 0) {
        if (d.pkt->stream_index == d.stream) {
            int s = avcodec_send_packet(d.cc, d.pkt);
            if (s < 0 && s != AVERROR(EAGAIN))
                bad++;
            else
                bad = 0;
            s = drain(&d);
            if (d.stopped || s == AVERROR(ENOMEM)) {
                av_packet_unref(d.pkt);
                break;
            }
            if (s < 0)
                bad++;
        }
        av_packet_unref(d.pkt);
        if (bad > MAX_BAD_PACKETS)
            break;
    }
    if (averr < 0 && averr != AVERROR_EOF)
        read_err = averr;
    if (!d.stopped && bad <= MAX_BAD_PACKETS) {
        avcodec_send_packet(d.cc, NULL);
        drain(&d);
        if (!d.stopped)
            emit_frame(&d, NULL);
    }
    if (d.stopped)
        rc = speech_fail(err, STEP_EFAILED, "decoding %s was stopped", name);
    else if (bad > MAX_BAD_PACKETS && d.produced == 0)
        rc = speech_fail(err, STEP_EPARSE, "%s (%s) is corrupt: no packet could be decoded", name,
                         format ? format : "?");
    else if (d.produced == 0 && read_err && read_err != AVERROR_INVALIDDATA)
        rc = speech_fail(err, STEP_EIO, "cannot read %s: %s", name,
                         av_make_error_string(ebuf, sizeof(ebuf), read_err));
    else if (d.produced == 0 && (read_err || bad))
        rc = speech_fail(err, STEP_EPARSE, "%s (%s) is corrupt or truncated: no audio decoded",
                         name, format ? format : "?");
    else if (d.produced == 0)
        rc = speech_fail(err, STEP_EPARSE, "%s (%s) contains no audio samples (is it truncated?)",
                         name, format ? format : "?");
done:
    av_frame_free(&d.frame);
    av_packet_free(&d.pkt);
    swr_free(&d.swr);
    av_channel_layout_uninit(&d.in_layout);
    avcodec_free_context(&d.cc);
    avformat_close_input(&d.fmt);
    free(d.out);
    return rc;
}

static int decode_custom(void *opaque, int (*rd)(void *, uint8_t *, int),
                         int64_t (*sk)(void *, int64_t, int), const char *name,
                         stepd_speech_pcm_fn fn, void *user, char format[16], char **err) {
    unsigned char *buf = av_malloc(IO_BUF);
    if (!buf)
        return speech_fail(err, STEP_ENOMEM, "out of memory");
    AVIOContext *io = avio_alloc_context(buf, IO_BUF, 0, opaque, rd, NULL, sk);
    if (!io) {
        av_free(buf);
        return speech_fail(err, STEP_ENOMEM, "out of memory");
    }
    if (!sk)
        io->seekable = 0;
    int rc = decode_ctx(io, name, fn, user, format, err);
    av_freep(&io->buffer);
    avio_context_free(&io);
    return rc;
}

int stepd_speech_decode_mem(const void *data, size_t len, const char *name, stepd_speech_pcm_fn fn,
                            void *user, char format[16], char **err) {
    if (err)
        *err = NULL;
    if (format)
        format[0] = 0;
    if (!name)
        name = "the audio";
    if (!fn || (!data && len))
        return speech_fail(err, STEP_EINVAL, "no audio data or callback");
    if (len == 0)
        return speech_fail(err, STEP_EPARSE, "%s is empty (0 bytes)", name);
    mem_src m = {data, len, 0};
    return decode_custom(&m, mem_read, mem_seek, name, fn, user, format, err);
}

int stepd_speech_decode_io(stepd_speech_read_fn rd, void *rd_user, const char *name,
                           stepd_speech_pcm_fn fn, void *user, char format[16], char **err) {
    if (err)
        *err = NULL;
    if (format)
        format[0] = 0;
    if (!name)
        name = "the audio stream";
    if (!fn || !rd)
        return speech_fail(err, STEP_EINVAL, "no reader or callback");
    cb_src c = {rd, rd_user};
    return decode_custom(&c, cb_read, NULL, name, fn, user, format, err);
}

int stepd_speech_decode_file(const char *path, stepd_speech_pcm_fn fn, void *user, char format[16],
                             char **err) {
    if (err)
        *err = NULL;
    if (format)
        format[0] = 0;
    if (!path || !fn)
        return speech_fail(err, STEP_EINVAL, "no path or callback");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return speech_fail(err, errno == ENOENT ? STEP_ENOTFOUND : STEP_EIO, "cannot open %s: %s",
                           path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return speech_fail(err, STEP_EINVAL, "%s is a directory, not an audio file", path);
    if (S_ISREG(sb.st_mode) && sb.st_size == 0)
        return speech_fail(err, STEP_EPARSE, "%s is empty (0 bytes)", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return speech_fail(err, STEP_EIO, "cannot open %s: %s", path, strerror(errno));
    int rc = decode_custom(f, file_read, S_ISREG(sb.st_mode) ? file_seek : NULL, path, fn, user,
                           format, err);
    fclose(f);
    return rc;
}
