#include "imageproctest.h"

// libvips for the tests: started here (imageproc's bimg may not be linked), with its operation
// cache off and one worker a CPU, as imageproc runs it, so that a reference timed beside the
// pipeline runs under the same settings.
int ipt_start(int concurrency) {
	if (VIPS_INIT("imageproctest"))
		return -1;
	vips_cache_set_max(0);
	vips_cache_set_max_mem(0);
	vips_cache_set_max_files(0);
	vips_concurrency_set(concurrency);
	return 0;
}

// The full-size image through icc_transform alone (no shrink, resize or encode), the rendering
// the pipeline's colour is checked against.
int ipt_decode_reference(const void *buf, size_t len, const char *profile, int embedded, VipsImage **out) {
	VipsImage *in = NULL, *t = NULL;
	int r;
	if (!(in = vips_image_new_from_buffer(buf, len, "", NULL)))
		return -1;
	r = vips_icc_transform(in, &t, "srgb", "embedded", embedded, "input_profile", profile,
		"intent", VIPS_INTENT_PERCEPTUAL, "depth", 8, NULL);
	g_object_unref(in);
	if (r)
		return -1;
	*out = vips_image_copy_memory(t);
	g_object_unref(t);
	return *out ? 0 : -1;
}

// Device values as stored, no colour management, as doubles.
int ipt_decode_raw(const void *buf, size_t len, VipsImage **out) {
	VipsImage *in = NULL, *t = NULL;
	int r;
	if (!(in = vips_image_new_from_buffer(buf, len, "", NULL)))
		return -1;
	r = vips_cast(in, &t, VIPS_FORMAT_DOUBLE, NULL);
	g_object_unref(in);
	if (r)
		return -1;
	*out = vips_image_copy_memory(t);
	g_object_unref(t);
	return *out ? 0 : -1;
}

// Per-band means of the full-size image, as stored (transform=0) or rendered to sRGB through the
// embedded profile (transform=1), computed by libvips without copying pixels.
int ipt_band_means(const void *buf, size_t len, const char *profile, int transform, double *means, int n) {
	VipsImage *in = NULL, *t = NULL, *stats = NULL;
	int i, bands;
	if (!(in = vips_image_new_from_buffer(buf, len, "", NULL)))
		return -1;
	if (transform) {
		if (vips_icc_transform(in, &t, "srgb", "embedded", TRUE, "input_profile", profile,
			"intent", VIPS_INTENT_PERCEPTUAL, "depth", 8, NULL)) {
			g_object_unref(in);
			return -1;
		}
		g_object_unref(in);
		in = t;
	}
	if (vips_stats(in, &stats, NULL)) {
		g_object_unref(in);
		return -1;
	}
	bands = vips_image_get_bands(in);
	for (i = 0; i < n && i < bands; i++)
		means[i] = *VIPS_MATRIX(stats, 4, i + 1);
	g_object_unref(stats);
	g_object_unref(in);
	return 0;
}

// A smooth width×height RGB JPEG made by libvips in streaming fashion, for the large-image memory
// tests (a 100 MP file would take Go's encoder seconds and gigabytes).
int ipt_synth_jpeg(int width, int height, int progressive, void **buf, size_t *len) {
	VipsImage *s = NULL, *u = NULL, *c = NULL;
	VipsImage *bands[3];
	int r;
	if (vips_sines(&s, width, height, "hfreq", 3.0, "vfreq", 2.0, NULL))
		return -1;
	r = vips_linear1(s, &u, 120.0, 128.0, "uchar", TRUE, NULL);
	g_object_unref(s);
	if (r)
		return -1;
	bands[0] = u; bands[1] = u; bands[2] = u;
	r = vips_bandjoin(bands, &c, 3, NULL);
	g_object_unref(u);
	if (r)
		return -1;
	c->Type = VIPS_INTERPRETATION_sRGB;
	r = vips_jpegsave_buffer(c, buf, len, "Q", 85, "interlace", progressive, NULL);
	g_object_unref(c);
	return r;
}

// The reference the benchmarks compare against: libvips' own thumbnail operation on the same
// bytes, with the same size and crop, as vipsthumbnail would run it, flattened on white and
// encoded as the pipeline encodes (no metadata, optimised Huffman tables, baseline).
int ipt_thumbnail(const void *buf, size_t len, int size, int crop, int quality, void **out, size_t *outlen) {
	VipsImage *t = NULL, *f = NULL;
	int r;
	if (vips_thumbnail_buffer((void *) buf, len, &t, size,
			"height", size,
			"size", VIPS_SIZE_DOWN,
			"crop", crop,
			"export_profile", "srgb",
			"option_string", "fail_on=error",
			NULL))
		return -1;
	if (vips_image_hasalpha(t)) {
		// As imageproc flattens: on white at the image's own depth, then back to its format.
		VipsInterpretation interp = vips_image_get_interpretation(t);
		double max = (interp == VIPS_INTERPRETATION_RGB16 || interp == VIPS_INTERPRETATION_GREY16) ? 65535.0 : 255.0;
		VipsArrayDouble *white = vips_array_double_new(&max, 1);
		VipsImage *c = NULL;
		r = vips_flatten(t, &f, "background", white, "max_alpha", max, NULL);
		vips_area_unref(VIPS_AREA(white));
		if (!r) {
			r = vips_cast(f, &c, vips_image_get_format(t), NULL);
			g_object_unref(f);
		}
		g_object_unref(t);
		if (r)
			return -1;
		t = c;
	}
	r = vips_jpegsave_buffer(t, out, outlen, "Q", quality, "strip", TRUE, "optimize_coding", TRUE, "interlace", FALSE, NULL);
	g_object_unref(t);
	return r;
}

// w×h 8-bit pixels (bands 3: sRGB, or with cmyk 4: CMYK; 4 without it: sRGB and alpha) written
// as suffix says (".jpg[Q=90,strip]"). With profile set, sRGB pixels are first converted to that
// ICC profile file, which libvips then embeds unless the suffix says strip.
int ipt_encode(const void *pix, int w, int h, int bands, int cmyk, const char *profile, const char *suffix, void **buf, size_t *len) {
	VipsImage *img, *t = NULL;
	int r;
	img = vips_image_new_from_memory_copy(pix, (size_t) w * h * bands, w, h, bands, VIPS_FORMAT_UCHAR);
	if (!img)
		return -1;
	img->Type = cmyk ? VIPS_INTERPRETATION_CMYK : VIPS_INTERPRETATION_sRGB;
	if (profile) {
		r = vips_icc_transform(img, &t, profile, "input_profile", "srgb", "embedded", FALSE,
			"intent", VIPS_INTENT_RELATIVE, NULL);
		g_object_unref(img);
		if (r)
			return -1;
		img = t;
	}
	r = vips_image_write_to_buffer(img, suffix, buf, len, NULL);
	g_object_unref(img);
	return r;
}
