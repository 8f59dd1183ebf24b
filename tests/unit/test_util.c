/* test_util.c: placeholder. */
int main(void) { return 0; }
