/* Where the runtime's ELF image ends: the squashfs payload is appended exactly there.
 *
 * Rule (the same as app/appimage_format.py and upstream AppImage tools): the largest of
 * the section header table end, the program header table end, every non-NOBITS section
 * end and every segment's file end.
 */
#define _GNU_SOURCE
#include "runtime.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_exact(int fd, void *buf, size_t len, uint64_t pos)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(pos + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

/* end = max(end, start + count * size), failing on overflow or past the end of the file. */
static int extend(uint64_t *end, uint64_t start, uint64_t count, uint64_t size, uint64_t file_size)
{
	if (count && size > (UINT64_MAX - start) / count)
		return -1;
	uint64_t stop = start + count * size;
	if (stop > file_size)
		return -1;
	if (stop > *end)
		*end = stop;
	return 0;
}

int elf_end_offset(int fd, uint64_t file_size, uint64_t *end, const char **why)
{
	Elf64_Ehdr eh;

	*end = 0;
	if (read_exact(fd, &eh, sizeof eh, 0) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
		*why = "not an ELF file";
		return -1;
	}
	/* The runtime only ever reads itself, an x86_64 (64-bit little-endian) executable. */
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		*why = "not a 64-bit little-endian ELF file";
		return -1;
	}
	if ((eh.e_phnum && eh.e_phentsize != sizeof(Elf64_Phdr)) ||
	    (eh.e_shnum && eh.e_shentsize != sizeof(Elf64_Shdr))) {
		*why = "unexpected ELF header sizes";
		return -1;
	}
	*why = "ELF headers point past the end of the file (truncated?)";
	if (extend(end, 0, 1, sizeof eh, file_size) != 0 ||
	    extend(end, eh.e_phoff, eh.e_phnum, sizeof(Elf64_Phdr), file_size) != 0 ||
	    extend(end, eh.e_shoff, eh.e_shnum, sizeof(Elf64_Shdr), file_size) != 0)
		return -1;

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (read_exact(fd, &ph, sizeof ph, eh.e_phoff + (uint64_t)i * sizeof ph) != 0 ||
		    extend(end, ph.p_offset, 1, ph.p_filesz, file_size) != 0)
			return -1;
	}
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		if (read_exact(fd, &sh, sizeof sh, eh.e_shoff + (uint64_t)i * sizeof sh) != 0)
			return -1;
		if (sh.sh_type != SHT_NOBITS && extend(end, sh.sh_offset, 1, sh.sh_size, file_size) != 0)
			return -1;
	}
	*why = NULL;
	return 0;
}

/* ---- glibc versions: what the payload needs, what the host's libc provides ------------------------------
 * The runtime is static, but the Python it starts is not: a libpython built on a newer system stops with the
 * loader's "version `GLIBC_2.34' not found". Both sides are read from ELF symbol versioning: the payload's
 * SHT_GNU_verneed entries ("GLIBC_2.N" it requires) and the host libc's SHT_GNU_verdef entries. */

static unsigned glibc_minor(const char *name)
{
	unsigned minor = 0;
	if (strncmp(name, "GLIBC_2.", 8) != 0)
		return 0;
	for (name += 8; *name >= '0' && *name <= '9'; name++)
		minor = minor * 10 + (unsigned)(*name - '0');
	return *name == '\0' || *name == '.' ? minor : 0;
}

/* The highest GLIBC_2.N minor in the file's verneed (defs = false) or verdef (defs = true) section; 0 when
 * there is none or the file is not a 64-bit ELF file. */
unsigned elf_glibc_minor(const char *path, bool defs)
{
	unsigned best = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL;
	char *table = NULL, *strings = NULL;
	if (read_exact(fd, &eh, sizeof eh, 0) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 ||
	    eh.e_shnum > 4096)
		goto done;
	sh = calloc(eh.e_shnum, sizeof *sh);
	if (sh == NULL || read_exact(fd, sh, eh.e_shnum * sizeof *sh, eh.e_shoff) != 0)
		goto done;
	Elf64_Word wanted = defs ? SHT_GNU_verdef : SHT_GNU_verneed;
	for (unsigned i = 0; i < eh.e_shnum && best == 0; i++) {
		if (sh[i].sh_type != wanted || sh[i].sh_link >= eh.e_shnum || sh[i].sh_size > (1u << 24))
			continue;
		Elf64_Shdr *str = &sh[sh[i].sh_link];
		if (str->sh_size == 0 || str->sh_size > (1u << 26))
			continue;
		free(table);
		free(strings);
		table = malloc(sh[i].sh_size);
		strings = malloc(str->sh_size + 1);
		if (table == NULL || strings == NULL || read_exact(fd, table, sh[i].sh_size, sh[i].sh_offset) != 0 ||
		    read_exact(fd, strings, str->sh_size, str->sh_offset) != 0)
			continue;
		strings[str->sh_size] = '\0';
		uint64_t at = 0;
		for (unsigned n = 0; n < 4096 && at + 16 <= sh[i].sh_size; n++) {
			uint64_t aux, next;
			if (defs) {
				Elf64_Verdef d;
				memcpy(&d, table + at, sizeof d);
				aux = at + d.vd_aux;
				if (aux + sizeof(Elf64_Verdaux) <= sh[i].sh_size) {
					Elf64_Verdaux a;
					memcpy(&a, table + aux, sizeof a);
					if (a.vda_name < str->sh_size) {
						unsigned m = glibc_minor(strings + a.vda_name);
						best = m > best ? m : best;
					}
				}
				next = d.vd_next;
			} else {
				Elf64_Verneed v;
				memcpy(&v, table + at, sizeof v);
				aux = at + v.vn_aux;
				for (unsigned k = 0; k < v.vn_cnt && aux + sizeof(Elf64_Vernaux) <= sh[i].sh_size; k++) {
					Elf64_Vernaux a;
					memcpy(&a, table + aux, sizeof a);
					if (a.vna_name < str->sh_size) {
						unsigned m = glibc_minor(strings + a.vna_name);
						best = m > best ? m : best;
					}
					if (a.vna_next == 0)
						break;
					aux += a.vna_next;
				}
				next = v.vn_next;
			}
			if (next == 0)
				break;
			at += next;
		}
	}
done:
	free(table);
	free(strings);
	free(sh);
	close(fd);
	return best;
}
