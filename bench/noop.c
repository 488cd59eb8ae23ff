/* noop.c: the trivial static program every peer starts in the benchmarks. */
int main(void)
{
    return 0;
}
