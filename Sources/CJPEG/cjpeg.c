#include "cjpeg.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* A progressive file may carry thousands of tiny scans that each cost a full pass over the
 * image; real encoders use about ten. Refusing more bounds the work an untrusted file can cause. */
#define CJPEG_MAX_SCANS 500

typedef struct {
    struct jpeg_error_mgr pub; /* first, so libjpeg's pointer is also ours */
    jmp_buf jump;
    int status;
    char *err;
    size_t errlen;
    char *warning;             /* first warning goes here, if not NULL */
    size_t warninglen;
} cjpeg_error;

static void set_message(char *err, size_t errlen, const char *message) {
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s", message);
    }
}

static int status_for(int msg_code) {
    switch (msg_code) {
    case JERR_NO_SOI:
    case JERR_INPUT_EMPTY: return CJPEG_ERR_NOT_JPEG;
    case JERR_INPUT_EOF: return CJPEG_ERR_TRUNCATED;
    case JERR_OUT_OF_MEMORY: return CJPEG_ERR_NOMEM;
    case JERR_FILE_WRITE: return CJPEG_ERR_WRITE;
    case JERR_CONVERSION_NOTIMPL:
    case JERR_BAD_PRECISION:      /* e.g. 12-bit medical JPEGs */
    case JERR_NOT_COMPILED: return CJPEG_ERR_UNSUPPORTED;
    default: return CJPEG_ERR_CORRUPT;
    }
}

static void fail(cjpeg_error *error, int status, const char *message) {
    error->status = status;
    set_message(error->err, error->errlen, message);
    longjmp(error->jump, 1);
}

static void on_error_exit(j_common_ptr cinfo) {
    int saved_errno = errno; /* of the fwrite or fflush that failed, for JERR_FILE_WRITE */
    cjpeg_error *error = (cjpeg_error *)cinfo->err;
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    if (error->pub.msg_code == JERR_INPUT_EMPTY) {
        snprintf(message, sizeof message, "file is empty");
    }
    /* libjpeg's own text only guesses ("out of disk space?"); the system's reason is exact */
    if (error->pub.msg_code == JERR_FILE_WRITE && saved_errno != 0) {
        snprintf(message, sizeof message, "%s", strerror(saved_errno));
    }
    fail(error, status_for(error->pub.msg_code), message);
}

static void on_emit_message(j_common_ptr cinfo, int level) {
    cjpeg_error *error = (cjpeg_error *)cinfo->err;
    if (level >= 0) {
        return; /* trace messages */
    }
    /* The stdio source pads a short file with a fake EOI and only warns; a truncated photo would
     * come back half grey. We call that an error. */
    if (error->pub.msg_code == JWRN_JPEG_EOF) {
        fail(error, CJPEG_ERR_TRUNCATED, "file ends early (truncated)");
    }
    /* Likewise when a marker cuts the image data short: libjpeg would fill the rest with grey, so
     * a 285-byte file declaring 8000x8000 pixels "decoded" into a 64-megapixel image. */
    if (error->pub.msg_code == JWRN_HIT_MARKER) {
        fail(error, CJPEG_ERR_CORRUPT, "the image data ends before the image does");
    }
    error->pub.num_warnings++;
    if (error->warning != NULL && error->warning[0] == '\0') {
        char message[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, message);
        set_message(error->warning, error->warninglen, message);
    }
}

static void on_output_message(j_common_ptr cinfo) {
    (void)cinfo; /* never print */
}

static void install_error_manager(cjpeg_error *error, char *err, size_t errlen) {
    memset(error, 0, sizeof *error);
    jpeg_std_error(&error->pub);
    error->pub.error_exit = on_error_exit;
    error->pub.emit_message = on_emit_message;
    error->pub.output_message = on_output_message;
    error->status = CJPEG_OK;
    error->err = err;
    error->errlen = errlen;
}

static void limit_scans(j_common_ptr cinfo) {
    if (cinfo->is_decompressor &&
        ((j_decompress_ptr)cinfo)->input_scan_number > CJPEG_MAX_SCANS) {
        fail((cjpeg_error *)cinfo->err, CJPEG_ERR_CORRUPT,
             "more than 500 progressive scans (corrupt or hostile file)");
    }
}

static uint32_t read16(const uint8_t *p, int little) {
    return little ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static uint32_t read32(const uint8_t *p, int little) {
    return little ? read16(p, 1) | read16(p + 2, 1) << 16 : read16(p, 0) << 16 | read16(p + 2, 0);
}

int cjpeg_exif_orientation(const uint8_t *data, size_t length) {
    static const uint8_t exif_header[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (data == NULL || length < 6 + 8 || memcmp(data, exif_header, 6) != 0) {
        return 0;
    }
    const uint8_t *tiff = data + 6;
    size_t size = length - 6;
    int little;
    if (tiff[0] == 'I' && tiff[1] == 'I') {
        little = 1;
    } else if (tiff[0] == 'M' && tiff[1] == 'M') {
        little = 0;
    } else {
        return 0;
    }
    if (read16(tiff + 2, little) != 42) {
        return 0;
    }
    uint32_t ifd = read32(tiff + 4, little);
    if (ifd > size || size - ifd < 2) {
        return 0;
    }
    uint32_t count = read16(tiff + ifd, little);
    const uint8_t *entry = tiff + ifd + 2;
    size_t available = (size - ifd - 2) / 12;
    for (uint32_t i = 0; i < count && i < available; i++, entry += 12) {
        uint32_t tag = read16(entry, little);
        uint32_t type = read16(entry + 2, little);
        uint32_t n = read32(entry + 4, little);
        if (tag == 0x0112 && type == 3 /* SHORT */ && n == 1) {
            uint32_t value = read16(entry + 8, little);
            return value >= 1 && value <= 8 ? (int)value : 0;
        }
    }
    return 0;
}

static int orientation_of(j_decompress_ptr cinfo) {
    for (jpeg_saved_marker_ptr marker = cinfo->marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker == JPEG_APP0 + 1) {
            int orientation = cjpeg_exif_orientation(marker->data, marker->data_length);
            if (orientation != 0) {
                return orientation;
            }
        }
    }
    return 0;
}

void cjpeg_free(cjpeg_image *image) {
    if (image != NULL) {
        free(image->pixels);
        image->pixels = NULL;
        free(image->icc);
        image->icc = NULL;
    }
}

/* One CMYK row (4 samples per pixel) to RGB, without a colour profile. Adobe applications store
 * CMYK inverted (0 = full ink); everyone else stores 255 = full ink. */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, uint32_t width, int inverted) {
    for (uint32_t x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        unsigned k = inverted ? cmyk[3] : 255u - cmyk[3];
        for (int c = 0; c < 3; c++) {
            unsigned v = inverted ? cmyk[c] : 255u - cmyk[c];
            rgb[c] = (uint8_t)((v * k + 127u) / 255u);
        }
    }
}

int cjpeg_read(const char *path, uint64_t max_pixels, cjpeg_image *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    set_message(err, errlen, "");
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        set_message(err, errlen, strerror(errno));
        return CJPEG_ERR_OPEN;
    }
    struct jpeg_decompress_struct cinfo;
    cjpeg_error error;
    struct jpeg_progress_mgr progress;
    memset(&cinfo, 0, sizeof cinfo);
    install_error_manager(&error, err, errlen);
    error.warning = out->warning;
    error.warninglen = sizeof out->warning;
    cinfo.err = &error.pub;
    /* Changed after setjmp and read after longjmp: must be volatile. */
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile cmyk_row = NULL;
    JOCTET *volatile icc = NULL;

    if (setjmp(error.jump)) {
        free(icc);
        free(cmyk_row);
        free(pixels);
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        return error.status == CJPEG_OK ? CJPEG_ERR_CORRUPT : error.status;
    }
    jpeg_create_decompress(&cinfo);
    progress.progress_monitor = limit_scans;
    cinfo.progress = &progress;
    jpeg_stdio_src(&cinfo, file);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 2, 0xFFFF); /* ICC_PROFILE chunks */
    jpeg_read_header(&cinfo, TRUE);

    out->width = cinfo.image_width;
    out->height = cinfo.image_height;
    if ((uint64_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        fail(&error, CJPEG_ERR_TOO_LARGE, "image too large");
    }
    out->orientation = orientation_of(&cinfo);
    /* The APP2 ICC_PROFILE chunks, reassembled in their sequence order by libjpeg-turbo; a bad or
     * missing chunk gives no profile and a warning. At most 255 chunks of 64 KB. */
    JOCTET *profile = NULL;
    unsigned int profile_length = 0;
    if (jpeg_read_icc_profile(&cinfo, &profile, &profile_length) && profile != NULL) {
        icc = profile;
        out->icc_length = profile_length;
    }
    out->progressive = jpeg_has_multiple_scans(&cinfo) ? 1 : 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        out->source = CJPEG_SOURCE_GRAY;
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_RGB:
    case JCS_YCbCr:
        out->source = CJPEG_SOURCE_RGB;
        cinfo.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        out->source = CJPEG_SOURCE_CMYK;
        out->adobe_inverted = cinfo.saw_Adobe_marker ? 1 : 0;
        cinfo.out_color_space = JCS_CMYK;
        break;
    default:
        fail(&error, CJPEG_ERR_UNSUPPORTED, "unknown JPEG colour space");
    }
    jpeg_start_decompress(&cinfo);

    uint32_t width = cinfo.output_width;
    uint32_t height = cinfo.output_height;
    int expected = out->source == CJPEG_SOURCE_CMYK ? 4 : 3;
    if (cinfo.output_components != expected) {
        fail(&error, CJPEG_ERR_UNSUPPORTED, "unexpected number of colour components");
    }
    uint64_t bytes = (uint64_t)width * height * 3;
    if (bytes > SIZE_MAX) {
        fail(&error, CJPEG_ERR_TOO_LARGE, "image too large for memory");
    }
    pixels = malloc((size_t)bytes > 0 ? (size_t)bytes : 1);
    if (expected == 4) {
        cmyk_row = malloc((size_t)width * 4);
    }
    if (pixels == NULL || (expected == 4 && cmyk_row == NULL)) {
        fail(&error, CJPEG_ERR_NOMEM, "out of memory");
    }
    while (cinfo.output_scanline < height) {
        uint8_t *row = pixels + (size_t)cinfo.output_scanline * width * 3;
        JSAMPROW target = expected == 4 ? cmyk_row : row;
        if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) {
            fail(&error, CJPEG_ERR_TRUNCATED, "file ends early (truncated)");
        }
        if (expected == 4) {
            cmyk_to_rgb(cmyk_row, row, width, out->adobe_inverted);
        }
    }
    /* All rows are in; a missing EOI marker after them does not matter, so no finish_decompress. */
    out->width = width;
    out->height = height;
    out->pixels = pixels;
    out->icc = icc;
    free(cmyk_row);
    jpeg_destroy_decompress(&cinfo);
    fclose(file);
    return CJPEG_OK;
}

/* The one JPEG writer; cjpeg_write and cjpeg_write_samples choose its settings. */
static int write_jpeg(const char *path, uint32_t width, uint32_t height, cjpeg_fill_fn fill,
                      void *fill_context, int components, J_COLOR_SPACE color_space, int quality,
                      int full_chroma, int progressive, int adobe_marker, const uint8_t *icc,
                      uint32_t icc_length, char *err, size_t errlen) {
    set_message(err, errlen, "");
    if (width == 0 || height == 0 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION ||
        fill == NULL || quality < 1 || quality > 100) {
        set_message(err, errlen, "JPEG size must be 1...65500 pixels a side and quality 1...100");
        return CJPEG_ERR_ARGUMENT;
    }
    FILE *file = fopen(path, "wb");
    if (file == NULL) {
        set_message(err, errlen, strerror(errno));
        return CJPEG_ERR_WRITE;
    }
    struct jpeg_compress_struct cinfo;
    cjpeg_error error;
    memset(&cinfo, 0, sizeof cinfo);
    install_error_manager(&error, err, errlen);
    cinfo.err = &error.pub;
    /* One row at a time from `fill`: no copy of the whole image. */
    JSAMPROW volatile row = malloc((size_t)width * components);
    if (row == NULL) {
        fclose(file);
        set_message(err, errlen, "out of memory");
        return CJPEG_ERR_NOMEM;
    }
    if (setjmp(error.jump)) {
        free(row);
        jpeg_destroy_compress(&cinfo);
        fclose(file);
        return error.status == CJPEG_OK ? CJPEG_ERR_WRITE : error.status;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, file);
    cinfo.image_width = width;
    cinfo.image_height = height;
    cinfo.input_components = components;
    cinfo.in_color_space = color_space;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    cinfo.optimize_coding = TRUE;
    cinfo.write_Adobe_marker = adobe_marker ? TRUE : FALSE;
    if (full_chroma) {
        for (int c = 0; c < cinfo.num_components; c++) {
            cinfo.comp_info[c].h_samp_factor = 1;
            cinfo.comp_info[c].v_samp_factor = 1;
        }
    }
    if (progressive) {
        jpeg_simple_progression(&cinfo);
    }
    jpeg_start_compress(&cinfo, TRUE);
    if (icc != NULL && icc_length > 0) {
        jpeg_write_icc_profile(&cinfo, icc, icc_length);
    }
    while (cinfo.next_scanline < height) {
        JSAMPROW current = row;
        fill(fill_context, cinfo.next_scanline, current);
        jpeg_write_scanlines(&cinfo, &current, 1);
    }
    jpeg_finish_compress(&cinfo);
    free(row);
    jpeg_destroy_compress(&cinfo);
    if (fclose(file) != 0) {
        set_message(err, errlen, strerror(errno));
        return CJPEG_ERR_WRITE;
    }
    return CJPEG_OK;
}

int cjpeg_write(const char *path, uint32_t width, uint32_t height, cjpeg_fill_fn fill,
                void *context, int quality, const uint8_t *icc, uint32_t icc_length, char *err,
                size_t errlen) {
    /* Full-resolution chroma at high quality: stylised images are full of fine colour texture. */
    return write_jpeg(path, width, height, fill, context, 3, JCS_RGB, quality, quality >= 90, 0, 0,
                      icc, icc_length, err, errlen);
}

typedef struct {
    const uint8_t *samples;
    size_t rowbytes;
} cjpeg_rows;

static void copy_row(void *context, uint32_t y, void *row) {
    const cjpeg_rows *rows = (const cjpeg_rows *)context;
    memcpy(row, rows->samples + (size_t)y * rows->rowbytes, rows->rowbytes);
}

int cjpeg_write_samples(const char *path, uint32_t width, uint32_t height, const uint8_t *samples,
                        int source, int progressive, int adobe_marker, int quality,
                        const uint8_t *icc, uint32_t icc_length, char *err, size_t errlen) {
    int components = source == CJPEG_SOURCE_RGB ? 3 : source == CJPEG_SOURCE_GRAY ? 1 : 4;
    J_COLOR_SPACE space = source == CJPEG_SOURCE_RGB    ? JCS_RGB
                          : source == CJPEG_SOURCE_GRAY ? JCS_GRAYSCALE
                                                        : JCS_CMYK;
    if (source != CJPEG_SOURCE_RGB && source != CJPEG_SOURCE_GRAY && source != CJPEG_SOURCE_CMYK) {
        set_message(err, errlen, "cjpeg_write_samples: unknown source kind");
        return CJPEG_ERR_ARGUMENT;
    }
    cjpeg_rows rows = {samples, (size_t)width * components};
    return write_jpeg(path, width, height, samples != NULL ? copy_row : NULL, &rows, components,
                      space, quality, 0, progressive, adobe_marker, icc, icc_length, err, errlen);
}
