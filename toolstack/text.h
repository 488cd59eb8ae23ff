/*
 * text.h: text that came from a guest or an API client, made safe to
 * print on a terminal or in a log line. A guest name, an image path or an
 * abort message can hold escape sequences, CR and LF; printed raw, they
 * could rewrite what an administrator sees or forge log lines.
 */
#ifndef LVM_TEXT_H
#define LVM_TEXT_H

#include <stddef.h>

/* Copy (s) into (buf) of (len) bytes (len >= 1), with every byte that
 * could steer a terminal written as \xNN: C0 controls (CR, LF, ESC...),
 * DEL, C1 controls (U+0080-U+009F), the bidirectional overrides
 * (U+202A-U+202E, U+2066-U+2069) and bytes that are not valid UTF-8 (a
 * lone 0x9b is CSI to a Latin-1 terminal). A backslash becomes \\, so
 * the result reads back unambiguously. Truncated to fit, never inside an
 * escape or a character. Returns (buf). */
const char *text_escape(const char *s, char *buf, size_t len);

/* The system call number in a guest SDK's abort message "forbidden
 * system call N" (guest/unserved.c: the SDK ended the guest for the
 * call), or -1 for any other text. N has no sign, no leading junk and fits
 * 31 bits (x86_64 and x32 numbers do). */
long text_forbidden_nr(const char *msg);

/* Buffer size that holds any escaped string of (n) bytes. */
#define TEXT_ESCAPED_MAX(n) (4 * (n) + 1)

#endif
