/* test_suite.c: placeholder. */
int main(void) { return 0; }
