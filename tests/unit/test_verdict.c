/* test_verdict.c: placeholder. */
int main(void) { return 0; }
