/* fuzz_introspect.c — hostile kernel images for the introspection readers: a BTF blob or a
 * vmlinux fragment as the input (the first byte chooses), parsed, then asked what the process
 * and module listings ask (structs, members through anonymous unions, sizes, pointer chains,
 * symbols). Either reader may refuse the input; neither may read outside it, loop forever or
 * answer with a member that lies outside its struct. */
#include <stdlib.h>
#include <string.h>

#include "introspect/btf.h"
#include "introspect/ksyms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_btf(const uint8_t *data, size_t size)
{
    static const char *const structs[] = {"task_struct", "module", "list_head", "cred", "kuid_t"};
    static const char *const members[] = {"tasks", "pid", "tgid", "real_parent", "comm", "__state",
                                          "cred",  "uid", "list", "name",        "next"};
    char why[128];
    /* a private copy of exactly `size` bytes, so any over-read is ASan's to report */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return;
    memcpy(copy, data, size);
    struct btf *b = btf_parse(copy, size, why, sizeof(why));
    if (b) {
        uint32_t n = btf_type_count(b);
        for (uint32_t id = 0; id <= n + 1 && id < 4096; id++) {
            (void)btf_type_size(b, id);
            (void)btf_resolve(b, id);
            (void)btf_is_ptr(b, id);
        }
        for (size_t s = 0; s < sizeof(structs) / sizeof(structs[0]); s++) {
            uint32_t sid = btf_find_struct(b, structs[s]);
            if (!sid) continue;
            uint64_t ssize = btf_type_size(b, sid);
            for (size_t m = 0; m < sizeof(members) / sizeof(members[0]); m++) {
                uint64_t off;
                uint32_t tid;
                if (btf_member(b, sid, members[m], &off, &tid) == 0 && ssize && off >= ssize)
                    abort(); /* a member past the end of its struct */
            }
        }
        btf_free(b);
    }
    free(copy);
}

static void fuzz_ksyms(const uint8_t *data, size_t size)
{
    char why[128];
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return;
    memcpy(copy, data, size);
    struct ksyms *k = ksyms_find(copy, size, why, sizeof(why));
    if (k) {
        static const char *const names[] = {"init_task", "modules", "entry_SYSCALL_64", "", "a"};
        uint64_t addrs[4];
        char types[4];
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            int got = ksyms_lookup(k, names[i], addrs, types, 4);
            if (got < 0 || got > 4) abort();
        }
        (void)ksyms_count(k);
        ksyms_free(k);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1)
        fuzz_ksyms(data + 1, size - 1);
    else
        fuzz_btf(data + 1, size - 1);
    return 0;
}
