/* noop: the smallest guest; boots, and exits with status 0. */
int main(void)
{
    return 0;
}
