/*
 * The apko image configuration reader (recipes/apko.h): rpl_image_load
 * reads a path and looks an `include` up below the top file's directory
 * (apko's include path), so each input is written to image.apko.yaml in a
 * directory of the process's own that also holds two files to include
 * (base.yaml, and sub/mid.yaml which includes base.yaml, found beside the
 * image).  An image that loads is also normalised and described as
 * `ripple show` does.
 */
#include "tests/fuzz/fuzz.h"
#include "common/error.h"
#include "common/file.h"
#include "recipes/apko.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *image;

static void write_all(const char *path, const void *data, size_t size)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		rpl_fuzz_fail(__FILE__, __LINE__, "cannot create the input file");
	while (size) {
		ssize_t w = write(fd, p, size);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rpl_fuzz_fail(__FILE__, __LINE__, "cannot write the input file");
		p += w;
		size -= (size_t)w;
	}
	close(fd);
}

static void write_text(const char *dir, const char *rel, const char *text)
{
	char *path = rpl_path_join(dir, rel);

	write_all(path, text, strlen(text));
	free(path);
}

static void free_image_path(void)
{
	free(image);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = rpl_fuzz_tmpdir("apko");
	char *sub = rpl_path_join(dir, "sub");

	(void)argc;
	(void)argv;
	if (rpl_mkdirs(sub))
		rpl_fuzz_fail(__FILE__, __LINE__, "cannot make the include directory");
	free(sub);
	write_text(dir, "base.yaml",
	           "contents:\n  repositories: [https://example.com/os/]\n"
	           "  packages: [busybox, ca-certificates-bundle]\n"
	           "accounts:\n  users:\n    - username: nonroot\n      uid: 65532\n"
	           "environment:\n  PATH: /usr/bin\nannotations:\n  a: b\n");
	write_text(dir, "sub/mid.yaml",
	           "include: base.yaml\ncontents:\n  packages: [glibc]\narchs: [amd64]\n");
	image = rpl_path_join(dir, "image.apko.yaml");
	atexit(free_image_path);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *archs[RPL_APKO_NARCHS];
	struct rpl_image *img;

	write_all(image, data, size);
	img = rpl_image_load(image);
	if (img) {
		json_t *j;
		size_t n = rpl_apko_arch_normalise(&img->config.archs, archs);

		RPL_FUZZ_CHECK(n <= RPL_APKO_NARCHS, "more archs than apko knows");
		RPL_FUZZ_CHECK(img->ninputs >= 1, "an image without its own file among its inputs");
		j = rpl_image_to_json(img);
		RPL_FUZZ_CHECK(j != NULL, "rpl_image_to_json returned NULL");
		json_decref(j);
		rpl_image_free(img);
	}
	rpl_error_clear();
	return 0;
}
