/* pipes_img - the image helper of the pipes tests (thumbnail, mandelbrot):
 * makes test images and reads the tools' outputs, both with libgd, so the
 * tests check decoded pictures rather than bytes.
 *
 *   pipes_img make FILE W H     a W x H picture (a color gradient with a
 *                               dark diagonal), JPEG or PNG by FILE's
 *                               extension (.jpg/.jpeg or .png)
 *   pipes_img size FILE         prints "FORMAT W H" (FORMAT jpeg or png,
 *                               from the file's first bytes); exit 1 when
 *                               it does not decode
 *   pipes_img pixel FILE X Y    prints "R G B" of the pixel at X, Y
 *   pipes_img gray FILE         prints every pixel's gray level, a line a
 *                               row; -1 for a pixel that is not gray
 *
 * It runs nothing itself; the Python tests run it and the tools.
 */
#include <gd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static gdImagePtr
load(const char *path, const char **format)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  unsigned char m[8] = {0};
  size_t got = fread(m, 1, sizeof m, f);
  rewind(f);
  gdImagePtr im = NULL;
  if (got >= 3 && m[0] == 0xff && m[1] == 0xd8 && m[2] == 0xff) {
    *format = "jpeg";
    im = gdImageCreateFromJpegEx(f, 0);
  } else if (got == 8 && memcmp(m, "\x89PNG\r\n\x1a\n", 8) == 0) {
    *format = "png";
    im = gdImageCreateFromPng(f);
  }
  fclose(f);
  if (im == NULL) {
    fprintf(stderr, "%s: does not decode as JPEG or PNG\n", path);
    exit(1);
  }
  return im;
}

int
main(int argc, char **argv)
{
  if (argc == 5 && strcmp(argv[1], "make") == 0) {
    int w = atoi(argv[3]), h = atoi(argv[4]);
    gdImagePtr im = gdImageCreateTrueColor(w, h);
    if (im == NULL)
      return 1;
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int dark = abs(x * h - y * w) < (w > h ? w : h) * 2;
        gdImageSetPixel(
            im, x, y, dark ? gdTrueColor(20, 20, 20) : gdTrueColor(255 * x / w, 255 * y / h, 128));
      }
    const char *dot = strrchr(argv[2], '.');
    int len = 0;
    void *data = NULL;
    if (dot != NULL && strcasecmp(dot, ".png") == 0)
      data = gdImagePngPtr(im, &len);
    else
      data = gdImageJpegPtr(im, &len, 90);
    gdImageDestroy(im);
    FILE *f = fopen(argv[2], "wb");
    if (data == NULL || f == NULL || fwrite(data, 1, (size_t)len, f) != (size_t)len ||
        fclose(f) != 0) {
      perror(argv[2]);
      return 1;
    }
    gdFree(data);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "size") == 0) {
    const char *format;
    gdImagePtr im = load(argv[2], &format);
    printf("%s %d %d\n", format, gdImageSX(im), gdImageSY(im));
    gdImageDestroy(im);
    return 0;
  }
  if (argc == 5 && strcmp(argv[1], "pixel") == 0) {
    const char *format;
    gdImagePtr im = load(argv[2], &format);
    int c = gdImageGetTrueColorPixel(im, atoi(argv[3]), atoi(argv[4]));
    printf("%d %d %d\n", gdTrueColorGetRed(c), gdTrueColorGetGreen(c), gdTrueColorGetBlue(c));
    gdImageDestroy(im);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "gray") == 0) {
    const char *format;
    gdImagePtr im = load(argv[2], &format);
    for (int y = 0; y < gdImageSY(im); y++)
      for (int x = 0; x < gdImageSX(im); x++) {
        int c = gdImageGetTrueColorPixel(im, x, y);
        int r = gdTrueColorGetRed(c), g = gdTrueColorGetGreen(c), b = gdTrueColorGetBlue(c);
        printf("%d%c", r == g && g == b ? r : -1, x + 1 < gdImageSX(im) ? ' ' : '\n');
      }
    gdImageDestroy(im);
    return 0;
  }
  fprintf(stderr, "usage: pipes_img make FILE W H | size FILE | pixel FILE X Y | gray FILE\n");
  return 2;
}
