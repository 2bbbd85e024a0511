/* list.c - LIST's lines, in the `ls -l` format that FTP clients parse:
 *
 *   drwxr-xr-x    2 ftp      ftp          4096 Mar  1 12:34 name
 *   -rw-r--r--    1 ftp      ftp      10485760 Mar  1  2023 old
 *   lrwxrwxrwx    1 ftp      ftp             6 Mar  1 12:34 link -> target
 *
 * Owner and group are always "ftp" (the server does not reveal the
 * accounts of the machine it runs on). Times are UTC, as MDTM's; an entry
 * modified in the last six months (or up to an hour ahead) shows the time
 * of day, an older one the year, as ls does. Month names are fixed in
 * English, whatever the locale.
 */
#include "config.h"

#include "ftpd.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static char
type_char(mode_t m)
{
  if (S_ISDIR(m))
    return 'd';
  if (S_ISLNK(m))
    return 'l';
  if (S_ISCHR(m))
    return 'c';
  if (S_ISBLK(m))
    return 'b';
  if (S_ISFIFO(m))
    return 'p';
  if (S_ISSOCK(m))
    return 's';
  return '-';
}

static void
mode_string(mode_t m, char out[11])
{
  out[0] = type_char(m);
  const char *rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; i++)
    out[1 + i] = (m & (1u << (8 - i))) ? rwx[i] : '-';
  if (m & S_ISUID)
    out[3] = (m & S_IXUSR) ? 's' : 'S';
  if (m & S_ISGID)
    out[6] = (m & S_IXGRP) ? 's' : 'S';
  if (m & S_ISVTX)
    out[9] = (m & S_IXOTH) ? 't' : 'T';
  out[10] = '\0';
}

void
list_clean_name(char *dst, size_t n, const char *name)
{
  size_t i = 0;
  for (; name[i] != '\0' && i + 1 < n; i++) {
    unsigned char c = (unsigned char)name[i];
    dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
  }
  dst[i] = '\0';
}

size_t
list_line(char *buf, size_t n, const char *name, const struct stat *st, const char *target,
          time_t now)
{
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char mode[11];
  mode_string(st->st_mode, mode);
  struct tm tm;
  time_t t = st->st_mtime;
  gmtime_r(&t, &tm);
  char when[48];
  const time_t half_year = 182 * 24 * 3600;
  if (t > now - half_year && t < now + 3600)
    snprintf(when, sizeof when, "%s %2d %02d:%02d", months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
             tm.tm_min);
  else
    snprintf(when, sizeof when, "%s %2d  %4d", months[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900);
  char clean[NAME_MAX * 4 + 1], ctarget[PATH_MAX];
  list_clean_name(clean, sizeof clean, name);
  int k;
  if (target != NULL) {
    list_clean_name(ctarget, sizeof ctarget, target);
    k = snprintf(buf, n, "%s %4lu %-8s %-8s %8lld %s %s -> %s\r\n", mode,
                 (unsigned long)st->st_nlink, "ftp", "ftp", (long long)st->st_size, when, clean,
                 ctarget);
  } else {
    k = snprintf(buf, n, "%s %4lu %-8s %-8s %8lld %s %s\r\n", mode, (unsigned long)st->st_nlink,
                 "ftp", "ftp", (long long)st->st_size, when, clean);
  }
  if (k < 0 || (size_t)k >= n)
    return 0;
  return (size_t)k;
}
