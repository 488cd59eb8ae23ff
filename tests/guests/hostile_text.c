/*
 * hostile_text.c: a guest whose abort message attacks the terminal that
 * shows it: an escape sequence that clears the screen and turns text
 * red, a CR that would overwrite the line, a LF that would forge the
 * next one, and a C1 CSI. The toolstack must show it escaped.
 */
#include <lightvm/guest.h>
#include <stdio.h>

int main(void)
{
    printf("hostile_text: aborting\n");
    fflush(stdout);
    lvm_abort("pwned\x1b[2J\x1b[31mred\rover\nforged: \xc2\x9b"
              "0m");
}
