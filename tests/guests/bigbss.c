/*
 * bigbss.c: a small file whose image needs 24 MiB of guest memory (a
 * large zeroed array): what a hostile member uses to make lightvmd load
 * a big template from a small file (tests/integration/test_tenant_quota.sh).
 */
char big[24 << 20]; /* not static: the compiler must keep all of it */

int main(int argc, char **argv)
{
    (void)argv;
    big[sizeof big - argc] = 1;
    return big[sizeof big - argc] - 1;
}
