/* test_jsonptr.c: placeholder. */
int main(void) { return 0; }
