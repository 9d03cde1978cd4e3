/*
 * A main() for the fuzz harnesses in builds without libFuzzer (gcc, or clang
 * without RPL_FUZZ): runs LLVMFuzzerTestOneInput once on every file named on
 * the command line and on every file of every directory named, in sorted
 * order, so ctest replays the seed corpora under the normal and the
 * sanitizer builds.  Arguments starting with '-' are libFuzzer's options and
 * are ignored, so the same command line works with either driver.
 */
#include "tests/fuzz/fuzz.h"
#include "common/file.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
	char *buf, *copy;
	size_t len;

	if (rpl_read_file(path, &buf, &len)) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		return 1;
	}
	/* An exact-size copy, as libFuzzer passes it: no NUL after the end. */
	copy = malloc(len ? len : 1);
	if (!copy)
		abort();
	memcpy(copy, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput((const uint8_t *)copy, len);
	free(copy);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int err = 0;
	DIR *d = opendir(dir);

	if (!d) {
		fprintf(stderr, "replay: cannot open '%s'\n", dir);
		return 1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (!names)
			abort();
		names[n++] = rpl_path_join(dir, de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (!err && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			err = run_file(names[i]);
			(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return err;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int err = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc && !err; i++) {
		struct stat st;

		if (argv[i][0] == '-')
			continue;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: cannot stat '%s'\n", argv[i]);
			err = 1;
		} else if (S_ISDIR(st.st_mode)) {
			err = run_dir(argv[i], &count);
		} else {
			err = run_file(argv[i]);
			count++;
		}
	}
	printf("replay: %zu inputs\n", count);
	return err;
}
