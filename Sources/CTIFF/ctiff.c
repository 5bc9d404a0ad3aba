#include "ctiff.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tiffio.h>

/* Where libtiff's handlers put their messages for one open file. */
typedef struct {
    char error[512];
    char warning[200];
    int errors;
    int error_errno; /* errno when the first error was reported: a failed write's reason */
} ctiff_messages;

struct ctiff_reader {
    TIFF *tif;
    ctiff_messages messages;
    uint32_t width, height;
    int spp;            /* samples per pixel in the file */
    int colors;         /* 1 gray or 3 RGB */
    int alpha;          /* 0 none, 1 unassociated, 2 associated (premultiplied) */
    int bytes;          /* 1 or 2 per sample */
    int min_is_white;
    int tiled;
    uint32_t tile_width, tile_height;
};

static void set_message(char *err, size_t errlen, const char *message) {
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s", message);
    }
}

static int on_error(TIFF *tif, void *user_data, const char *module, const char *format,
                    va_list args) {
    (void)tif;
    (void)module;
    int reason = errno;
    ctiff_messages *messages = (ctiff_messages *)user_data;
    if (messages != NULL && messages->errors++ == 0) {
        vsnprintf(messages->error, sizeof messages->error, format, args);
        messages->error_errno = reason;
    }
    return 1; /* handled: libtiff's global handler (which prints) is not called */
}

static int on_warning(TIFF *tif, void *user_data, const char *module, const char *format,
                      va_list args) {
    (void)tif;
    (void)module;
    ctiff_messages *messages = (ctiff_messages *)user_data;
    if (messages != NULL && messages->warning[0] == '\0') {
        vsnprintf(messages->warning, sizeof messages->warning, format, args);
    }
    return 1;
}

/* The first error libtiff reported, with the system's reason when a read or write failed:
   libtiff's "Error writing TIFF header" does not say why, and a full disk must say so. */
static void describe_error(const ctiff_messages *messages, char *err, size_t errlen) {
    if (!messages->errors) {
        set_message(err, errlen, strerror(errno));
        return;
    }
    int reason = messages->error_errno;
    if (reason == ENOSPC || reason == EDQUOT || reason == EFBIG || reason == EIO) {
        snprintf(err, errlen, "%s: %s", messages->error, strerror(reason));
    } else {
        set_message(err, errlen, messages->error);
    }
}

/* Opens `path` with our handlers; libtiff's own open errors land in `messages`. */
static TIFF *open_tiff(const char *path, const char *mode, ctiff_messages *messages,
                       tmsize_t max_alloc, char *err, size_t errlen) {
    int fd = strchr(mode, 'w') ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open(path, O_RDONLY);
    if (fd < 0) {
        set_message(err, errlen, strerror(errno));
        return NULL;
    }
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (options == NULL) {
        close(fd);
        set_message(err, errlen, "out of memory");
        return NULL;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(options, on_error, messages);
    TIFFOpenOptionsSetWarningHandlerExtR(options, on_warning, messages);
    if (max_alloc > 0) {
        TIFFOpenOptionsSetMaxSingleMemAlloc(options, max_alloc);
    }
    TIFF *tif = TIFFFdOpenExt(fd, path, mode, options);
    TIFFOpenOptionsFree(options);
    if (tif == NULL) {
        close(fd);
        if (messages->errors) {
            describe_error(messages, err, errlen);
        } else {
            set_message(err, errlen, "not a TIFF file");
        }
    }
    return tif;
}

void ctiff_close(ctiff_reader *reader) {
    if (reader != NULL) {
        if (reader->tif != NULL) {
            TIFFClose(reader->tif);
        }
        free(reader);
    }
}

static int refuse(ctiff_reader *reader, int status, const char *message, char *err, size_t errlen) {
    set_message(err, errlen, message);
    ctiff_close(reader);
    return status;
}

/* Whether every strip or tile the image needs lies inside the file. */
static int data_inside_file(TIFF *tif, uint64_t file_size) {
    uint32_t count = TIFFNumberOfStrips(tif); /* tiles too, for a tiled file */
    for (uint32_t i = 0; i < count; i++) {
        int failed = 0;
        uint64_t offset = TIFFGetStrileOffsetWithErr(tif, i, &failed);
        uint64_t length = TIFFGetStrileByteCountWithErr(tif, i, &failed);
        if (failed || offset > file_size || length > file_size - offset) {
            return 0;
        }
    }
    return 1;
}

int ctiff_open(const char *path, uint64_t max_pixels, ctiff_reader **out, ctiff_info *info,
               char *err, size_t errlen) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    set_message(err, errlen, "");
    ctiff_reader *reader = calloc(1, sizeof *reader);
    if (reader == NULL) {
        set_message(err, errlen, "out of memory");
        return CTIFF_ERR_NOMEM;
    }
    struct stat file_info;
    if (stat(path, &file_info) != 0) {
        set_message(err, errlen, strerror(errno));
        free(reader);
        return CTIFF_ERR_OPEN;
    }
    /* libtiff writes the directory after the image data, so a cut file usually has a header
     * pointing past its end: say truncated rather than libtiff's "cannot read directory". */
    uint8_t header[16];
    int fd = open(path, O_RDONLY);
    ssize_t got = fd >= 0 ? pread(fd, header, sizeof header, 0) : -1;
    if (fd >= 0) close(fd);
    if (got >= 8 && (header[0] == 'I' || header[0] == 'M')) {
        int little = header[0] == 'I';
        unsigned version = little ? header[2] | header[3] << 8 : header[2] << 8 | header[3];
        uint64_t first = 0;
        int width = version == 43 ? 8 : 4, at = version == 43 ? 8 : 4;
        for (int i = 0; i < width && (version == 42 || got >= 16); i++) {
            int index = little ? at + width - 1 - i : at + i;
            first = first << 8 | header[index];
        }
        if ((version == 42 || (version == 43 && got >= 16)) && first >= (uint64_t)file_info.st_size) {
            free(reader);
            set_message(err, errlen, "file ends early (truncated)");
            return CTIFF_ERR_TRUNCATED;
        }
    }
    /* No single allocation beyond what an image within the limit can need: 16-bit RGBA rows
     * (8 bytes a pixel) plus room for tags and tables. */
    uint64_t cap = max_pixels > (UINT64_C(1) << 40) ? (UINT64_C(1) << 43) : max_pixels * 8;
    reader->tif = open_tiff(path, "rm", &reader->messages, (tmsize_t)(cap + (16u << 20)), err, errlen);
    if (reader->tif == NULL) {
        free(reader);
        return CTIFF_ERR_NOT_TIFF;
    }
    TIFF *tif = reader->tif;
    uint32_t width = 0, height = 0;
    uint16_t spp = 1, bps = 1, photometric = 0, sample_format = SAMPLEFORMAT_UINT;
    uint16_t planar = PLANARCONFIG_CONTIG, compression = COMPRESSION_NONE, orientation = ORIENTATION_TOPLEFT;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height);
    info->width = width;
    info->height = height;
    if (width == 0 || height == 0) {
        return refuse(reader, CTIFF_ERR_CORRUPT, "the image has no pixels (width or height 0)", err, errlen);
    }
    if ((uint64_t)width * height > max_pixels) {
        return refuse(reader, CTIFF_ERR_TOO_LARGE, "image too large", err, errlen);
    }
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &sample_format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orientation);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric)) {
        photometric = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    }
    char message[200];
    switch (photometric) {
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_MINISBLACK: reader->colors = 1; break;
    case PHOTOMETRIC_RGB: reader->colors = 3; break;
    case PHOTOMETRIC_YCBCR:
        if (compression == COMPRESSION_JPEG && bps == 8) {
            /* libtiff's JPEG codec converts to RGB itself */
            TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
            reader->colors = 3;
            break;
        }
        return refuse(reader, CTIFF_ERR_UNSUPPORTED, "YCbCr TIFF not stored as JPEG", err, errlen);
    case PHOTOMETRIC_SEPARATED:
        return refuse(reader, CTIFF_ERR_UNSUPPORTED, "CMYK (separated) TIFF", err, errlen);
    case PHOTOMETRIC_PALETTE:
        return refuse(reader, CTIFF_ERR_UNSUPPORTED, "palette (indexed) TIFF", err, errlen);
    default:
        snprintf(message, sizeof message, "TIFF with photometric interpretation %u", photometric);
        return refuse(reader, CTIFF_ERR_UNSUPPORTED, message, err, errlen);
    }
    if (sample_format != SAMPLEFORMAT_UINT) {
        snprintf(message, sizeof message, "%s TIFF samples",
                 sample_format == SAMPLEFORMAT_IEEEFP ? "floating-point" : "signed or complex");
        return refuse(reader, CTIFF_ERR_UNSUPPORTED, message, err, errlen);
    }
    if (bps != 8 && bps != 16) {
        snprintf(message, sizeof message, "%u-bit TIFF samples", bps);
        return refuse(reader, CTIFF_ERR_UNSUPPORTED, message, err, errlen);
    }
    if (spp < reader->colors || spp > 16) {
        snprintf(message, sizeof message, "%u samples per pixel for %s", spp,
                 reader->colors == 1 ? "gray" : "RGB");
        return refuse(reader, CTIFF_ERR_CORRUPT, message, err, errlen);
    }
    if (planar != PLANARCONFIG_CONTIG && spp > 1) {
        return refuse(reader, CTIFF_ERR_UNSUPPORTED, "planar (separate) sample layout", err, errlen);
    }
    if (spp > reader->colors) {
        uint16_t extra_count = 0;
        uint16_t *extra = NULL;
        if (TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &extra_count, &extra) && extra_count > 0) {
            reader->alpha = extra[0] == EXTRASAMPLE_ASSOCALPHA   ? 2
                            : extra[0] == EXTRASAMPLE_UNASSALPHA ? 1
                                                                 : 0;
        }
    }
    reader->width = width;
    reader->height = height;
    reader->spp = spp;
    reader->bytes = bps / 8;
    reader->min_is_white = photometric == PHOTOMETRIC_MINISWHITE;
    reader->tiled = TIFFIsTiled(tif);
    if (reader->tiled) {
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &reader->tile_width);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &reader->tile_height);
        if (reader->tile_width == 0 || reader->tile_height == 0) {
            return refuse(reader, CTIFF_ERR_CORRUPT, "tile size 0", err, errlen);
        }
    }
    if (!data_inside_file(tif, (uint64_t)file_info.st_size)) {
        return refuse(reader, CTIFF_ERR_TRUNCATED, "file ends early (truncated)", err, errlen);
    }
    uint32_t icc_length = 0;
    void *icc = NULL;
    if (TIFFGetField(tif, TIFFTAG_ICCPROFILE, &icc_length, &icc) && icc != NULL && icc_length > 0) {
        info->icc = (const uint8_t *)icc;
        info->icc_length = icc_length;
    }
    info->channels = reader->colors + (reader->alpha ? 1 : 0);
    info->bit_depth = bps;
    info->tiled = reader->tiled;
    info->orientation = orientation >= 1 && orientation <= 8 ? orientation : 1;
    /* An error libtiff recovered from while reading the directory (a tag cut off) is a warning. */
    const char *warning = reader->messages.warning[0] != '\0' || reader->messages.errors == 0
                              ? reader->messages.warning
                              : reader->messages.error;
    snprintf(info->warning, sizeof info->warning, "%s", warning);
    *out = reader;
    return CTIFF_OK;
}

/* One row of file samples (spp a pixel) to the delivered layout: colour channels (MinIsWhite
 * inverted) and alpha (premultiplied colours divided by it). */
static void pack_row(const ctiff_reader *reader, const uint8_t *source, uint8_t *packed) {
    int channels = reader->colors + (reader->alpha ? 1 : 0);
    uint32_t max = reader->bytes == 2 ? 65535u : 255u;
    for (uint32_t x = 0; x < reader->width; x++) {
        for (int c = 0; c < channels; c++) {
            size_t from = (size_t)x * reader->spp + c, to = (size_t)x * channels + c;
            uint32_t value = reader->bytes == 2 ? ((const uint16_t *)source)[from] : source[from];
            if (c < reader->colors && reader->min_is_white) {
                value = max - value;
            }
            if (c < reader->colors && reader->alpha == 2) {
                uint32_t alpha = reader->bytes == 2 ? ((const uint16_t *)source)[(size_t)x * reader->spp + reader->colors]
                                                    : source[(size_t)x * reader->spp + reader->colors];
                value = alpha == 0 ? 0 : (value >= alpha ? max : (value * max + alpha / 2) / alpha);
            }
            if (reader->bytes == 2) {
                ((uint16_t *)packed)[to] = (uint16_t)value;
            } else {
                packed[to] = (uint8_t)value;
            }
        }
    }
}

static int read_status(ctiff_reader *reader, char *err, size_t errlen) {
    const char *message = reader->messages.errors ? reader->messages.error : "read failed";
    set_message(err, errlen, message);
    return strstr(message, "Read error") || strstr(message, "end of") || strstr(message, "EOF")
               ? CTIFF_ERR_TRUNCATED
               : CTIFF_ERR_CORRUPT;
}

int ctiff_read_rows(ctiff_reader *reader, ctiff_row_fn row, void *context, char *err,
                    size_t errlen) {
    set_message(err, errlen, "");
    TIFF *tif = reader->tif;
    size_t file_row = (size_t)reader->width * reader->spp * reader->bytes;
    int channels = reader->colors + (reader->alpha ? 1 : 0);
    uint8_t *packed = malloc((size_t)reader->width * channels * reader->bytes);
    uint8_t *band = NULL, *tile = NULL;
    int status = CTIFF_OK;
    if (packed == NULL) {
        set_message(err, errlen, "out of memory");
        return CTIFF_ERR_NOMEM;
    }
    if (!reader->tiled) {
        band = malloc(file_row);
        for (uint32_t y = 0; band != NULL && y < reader->height; y++) {
            if (TIFFReadScanline(tif, band, y, 0) < 0) {
                status = read_status(reader, err, errlen);
                break;
            }
            pack_row(reader, band, packed);
            row(context, y, packed);
        }
    } else {
        /* One band of tile rows across the image at a time. */
        uint32_t tw = reader->tile_width, th = reader->tile_height;
        size_t tile_row = (size_t)tw * reader->spp * reader->bytes;
        tmsize_t tile_size = TIFFTileSize(tif);
        band = tile_size > 0 && (size_t)tile_size >= tile_row * th ? malloc(file_row * th) : NULL;
        tile = band != NULL ? malloc((size_t)tile_size) : NULL;
        for (uint32_t y0 = 0; tile != NULL && y0 < reader->height && status == CTIFF_OK; y0 += th) {
            for (uint32_t x0 = 0; x0 < reader->width; x0 += tw) {
                if (TIFFReadTile(tif, tile, x0, y0, 0, 0) < 0) {
                    status = read_status(reader, err, errlen);
                    break;
                }
                size_t columns = reader->width - x0 < tw ? reader->width - x0 : tw;
                size_t offset = (size_t)x0 * reader->spp * reader->bytes;
                for (uint32_t r = 0; r < th; r++) {
                    memcpy(band + r * file_row + offset, tile + r * tile_row,
                           columns * reader->spp * reader->bytes);
                }
            }
            for (uint32_t r = 0; status == CTIFF_OK && r < th && y0 + r < reader->height; r++) {
                pack_row(reader, band + r * file_row, packed);
                row(context, y0 + r, packed);
            }
        }
        if (status == CTIFF_OK && tile == NULL) {
            status = tile_size > 0 && (size_t)tile_size < tile_row * th ? CTIFF_ERR_CORRUPT : CTIFF_ERR_NOMEM;
            set_message(err, errlen, status == CTIFF_ERR_NOMEM ? "out of memory" : "inconsistent tile size");
        }
    }
    if (status == CTIFF_OK && band == NULL) {
        status = CTIFF_ERR_NOMEM;
        set_message(err, errlen, "out of memory");
    }
    free(tile);
    free(band);
    free(packed);
    return status;
}

static int finish_write(TIFF *tif, ctiff_messages *messages, int status, char *err, size_t errlen) {
    if (status == CTIFF_OK && !TIFFFlush(tif)) {
        status = CTIFF_ERR_WRITE;
    }
    TIFFClose(tif);
    if (status == CTIFF_OK && messages->errors) {
        status = CTIFF_ERR_WRITE;
    }
    if (status != CTIFF_OK) {
        describe_error(messages, err, errlen);
    }
    return status;
}

/* Opens `path` for writing with fresh messages. */
static TIFF *begin_write(const char *path, ctiff_messages *messages, char *err, size_t errlen) {
    memset(messages, 0, sizeof *messages);
    errno = 0; /* so an error's errno is one of this write's */
    return open_tiff(path, "w", messages, 0, err, errlen);
}

/* The tags every written file has: size, samples, layout, compression, colour profile. */
static void set_layout(TIFF *tif, uint32_t width, uint32_t height, int spp, int bits,
                       int photometric, int sample_format, int compression, const uint8_t *icc,
                       uint32_t icc_length) {
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, width);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, height);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, spp);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bits);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, sample_format);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, photometric);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, compression);
    if (icc != NULL && icc_length > 0) {
        TIFFSetField(tif, TIFFTAG_ICCPROFILE, icc_length, icc);
    }
}

int ctiff_write_rgb(const char *path, uint32_t width, uint32_t height, int bit_depth,
                    ctiff_fill_fn fill, void *context, const uint8_t *icc, uint32_t icc_length,
                    char *err, size_t errlen) {
    set_message(err, errlen, "");
    if (width == 0 || height == 0 || (bit_depth != 8 && bit_depth != 16) || fill == NULL) {
        set_message(err, errlen, "ctiff_write_rgb: size must be > 0 and bit depth 8 or 16");
        return CTIFF_ERR_ARGUMENT;
    }
    ctiff_messages messages;
    TIFF *tif = begin_write(path, &messages, err, errlen);
    if (tif == NULL) {
        return CTIFF_ERR_WRITE;
    }
    set_layout(tif, width, height, 3, bit_depth, PHOTOMETRIC_RGB, SAMPLEFORMAT_UINT,
               COMPRESSION_ADOBE_DEFLATE, icc, icc_length);
    TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT);
    TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
    int status = CTIFF_OK;
    void *row = malloc((size_t)width * 3 * (size_t)(bit_depth / 8));
    if (row == NULL) {
        status = CTIFF_ERR_NOMEM;
        snprintf(messages.error, sizeof messages.error, "out of memory");
        messages.errors++;
    }
    for (uint32_t y = 0; status == CTIFF_OK && y < height; y++) {
        fill(context, y, row);
        if (TIFFWriteScanline(tif, row, y, 0) < 0) {
            status = CTIFF_ERR_WRITE;
        }
    }
    free(row);
    return finish_write(tif, &messages, status, err, errlen);
}

int ctiff_write_raw(const char *path, uint32_t width, uint32_t height, int spp,
                    int bits_per_sample, int photometric, int sample_format, int deflate,
                    uint32_t rows_per_strip, uint32_t tile_width, uint32_t tile_height,
                    const void *samples, const uint8_t *icc, uint32_t icc_length, char *err,
                    size_t errlen) {
    set_message(err, errlen, "");
    if (width == 0 || height == 0 || spp < 1 || spp > 8 || bits_per_sample % 8 != 0 ||
        samples == NULL) {
        set_message(err, errlen, "ctiff_write_raw: bad arguments");
        return CTIFF_ERR_ARGUMENT;
    }
    ctiff_messages messages;
    TIFF *tif = begin_write(path, &messages, err, errlen);
    if (tif == NULL) {
        return CTIFF_ERR_WRITE;
    }
    int colors = photometric == PHOTOMETRIC_RGB ? 3 : photometric == PHOTOMETRIC_SEPARATED ? 4 : 1;
    set_layout(tif, width, height, spp, bits_per_sample, photometric, sample_format,
               deflate ? COMPRESSION_ADOBE_DEFLATE : COMPRESSION_NONE, icc, icc_length);
    if (spp > colors) {
        uint16_t extra[8] = {EXTRASAMPLE_UNASSALPHA};
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, spp - colors, extra);
    }
    size_t row_bytes = (size_t)width * spp * (bits_per_sample / 8);
    const uint8_t *data = (const uint8_t *)samples;
    int status = CTIFF_OK;
    if (tile_width > 0) {
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, tile_width);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, tile_height);
        size_t pixel = (size_t)spp * (bits_per_sample / 8);
        uint8_t *tile = calloc((size_t)tile_width * tile_height, pixel);
        for (uint32_t y0 = 0; tile != NULL && status == CTIFF_OK && y0 < height; y0 += tile_height) {
            for (uint32_t x0 = 0; status == CTIFF_OK && x0 < width; x0 += tile_width) {
                memset(tile, 0, (size_t)tile_width * tile_height * pixel);
                for (uint32_t r = 0; r < tile_height && y0 + r < height; r++) {
                    uint32_t columns = width - x0 < tile_width ? width - x0 : tile_width;
                    memcpy(tile + (size_t)r * tile_width * pixel,
                           data + (size_t)(y0 + r) * row_bytes + (size_t)x0 * pixel, columns * pixel);
                }
                if (TIFFWriteTile(tif, tile, x0, y0, 0, 0) < 0) {
                    status = CTIFF_ERR_WRITE;
                }
            }
        }
        status = tile == NULL ? CTIFF_ERR_NOMEM : status;
        free(tile);
    } else {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows_per_strip > 0 ? rows_per_strip : height);
        for (uint32_t y = 0; status == CTIFF_OK && y < height; y++) {
            if (TIFFWriteScanline(tif, (void *)(data + (size_t)y * row_bytes), y, 0) < 0) {
                status = CTIFF_ERR_WRITE;
            }
        }
    }
    return finish_write(tif, &messages, status, err, errlen);
}
